"""Marshmallow schemas of /api/v1/activities. Times are read with their offset and written in
the reading user's time zone (ISO 8601 with offset)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_login import current_user
from marshmallow import Schema, ValidationError, fields, validate

from conveyor.api.common import PageInfo, PageQuery

from .models import STATUSES, VISIT_KINDS
from .zones import zone_of

MAX_ID = 2147483647


def _id(**kw: Any) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kw)


class LocalDateTime(fields.AwareDateTime):
    """An aware time, written in the signed-in user's zone (``2026-03-02T09:00:00+03:00``)."""

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return super()._serialize(value.astimezone(zone_of(current_user)), attr, obj, **kwargs)


class ActivityRecordSchema(Schema):
    id = fields.Integer(dump_only=True)
    kind = fields.String(required=True, validate=validate.Length(min=1, max=30), metadata={
        "description": "call, email, meeting, todo, visit, or a kind an admin added."})
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    notes = fields.String(validate=validate.Length(max=5000))
    due_at = LocalDateTime(required=True, metadata={
        "description": "ISO 8601 with an offset; written in your time zone."})
    duration_minutes = fields.Integer(validate=validate.Range(min=0, max=1440))
    assignee_id = _id(allow_none=True, metadata={"description": "Default: you."})
    creator_id = fields.Integer(dump_only=True, allow_none=True)
    status = fields.String(validate=validate.OneOf(STATUSES), metadata={
        "description": "planned (default), done or cancelled."})
    result = fields.String(validate=validate.Length(max=5000))
    deal_id = _id(allow_none=True)
    customer_id = _id(allow_none=True, metadata={"description": "Default: the deal's customer."})
    lead_id = _id(allow_none=True, metadata={"description": "Only with the leads plugin."})
    visit_kind = fields.String(allow_none=True, validate=validate.OneOf(VISIT_KINDS), metadata={
        "description": "FSI or FUA for a visit (default: FSI for a customer without a visit "
                       "held, else FUA); null for other kinds."})
    progress = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=100))
    reminder_minutes = fields.Integer(allow_none=True, validate=validate.Range(
        min=-1, max=10080), metadata={"description": "Minutes before; null: the default; "
                                                     "-1: no reminder."})
    done_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    series_id = fields.Integer(dump_only=True, allow_none=True)
    created_at = fields.AwareDateTime(dump_only=True)


class ActivityRecordPatchSchema(ActivityRecordSchema):
    """Any subset of the fields (used as ``ActivityRecordPatchSchema(partial=True)``)."""


class DoneSchema(Schema):
    result = fields.String(validate=validate.Length(max=5000), load_default="")
    progress = fields.Integer(allow_none=True, load_default=None,
                              validate=validate.Range(min=0, max=100))


class AssigneeField(fields.String):
    """``me`` or a user id."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        text = str(value).strip()
        if text == "me":
            return "me"
        if text.isdigit() and 0 < int(text) <= MAX_ID:
            return int(text)
        raise ValidationError("me or a user id.")


class ActivityQuerySchema(PageQuery):
    assignee = AssigneeField(metadata={"description": "me, or a user id."})
    due_before = fields.AwareDateTime(metadata={"description": "due_at < due_before"})
    due_after = fields.AwareDateTime(metadata={"description": "due_at >= due_after"})
    status = fields.String(validate=validate.OneOf(STATUSES))
    deal_id = _id()
    customer_id = _id()
    kind = fields.String(validate=validate.Length(min=1, max=30))


class ActivityPageSchema(Schema):
    items = fields.List(fields.Nested(ActivityRecordSchema), required=True)
    pagination = fields.Nested(PageInfo, required=True)
