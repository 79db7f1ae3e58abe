"""API schemas (marshmallow): the OpenAPI document is generated from them."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from conveyor.api.common import PageInfo


class PaymentSchema(Schema):
    id = fields.Integer(dump_only=True)
    deal_id = fields.Integer(required=True, strict=True,
                             validate=validate.Range(min=1, max=2**31 - 1))
    amount = fields.Decimal(required=True, places=2, as_string=True,
                            validate=validate.Range(min=0, min_inclusive=False, max=10**12))
    currency = fields.String(dump_only=True)
    paid_on = fields.Date(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=200))
    created_at = fields.DateTime(dump_only=True)


class PaymentPageSchema(Schema):
    items = fields.List(fields.Nested(PaymentSchema))
    page = fields.Nested(PageInfo)
