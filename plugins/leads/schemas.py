"""Marshmallow schemas of /api/v1/leads and of the public capture endpoint's documentation."""
from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from conveyor.api.common import PageQuery, Text, page_schema, query_id, ref_id
from conveyor.models import COMPANY_SIZES

from .models import LIMITS, STATUSES

EMAIL = validate.Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                        error="Enter an email address such as name@example.com.")


class LeadSchema(Schema):
    id = fields.Integer(dump_only=True)
    company = fields.String()
    name = fields.String()
    email = fields.String()
    phone = fields.String()
    phone_e164 = fields.String(metadata={"description": "The phone in E.164, empty if invalid."})
    tax_id = fields.String()
    industry = fields.String()
    region = fields.String()
    size = fields.String()
    notes = fields.String()
    products = fields.String()
    source = fields.String()
    form_id = fields.Integer(allow_none=True)
    status = fields.String(metadata={"enum": list(STATUSES)})
    disqualify_reason = fields.String()
    owner_id = fields.Integer(allow_none=True, metadata={"description": "null: unassigned."})
    customer_id = fields.Integer(allow_none=True)
    contact_id = fields.Integer(allow_none=True)
    deal_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    assigned_at = fields.DateTime(allow_none=True)
    last_activity_at = fields.DateTime(allow_none=True, metadata={
        "description": "The current owner's last follow-up; null after a reassignment."})
    merged = fields.Boolean(dump_only=True, metadata={
        "description": "On create: true when the details matched an open lead and were added "
                       "to it (the answer is that lead)."})


LeadPageSchema = page_schema(LeadSchema, "LeadPage")


class Strict(Schema):
    class Meta:
        unknown = RAISE


def _text(key: str, **kwargs: Any) -> Text:
    return Text(validate=validate.Length(max=LIMITS[key]), **kwargs)


class LeadFields(Strict):
    company = _text("company")
    name = _text("name")
    email = Text(validate=[validate.Length(max=254), EMAIL])
    phone = _text("phone")
    tax_id = _text("tax_id")
    industry = _text("industry")
    region = _text("region")
    size = fields.String(validate=validate.OneOf(["", *COMPANY_SIZES]))
    notes = Text(validate=validate.Length(max=5000))
    products = _text("products")


class LeadCreateSchema(LeadFields):
    source = Text(validate=validate.Length(min=1, max=80), load_default="api")
    owner_id = ref_id(metadata={"description": "Assign to this user; omitted: the rules decide."})

    @validates_schema
    def _identity(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not any(data.get(k) for k in ("company", "name", "email", "phone")):
            raise ValidationError("Give at least a company, a name, an email or a phone.",
                                  "company")


class LeadPatchSchema(LeadFields):
    status = fields.String(validate=validate.OneOf(
        ["new", "in_progress", "qualified", "disqualified"]), metadata={
        "description": "new -> in_progress -> qualified | disqualified; use /convert to convert."})
    disqualify_reason = Text(validate=validate.Length(max=200))

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Send at least one field to change.")


class LeadQuerySchema(PageQuery):
    q = Text(validate=validate.Length(max=100), metadata={
        "description": "Search company, name, email; a phone number matches its E.164 form."})
    status = fields.String(validate=validate.OneOf(["open", *STATUSES]))
    source = Text(validate=validate.Length(max=80))
    owner_id = query_id()
    unassigned = fields.Boolean(metadata={"description": "Only leads without an owner."})


class AssignSchema(Strict):
    owner_id = ref_id(required=True, allow_none=True, metadata={
        "description": "The new owner; null makes the lead unassigned."})
    note = Text(validate=validate.Length(max=300), load_default="")


class ConvertSchema(Strict):
    deal_title = Text(validate=validate.Length(max=200), load_default="")


class ConversionSchema(Schema):
    lead = fields.Nested(LeadSchema)
    customer_id = fields.Integer()
    contact_id = fields.Integer(allow_none=True)
    deal_id = fields.Integer()


class ActivitySchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    note = fields.String()
    by_id = fields.Integer(allow_none=True)
    at = fields.DateTime()


class AssignmentSchema(Schema):
    id = fields.Integer()
    owner_id = fields.Integer(allow_none=True)
    previous_owner_id = fields.Integer(allow_none=True)
    reason = fields.String()
    detail = fields.String()
    by_id = fields.Integer(allow_none=True)
    at = fields.DateTime()


class LeadHistorySchema(Schema):
    assignments = fields.List(fields.Nested(AssignmentSchema))
    activities = fields.List(fields.Nested(ActivitySchema))


class PublicLeadSchema(Schema):
    """What a website posts to /public/leads/{form_key} (only the form's own fields count)."""

    company = fields.String(metadata={"maxLength": LIMITS["company"]})
    name = fields.String(metadata={"maxLength": LIMITS["name"]})
    email = fields.String(metadata={"format": "email"})
    phone = fields.String(metadata={"description": "With the country code, or in the default "
                                                   "region (setting leads.default_region)."})
    industry = fields.String()
    region = fields.String()
    size = fields.String(metadata={"enum": list(COMPANY_SIZES)})
    notes = fields.String()
    products = fields.String()
    website = fields.String(metadata={"description": "Honeypot: leave empty. A filled one is "
                                                     "answered like a success and dropped."})
