"""The web page: payments you may see and a form to record one. Every view names its permission."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from conveyor import db, require
from conveyor.i18n import _
from conveyor.queries import written_limit

from .forms import PaymentForm
from .services import PaymentError, record_payment, visible_payments

bp = Blueprint("payments", __name__, template_folder="templates", url_prefix="/payments")


def _page(form: PaymentForm, status: int = 200) -> Any:
    payments = db.session.scalars(visible_payments(current_user).limit(written_limit(50))).all()
    return render_template("payments/index.html", payments=payments, form=form), status


@bp.get("/")
@require("payments.view")
def index() -> Any:
    return _page(PaymentForm())


@bp.post("/")
@require("payments.record")
def create() -> Any:
    form = PaymentForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    try:
        record_payment(form.deal_id.data, form.amount.data, form.paid_on.data,
                       form.note.data or "", current_user)
    except PaymentError as exc:
        db.session.rollback()
        getattr(form, exc.field).errors = [str(exc.message)]
        return _page(form, 400)
    db.session.commit()
    flash(_("The payment is recorded."), "success")
    return redirect(url_for(".index"))
