"""Marshmallow schemas of the documents API."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from conveyor.api.common import Money

from .legal import legal_errors
from .models import KINDS, LANGUAGES

MAX_ID = 2147483647
LEGAL_TEXT = {
    "inn": "ИНН is 10 or 12 digits with valid check digits.",
    "kpp": "КПП is 9 characters: 4 digits, 2 digits or capital letters, 3 digits.",
    "kpp_person": "A 12-digit ИНН is a person's: they have no КПП.",
    "uscc": "The unified social credit code is 18 characters with a valid check character "
            "(GB 32100-2015).",
    "ru_only": "ИНН and КПП are for Russian companies: set country RU.",
    "cn_only": "The unified social credit code is for Chinese companies: set country CN.",
}


class TemplateSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    language = fields.String()
    name = fields.String()
    version = fields.Integer()
    builtin = fields.Boolean()
    sha256 = fields.String()


class LineSchema(Schema):
    kind = fields.String(validate=validate.OneOf(("product", "service")),
                         load_default="service")
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    quantity = fields.Decimal(required=True, as_string=True, places=None,
                              validate=validate.Range(min=0, max=10 ** 9,
                                                             min_inclusive=False))
    unit = fields.String(validate=validate.Length(max=20), load_default="")
    price = Money(required=True)
    vat_rate = fields.Decimal(as_string=True, load_default=0,
                              validate=validate.Range(min=0, max=100))
    net = Money(dump_only=True)
    vat = Money(dump_only=True)
    total = Money(dump_only=True)

    @validates_schema
    def _places(self, data: dict[str, Any], **kwargs: Any) -> None:
        quantity = data.get("quantity")
        if quantity is not None and quantity.as_tuple().exponent < -3:
            raise ValidationError("At most three decimal places.", "quantity")


class CreateDocumentSchema(Schema):
    kind = fields.String(validate=validate.OneOf(KINDS))
    language = fields.String(validate=validate.OneOf(LANGUAGES), metadata={
        "description": "Default: the signing contact's language, else another contact's, "
                       "else en."})
    template_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    lines = fields.List(fields.Nested(LineSchema), validate=validate.Length(min=1, max=100))

    @validates_schema
    def _kind_or_template(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "kind" not in data and "template_id" not in data:
            raise ValidationError("Give a kind or a template_id.", "kind")


class FilesSchema(Schema):
    docx = fields.String(allow_none=True)
    pdf = fields.String(allow_none=True)


class FileSchema(Schema):
    id = fields.Integer()
    version = fields.Integer()
    format = fields.String()
    sha256 = fields.String()
    size = fields.Integer()
    url = fields.String()
    created_at = fields.AwareDateTime()


class ApprovalStateSchema(Schema):
    id = fields.Integer()
    status = fields.String(metadata={"description": "pending, approved, changes_requested or "
                                                    "withdrawn"})
    version = fields.String(metadata={"description": "SHA-256 of the DOCX it was asked for"})
    current = fields.Boolean(metadata={"description": "it is for the newest file"})


class DocumentSchema(Schema):
    id = fields.Integer()
    deal_id = fields.Integer()
    customer_id = fields.Integer()
    template_id = fields.Integer(allow_none=True)
    number = fields.String()
    kind = fields.String()
    status = fields.String()
    language = fields.String()
    amount = Money(attribute="total")
    subtotal = Money()
    vat_total = Money()
    currency = fields.String()
    amount_in_words = fields.String()
    lines = fields.List(fields.Nested(LineSchema))
    files = fields.Nested(FilesSchema)
    version = fields.Integer()
    pdf_status = fields.String()
    pdf_message = fields.String()
    changes_requested = fields.Boolean()
    created_at = fields.AwareDateTime()
    finalized_at = fields.AwareDateTime(allow_none=True)
    sent_at = fields.AwareDateTime(allow_none=True)
    approval = fields.Nested(ApprovalStateSchema, allow_none=True, metadata={
        "description": "A contract's latest approval request (with the approvals plugin); "
                       "null otherwise."})


class DocumentListSchema(Schema):
    items = fields.List(fields.Nested(DocumentSchema))


class FileListSchema(Schema):
    items = fields.List(fields.Nested(FileSchema))


class LinesSchema(Schema):
    lines = fields.List(fields.Nested(LineSchema), required=True,
                        validate=validate.Length(min=1, max=100))


class StatusSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(
        ("finalize", "cancel", "request_changes", "convert")))
    note = fields.String(validate=validate.Length(max=2000), load_default="")


class SendSchema(Schema):
    to = fields.Email(required=True, validate=validate.Length(max=254))


class SendResultSchema(Schema):
    id = fields.Integer()
    document_id = fields.Integer()
    to = fields.String()
    status = fields.String()


class WordsQuerySchema(Schema):
    amount = fields.Decimal(required=True, validate=validate.Range(min=0, max=10 ** 15))
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z]{3}$"))
    language = fields.String(validate=validate.OneOf(LANGUAGES), load_default="en")


class WordsSchema(Schema):
    amount = fields.String()
    currency = fields.String()
    language = fields.String()
    words = fields.String()


class LegalSchema(Schema):
    customer_id = fields.Integer(dump_only=True)
    country = fields.String(validate=validate.OneOf(("", "RU", "CN")), load_default="",
                            metadata={"description": "RU, CN or empty (other: free ids)."})
    legal_name = fields.String(validate=validate.Length(max=300), load_default="")
    inn = fields.String(validate=validate.Length(max=12), load_default="")
    kpp = fields.String(validate=validate.Length(max=9), load_default="")
    uscc = fields.String(validate=validate.Length(max=18), load_default="")
    tax_id = fields.String(validate=validate.Length(max=40), load_default="")
    address = fields.String(validate=validate.Length(max=2000), load_default="")
    bank_name = fields.String(validate=validate.Length(max=300), load_default="")
    bank_account = fields.String(validate=validate.Length(max=40), load_default="")
    bank_code = fields.String(validate=validate.Length(max=20), load_default="")
    signatory_contact_id = fields.Integer(allow_none=True, load_default=None,
                                          validate=validate.Range(min=1, max=MAX_ID))

    @pre_load
    def _upper(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("kpp", "uscc", "country"):
                if isinstance(data.get(key), str):
                    data[key] = data[key].strip().upper()
        return data

    @validates_schema
    def _ids(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors = legal_errors(data)
        if errors:
            raise ValidationError({k: [LEGAL_TEXT[v]] for k, v in errors.items()})
