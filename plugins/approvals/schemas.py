"""Marshmallow schemas of /api/v1/approvals."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from conveyor.api.common import Text, query_id, ref_id

from .models import RULES, STATUSES


class StepSchema(Schema):
    action = fields.String()
    by_id = fields.Integer(allow_none=True)
    at = fields.DateTime()
    version = fields.String()
    comment = fields.String()


class ApprovalSchema(Schema):
    id = fields.Integer()
    resource = fields.String()
    record_id = fields.Integer()
    deal_id = fields.Integer(allow_none=True)
    version = fields.String(metadata={"description": "The record's version this request binds "
                                                     "to (a file's sha256, a deal's terms)."})
    title = fields.String()
    url = fields.String()
    note = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    requested_by_id = fields.Integer()
    rule = fields.String(metadata={"enum": list(RULES)})
    approver_role = fields.String(allow_none=True)
    approver_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    submitted_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    decided_by_id = fields.Integer(allow_none=True)
    history = fields.List(fields.Nested(StepSchema), dump_only=True)


class QueueRowSchema(Schema):
    id = fields.Integer()
    resource = fields.String()
    record_id = fields.Integer()
    deal_id = fields.Integer(allow_none=True)
    title = fields.String()
    url = fields.String()
    status = fields.String()
    version = fields.String()
    submitted_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    requester = fields.String(attribute="requester_username")


class PageSchema(Schema):
    page_size = fields.Integer()
    after = fields.Integer(allow_none=True)
    next_after = fields.Integer(allow_none=True, metadata={
        "description": "Pass as `after` for the next page; null on the last page."})


class ApprovalPageSchema(Schema):
    items = fields.List(fields.Nested(QueueRowSchema))
    pagination = fields.Nested(PageSchema)


class ApprovalQuerySchema(Schema):
    status = fields.String(load_default="pending", validate=validate.OneOf(STATUSES))
    mine = fields.Boolean(load_default=False, metadata={
        "description": "true: the requests you made. false (default): with status=pending the "
                       "requests waiting for you (oldest first), otherwise those you decided."})
    page_size = fields.Integer(validate=validate.Range(min=1, max=200), load_default=50)
    after = query_id(metadata={"description": "The last id of the previous page."})


class ApproverSchema(Schema):
    rule = fields.String(required=True, validate=validate.OneOf(RULES))
    role = Text(validate=validate.Length(min=1, max=40))
    user_id = ref_id()

    @validates_schema
    def _complete(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["rule"] == "role" and not data.get("role"):
            raise ValidationError("Name the role.", "role")
        if data["rule"] == "user" and not data.get("user_id"):
            raise ValidationError("Name the user.", "user_id")


class ApprovalCreateSchema(Schema):
    resource = fields.String(required=True, validate=validate.Length(min=1, max=60))
    record_id = ref_id(required=True)
    approver = fields.Nested(ApproverSchema, metadata={
        "description": "Default: the resource's usual approver."})
    note = Text(load_default="", validate=validate.Length(max=2000))


class CommentSchema(Schema):
    comment = Text(load_default="", validate=validate.Length(max=2000))


class ChangesSchema(Schema):
    comment = Text(required=True, validate=validate.Length(min=1, max=2000), metadata={
        "description": "What needs to change (required)."})
