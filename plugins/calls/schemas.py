"""Marshmallow schemas of /api/v1/calls."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from conveyor.api.common import PageInfo, PageQuery

from .models import RESULTS
from .stats import PERIODS

MAX_ID = 2147483647


def _id(**kw: Any) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kw)


class CallSchema(Schema):
    id = fields.Integer(dump_only=True)
    customer_id = _id(allow_none=True, load_default=None)
    contact_id = _id(allow_none=True, load_default=None)
    queue_item_id = _id(allow_none=True, load_default=None, load_only=True)
    name = fields.String(validate=validate.Length(max=200), load_default="")
    company = fields.String(validate=validate.Length(max=200), load_default="")
    phone = fields.String(validate=[validate.Length(max=40),
                                    validate.Regexp(r"^[0-9+()\-. ]*$")], load_default="")
    email = fields.String(validate=[validate.Length(max=254),
                                    validate.Regexp(r"^([^@\s]+@[^@\s]+\.[^@\s]+)?$")],
                          load_default="")
    owner_id = fields.Integer(dump_only=True)
    result = fields.String(required=True, validate=validate.OneOf(RESULTS))
    call_back_at = fields.AwareDateTime(
        allow_none=True, load_default=None,
        metadata={"description": "With a time zone; required when result is call_back."})
    interested = fields.Boolean(load_default=False, metadata={
        "description": "Always true for result interested; may be set with call_back."})
    products = fields.List(fields.String(validate=validate.Length(min=1, max=100)),
                           validate=validate.Length(max=20), load_default=list)
    notes = fields.String(validate=validate.Length(max=5000), load_default="")
    lead_id = fields.Integer(dump_only=True, allow_none=True)
    created_at = fields.AwareDateTime(dump_only=True)

    @validates_schema
    def _call_back(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("result") == "call_back" and data.get("call_back_at") is None:
            raise ValidationError("Required when result is call_back.", "call_back_at")


class CallQuerySchema(PageQuery):
    owner_id = _id()
    result = fields.String(validate=validate.OneOf(RESULTS))
    customer_id = _id()
    start = fields.AwareDateTime(data_key="from", metadata={"description": "created_at >= from"})
    end = fields.AwareDateTime(data_key="to", metadata={"description": "created_at < to"})


class CallPageSchema(Schema):
    items = fields.List(fields.Nested(CallSchema), required=True)
    pagination = fields.Nested(PageInfo, required=True)


class CallStatsQuerySchema(Schema):
    period = fields.String(validate=validate.OneOf(PERIODS), load_default="week")
    start = fields.Date(data_key="from", metadata={"description": "First day (UTC), inclusive."})
    end = fields.Date(data_key="to", metadata={"description": "Last day (UTC), inclusive."})
    owner_id = _id()

    @validates_schema
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            raise ValidationError("The end is before the start.", "to")
        if start and end and (end - start).days > 3660:
            raise ValidationError("At most ten years.", "to")


class CallStatRowSchema(Schema):
    period = fields.String()
    owner_id = fields.Integer()
    calls = fields.Integer()
    interested = fields.Integer()
    leads = fields.Integer()
    no_answer = fields.Integer()
    call_back = fields.Integer()
    not_interested = fields.Integer()


class CallStatsSchema(Schema):
    period = fields.String()
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")
    rows = fields.List(fields.Nested(CallStatRowSchema))
