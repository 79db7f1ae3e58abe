"""Marshmallow schemas of /api/v1/groups."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from conveyor.api.common import PageInfo

from .models import KINDS, MODES

MAX_ID = 2147483647


def _id(**kw: object) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID),
                          **kw)  # type: ignore[arg-type]


class Day(fields.Date):
    """A date loaded from ISO text; saved filters keep it as that text, dumped as is."""

    def _serialize(self, value: object, attr: str | None, obj: object, **kwargs: object) -> object:
        if isinstance(value, str):
            return value
        return super()._serialize(value, attr, obj, **kwargs)  # type: ignore[arg-type]


class GroupFilterSchema(Schema):
    """A saved filter; every key optional, all given keys must match."""

    industry = fields.String(validate=validate.Length(max=80))
    region = fields.String(validate=validate.Length(max=80))
    size = fields.String(validate=validate.Length(max=20))
    owner_id = _id()
    has_open_deal = fields.Boolean(metadata={"description": "Customers only."})
    created_from = Day()
    created_to = Day()
    status = fields.String(validate=validate.Length(max=20),
                           metadata={"description": "Leads only."})
    source = fields.String(validate=validate.Length(max=80),
                           metadata={"description": "Leads only."})


class GroupSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(validate=validate.OneOf(KINDS), load_default="customers")
    mode = fields.String(validate=validate.OneOf(MODES), load_default="filter")
    filters = fields.Nested(GroupFilterSchema, load_default=dict)
    webhook_url = fields.String(validate=validate.Length(max=500), load_default="")
    created_by_id = fields.Integer(dump_only=True, allow_none=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)


class GroupPageSchema(Schema):
    items = fields.List(fields.Nested(GroupSchema), required=True)
    pagination = fields.Nested(PageInfo, required=True)


class GroupAddressSchema(Schema):
    email = fields.String()
    name = fields.String()
    phone = fields.String()
    unsubscribed = fields.Boolean()


class GroupMemberSchema(Schema):
    id = fields.Integer(metadata={"description": "The customer's or lead's id."})
    label = fields.String()
    region = fields.String()
    industry = fields.String()
    addresses = fields.List(fields.Nested(GroupAddressSchema))


class GroupMemberPageSchema(Schema):
    items = fields.List(fields.Nested(GroupMemberSchema), required=True)
    pagination = fields.Nested(PageInfo, required=True)


class GroupMemberAddSchema(Schema):
    id = _id(required=True, metadata={"description": "A customer's or lead's id."})


class GroupPushSchema(Schema):
    id = fields.Integer()
    group_id = fields.Integer()
    status = fields.String()
    sent = fields.Integer()
    batches = fields.Integer()
    error = fields.String()
    requested_at = fields.AwareDateTime()
    finished_at = fields.AwareDateTime(allow_none=True)


class UnsubscribeSchema(Schema):
    id = fields.Integer(dump_only=True)
    email = fields.String(allow_none=True, validate=validate.Length(max=254), load_default=None)
    phone = fields.String(allow_none=True, validate=validate.Length(max=40), load_default=None)
    reason = fields.String(validate=validate.Length(max=200), load_default="")
    at = fields.AwareDateTime(dump_only=True)


class UnsubscribePageSchema(Schema):
    items = fields.List(fields.Nested(UnsubscribeSchema), required=True)
    pagination = fields.Nested(PageInfo, required=True)
