"""/api/v1/exchange-rates: dated rates in units of the company currency (admins write them)."""
from __future__ import annotations

from datetime import date
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from ..extensions import db
from ..models import ExchangeRate
from ..money import RateError, company_currency, normalize_currency, set_rate
from ..permissions import login_required, require
from .common import acting_user, errors, saving

blp = Blueprint("api_exchange_rates", __name__, url_prefix="/api/v1",
                description="Exchange rates: units of the company currency per one unit of a "
                            "currency, per day; totals use the latest rate on or before a date.")
TAG = "exchange-rates"


class RateSchema(Schema):
    currency = fields.String(required=True, validate=validate.Length(min=3, max=3), metadata={
        "description": "ISO 4217 code; lower case is accepted and normalised."})
    date = fields.Date(required=True, attribute="day",
                       validate=validate.Range(min=date(1900, 1, 1), max=date(2999, 12, 31)))
    rate = fields.Decimal(required=True, as_string=True, places=10, metadata={
        "description": "Units of the company currency per one unit (a decimal string)."})
    company_currency = fields.Method("_company", dump_only=True)

    def _company(self, _: Any) -> str:
        return company_currency()


class RateQuerySchema(Schema):
    currency = fields.String(validate=validate.Length(min=3, max=3))


@blp.route("/exchange-rates", tags=[TAG])
class Rates(MethodView):
    @login_required
    @errors(401)
    @blp.arguments(RateQuerySchema, location="query")
    @blp.response(200, RateSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """The stored rates, newest day first (at most 500)."""
        query = select(ExchangeRate).order_by(ExchangeRate.day.desc(), ExchangeRate.currency)
        if "currency" in args:
            query = query.where(ExchangeRate.currency == args["currency"].upper())
        return list(db.session.scalars(query.limit(500)))

    @require("admin.rates")
    @errors(401, 403)
    @blp.arguments(RateSchema)
    @blp.response(201, RateSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Store a currency's rate on a day (replaces that day's rate)"""
        try:
            currency = normalize_currency(data["currency"])
            with saving():
                set_rate(currency, data["day"], data["rate"], acting_user())
        except RateError as exc:
            db.session.rollback()
            abort(422, errors={"json": {exc.field: [str(exc.message)]}})
        return db.session.scalar(select(ExchangeRate).where(
            ExchangeRate.currency == currency, ExchangeRate.day == data["day"]))
