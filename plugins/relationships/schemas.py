"""Marshmallow schemas of the relationships API."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .models import TYPES


class PeriodArgs(Schema):
    start = fields.Date(load_default=None, metadata={
        "description": "First day (UTC), inclusive; default: this month"})
    end = fields.Date(load_default=None, metadata={"description": "Last day (UTC), inclusive"})


class TransitionSchema(Schema):
    from_type = fields.String(allow_none=True, data_key="from")
    to_type = fields.String(data_key="to")
    at = fields.DateTime()
    cause = fields.String()
    by_id = fields.Integer(allow_none=True)
    owner_id = fields.Integer(allow_none=True)
    reason = fields.String()


class StateSchema(Schema):
    customer_id = fields.Integer()
    relationship_type = fields.String(validate=validate.OneOf(TYPES))
    computed_type = fields.String()
    since = fields.DateTime(allow_none=True)
    cause = fields.String()
    by_id = fields.Integer(allow_none=True)
    override = fields.Boolean()
    override_reason = fields.String()
    override_by_id = fields.Integer(allow_none=True)
    override_at = fields.DateTime(allow_none=True)
    history = fields.List(fields.Nested(TransitionSchema))


class OverrideArgs(Schema):
    type = fields.String(required=True, validate=validate.OneOf(TYPES))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class SellerCountsSchema(Schema):
    owner_id = fields.Integer(allow_none=True)
    owner = fields.String()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    total = fields.Integer()


class SummarySchema(Schema):
    types = fields.List(fields.String())
    sellers = fields.List(fields.Nested(SellerCountsSchema))
    totals = fields.Dict(keys=fields.String(), values=fields.Integer())


class MoveSchema(Schema):
    from_type = fields.String(data_key="from")
    to_type = fields.String(data_key="to")
    count = fields.Integer()


class SellerMovesSchema(Schema):
    owner_id = fields.Integer(allow_none=True)
    owner = fields.String()
    up = fields.Integer()
    down = fields.Integer()
    moves = fields.List(fields.Nested(MoveSchema))


class TransitionsReportSchema(Schema):
    start = fields.Date()
    end = fields.Date()
    sellers = fields.List(fields.Nested(SellerMovesSchema))
    up = fields.Integer()
    down = fields.Integer()


class ActivitiesReportSchema(Schema):
    start = fields.Date()
    end = fields.Date()
    available = fields.Boolean()
    message = fields.String()
    rows = fields.List(fields.Dict())


class WonTypeSchema(Schema):
    type = fields.String(validate=validate.OneOf(TYPES))
    count = fields.Integer(metadata={"description": "Won deals closed in the period"})
    amount = fields.Decimal(as_string=True, metadata={
        "description": "Their amounts in the company currency (``currency``), each at the rate "
                       "of its closing day; without the currencies in ``missing_currencies``"})
    amounts = fields.Dict(keys=fields.String(), values=fields.Decimal(as_string=True), metadata={
        "description": "The original amounts per currency"})
    missing_currencies = fields.List(fields.String(), metadata={
        "description": "Currencies with no exchange rate on a closing day: not in ``amount``"})


class WonReportSchema(Schema):
    start = fields.Date()
    end = fields.Date()
    currency = fields.String(metadata={"description": "The company currency"})
    count = fields.Integer()
    amount = fields.Decimal(as_string=True)
    amounts = fields.Dict(keys=fields.String(), values=fields.Decimal(as_string=True))
    missing_currencies = fields.List(fields.String())
    types = fields.List(fields.Nested(WonTypeSchema))
