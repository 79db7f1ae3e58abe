"""Marshmallow schemas of the core API: one for output, one or two for input per resource.

Input schemas reject unknown fields (marshmallow's default ``RAISE``) and carry the same limits
as the model columns and the web forms, so the database never sees a value it would truncate
or refuse. Output schemas allow extra properties: plugins add fields through the
``api_extra_fields`` hook.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import current_app
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from ..models import COMPANY_SIZES
from .common import ExtensibleSchema, Money, PageQuery, Text, page_schema, query_id, ref_id

PHONE = validate.Regexp(r"^[0-9+()\-. ]*$", error="Digits, spaces and + ( ) - only.")


class Currency(fields.String):
    """An ISO 4217 code; ``"cny"`` is read as ``"CNY"``."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        from ..money import RateError, normalize_currency

        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalize_currency(text)
        except RateError as exc:
            raise ValidationError("Not an ISO 4217 currency code, e.g. USD.") from exc

SIZES = validate.OneOf(["", *COMPANY_SIZES])
DEAL_STATUSES = ("open", "won", "lost")


class Strict(Schema):
    """Input: an unknown field is an error (documented as ``additionalProperties: false``)."""

    class Meta:
        unknown = RAISE


class PatchSchema(Strict):
    """A partial update: every field optional, but an empty change is refused."""

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Send at least one field to change.")


# --- Customers and contacts -----------------------------------------------------------------


class CustomerSchema(ExtensibleSchema):
    resource = "customer"

    id = fields.Integer(dump_only=True)
    name = fields.String()
    industry = fields.String()
    region = fields.String()
    size = fields.String(metadata={"enum": ["", *COMPANY_SIZES]})
    tax_id = fields.String()
    address = fields.String()
    owner_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class CustomerFields(Strict):
    industry = Text(validate=validate.Length(max=80))
    region = Text(validate=validate.Length(max=80))
    size = fields.String(validate=SIZES)
    tax_id = Text(validate=validate.Length(max=40))
    address = Text(validate=validate.Length(max=1000))
    owner_id = ref_id(metadata={"description": "Yourself by default; a seller may only pick "
                                               "users whose records they may see."})


class CustomerCreateSchema(CustomerFields):
    name = Text(required=True, validate=validate.Length(min=1, max=200))


class CustomerPatchSchema(CustomerFields, PatchSchema):
    name = Text(validate=validate.Length(min=1, max=200))


class CustomerQuerySchema(PageQuery):
    q = Text(validate=validate.Length(max=100), metadata={
        "description": "Search in the name, the tax id and the contacts' names and emails."})
    industry = Text(validate=validate.Length(max=80))
    region = Text(validate=validate.Length(max=80))
    size = fields.String(validate=SIZES)
    owner_id = query_id()
    filter = fields.List(Text(validate=validate.Length(max=120)), metadata={
        "description": "Plugin list filters as `name:value`, repeatable, e.g. "
                       "`filter=relationship:current` (the filters enabled plugins register)."})


class ContactSchema(ExtensibleSchema):
    resource = "contact"

    id = fields.Integer(dump_only=True)
    customer_id = fields.Integer()
    name = fields.String()
    position = fields.String()
    phone = fields.String()
    email = fields.String()
    decision_maker = fields.Boolean()
    language = fields.String(metadata={"description": "The language the contact reads: one "
                                                      "of the app's languages, or \"\" (not known)."})
    created_at = fields.DateTime()


class LowerEmail(Text):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).lower()
        if text:
            validate.Email(error="Not a valid email address.")(text)
        return text


class ContactFields(Strict):
    position = Text(validate=validate.Length(max=120))
    phone = Text(validate=[validate.Length(max=40), PHONE])
    email = LowerEmail(validate=validate.Length(max=254))
    decision_maker = fields.Boolean()
    language = Text(validate=validate.Length(max=10), metadata={
        "description": "One of the app's languages (`en`, `ru`, `zh_Hans`), or \"\"."})

    @validates("language")
    def _known_language(self, value: str, **kwargs: Any) -> None:
        if value and value not in current_app.config["CONVEYOR"]["languages"]:
            raise ValidationError("Not one of this site's languages.")


class ContactCreateSchema(ContactFields):
    name = Text(required=True, validate=validate.Length(min=1, max=200))


class ContactPatchSchema(ContactFields, PatchSchema):
    name = Text(validate=validate.Length(min=1, max=200))


class ContactQuerySchema(PageQuery):
    q = Text(validate=validate.Length(max=100), metadata={"description": "Name or email."})
    decision_maker = fields.Boolean()


# --- Pipelines, stages, deals ---------------------------------------------------------------


class StageSchema(Schema):
    id = fields.Integer()
    pipeline_id = fields.Integer()
    name = fields.String()
    percent = fields.Integer()
    position = fields.Integer()
    is_won = fields.Boolean()
    is_lost = fields.Boolean()


class PipelineSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    is_default = fields.Boolean()
    stages = fields.List(fields.Nested(StageSchema))


class StageQuerySchema(Schema):
    pipeline_id = query_id()


class DealSchema(ExtensibleSchema):
    resource = "deal"

    id = fields.Integer(dump_only=True)
    customer_id = fields.Integer()
    owner_id = fields.Integer(allow_none=True)
    pipeline_id = fields.Integer()
    stage_id = fields.Integer()
    stage = fields.Nested(StageSchema, attribute="stage_info")  # the snapshot's: no statement
    status = fields.Method("_status", metadata={"type": "string", "enum": list(DEAL_STATUSES)})
    title = fields.String()
    amount = Money()
    margin = Money(minimum=Decimal("-999999999999.99"))
    currency = fields.String()
    expected_close = fields.Date(allow_none=True)
    lost_reason = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    stage_entered_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    version = fields.Integer(metadata={
        "description": "Send it back with PATCH (or as If-Match): a stale one is refused."})

    def _status(self, deal: Any) -> str:
        stage = deal.stage_info
        return "won" if stage.is_won else "lost" if stage.is_lost else "open"


class DealFields(Strict):
    margin = Money(minimum=Decimal("-999999999999.99"))
    currency = Currency(metadata={
        "description": "ISO 4217, lower case accepted. Default: the deployment's "
                       "default_currency."})
    expected_close = fields.Date(allow_none=True)
    owner_id = ref_id()


class DealCreateSchema(DealFields):
    customer_id = ref_id(required=True)
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    amount = Money(required=True)
    stage_id = ref_id(metadata={"description": "Default: the first stage of the default "
                                               "pipeline."})


class DealPatchSchema(DealFields, PatchSchema):
    customer_id = ref_id()
    title = Text(validate=validate.Length(min=1, max=200))
    amount = Money()
    version = fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1),
                             metadata={"description": "The version you read; or send If-Match."})


class StageMoveSchema(Strict):
    stage_id = ref_id(required=True)
    lost_reason = Text(load_default="", validate=validate.Length(max=200))
    version = fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1),
                             metadata={"description": "Optional: refuse the move if the deal "
                                                      "changed since this version."})


class DealQuerySchema(PageQuery):
    q = Text(validate=validate.Length(max=100), metadata={"description": "Search in the title."})
    customer_id = query_id()
    owner_id = query_id()
    stage_id = query_id()
    pipeline_id = query_id()
    status = fields.String(validate=validate.OneOf(DEAL_STATUSES))


class HistorySchema(Schema):
    id = fields.Integer()
    from_stage_id = fields.Integer(allow_none=True)
    to_stage_id = fields.Integer()
    at = fields.DateTime()
    by_id = fields.Integer(allow_none=True)


# --- Users ----------------------------------------------------------------------------------


class MeSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    email = fields.String(allow_none=True)
    locale = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    permissions = fields.List(fields.String())
    scope = fields.String(metadata={"enum": ["own", "team", "all"],
                                    "description": "Which records the user sees."})
    team_ids = fields.List(fields.Integer())


CustomerPageSchema = page_schema(CustomerSchema, "CustomerPage")
ContactPageSchema = page_schema(ContactSchema, "ContactPage")
DealPageSchema = page_schema(DealSchema, "DealPage")
