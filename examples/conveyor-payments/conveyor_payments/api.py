"""REST: /api/v1/payments — the blueprint's name starts with the plugin's."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint, abort

from conveyor import csrf, db, require
from conveyor.api.common import PageQuery, acting_user, keyset_page, saving

from .models import Payment
from .schemas import PaymentPageSchema, PaymentSchema
from .services import PaymentError, record_payment, visible_payments

blp = Blueprint("payments_api", __name__, url_prefix="/api/v1/payments",
                description="Money received on won deals.")
csrf.exempt(blp)  # bearer tokens, not cookies


@blp.route("/")
class Payments(MethodView):
    @require("payments.view")
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, PaymentPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Payments on the deals you may see, newest first."""
        return keyset_page(visible_payments(current_user).order_by(None), Payment.id, args)

    @require("payments.record")
    @blp.arguments(PaymentSchema)
    @blp.response(201, PaymentSchema)
    def post(self, data: dict[str, Any]) -> Payment:
        """Record a payment on a won deal you may see (404 otherwise), in the deal's currency."""
        try:
            with saving():
                return record_payment(data["deal_id"], data["amount"], data["paid_on"],
                                      data.get("note", ""), acting_user())
        except PaymentError as exc:
            db.session.rollback()
            abort(422, errors={"json": {exc.field: [str(exc.message)]}})
