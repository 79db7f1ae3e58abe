"""WTForms of the documents screens."""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DecimalField,
    FieldList,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from conveyor.i18n import _l, lazy_pgettext

from .legal import inn_valid, kpp_valid, uscc_valid

KIND_LABELS = {"contract": _l("Contract"), "invoice": _l("Invoice"),
               "act": _l("Acceptance certificate"), "offer": _l("Commercial offer")}
STATUS_LABELS = {"draft": _l("Draft"), "final": _l("Final"), "sent": _l("Sent"),
                 "cancelled": _l("Cancelled")}
LANGUAGE_LABELS = {"en": "English", "ru": "Русский", "zh": "中文"}
PDF_LABELS = {"pending": _l("PDF is being made…"), "ready": _l("PDF ready"),
              "unavailable": _l("PDF conversion is unavailable (no LibreOffice converter is "
                                "running); the DOCX is complete."),
              "failed": _l("PDF conversion failed; the DOCX is complete.")}
COUNTRY_CHOICES = [("", _l("Other")), ("RU", _l("Russia")), ("CN", _l("China"))]
MAX_ID = 2147483647


def _kind_choices() -> list[tuple[str, Any]]:
    return list(KIND_LABELS.items())


class GenerateForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=_kind_choices(), validators=[InputRequired()])
    language = SelectField(_l("Language"), choices=list(LANGUAGE_LABELS.items()),
                           validators=[InputRequired()])


def _positive(form: Any, field: Any) -> None:
    """A line of nothing is no line: zero is refused (NumberRange's bounds are inclusive)."""
    if field.data is not None and field.data <= 0:
        raise ValidationError(_l("Must be greater than zero."))


class LineForm(FlaskForm):
    class Meta:
        csrf = False

    # An empty spare row posts no type: anything but "product" counts as a service.
    kind = SelectField(_l("Type"), choices=[("service", _l("Service")),
                                            ("product", _l("Product"))], validate_choice=False)
    name = StringField(_l("Product or service"), validators=[Optional(), Length(max=300)])
    quantity = DecimalField(_l("Quantity"), places=3, validators=[
        Optional(), NumberRange(min=0, max=10 ** 9), _positive])
    unit = StringField(_l("Unit"), validators=[Optional(), Length(max=20)])
    price = DecimalField(_l("Price"), places=2, validators=[
        Optional(), NumberRange(min=0, max=10 ** 11)])
    vat_rate = DecimalField(_l("VAT rate"), places=2, validators=[
        Optional(), NumberRange(min=0, max=100)])

    def validate_name(self, field: Any) -> None:
        if (self.quantity.data is not None or self.price.data is not None) and not field.data:
            raise ValidationError(_l("Name the product or service."))


class LinesForm(FlaskForm):
    lines = FieldList(FormField(LineForm), min_entries=1, max_entries=100)

    def cleaned(self) -> list[dict[str, Any]]:
        out = []
        for entry in self.lines.entries:
            data = entry.form.data
            if not (data.get("name") or "").strip():
                continue
            out.append({"kind": "product" if data["kind"] == "product" else "service",
                        "name": data["name"].strip(),
                        "quantity": data["quantity"] if data["quantity"] is not None else 1,
                        "unit": data["unit"] or "", "price": data["price"] or 0,
                        "vat_rate": data["vat_rate"] or 0})
        return out


class EmailAddress:
    """The API's address check (marshmallow's): WTForms' own Email() needs the email_validator
    package, which is not installed (a 500), and the project's loose pattern lets ``<script>@x.y``
    through to a mail header."""

    def __init__(self, message: Any) -> None:
        self.message = message

    def __call__(self, form: Any, field: Any) -> None:
        from marshmallow import ValidationError as Invalid
        from marshmallow import validate as check

        if not field.data:
            return
        try:
            check.Email()(field.data.strip())
        except Invalid as exc:
            raise ValidationError(str(self.message)) from exc


class SendForm(FlaskForm):
    to = StringField(lazy_pgettext("e-mail", "To"), validators=[
        InputRequired(), Length(max=254), EmailAddress(_l("Enter an e-mail address."))])


class NoteForm(FlaskForm):
    note = TextAreaField(_l("What must change"), validators=[Optional(), Length(max=2000)])


class TemplateUploadForm(FlaskForm):
    name = StringField(lazy_pgettext("thing", "Name"),
                       validators=[InputRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=_kind_choices())
    language = SelectField(_l("Language"), choices=list(LANGUAGE_LABELS.items()))
    file = FileField(_l("Word file (.docx)"), validators=[FileRequired()])


class RevisionForm(FlaskForm):
    """A revised Word file of a draft (the lawyer's edits), kept as its next version."""

    file = FileField(_l("Revised Word file (.docx)"), validators=[FileRequired()])


class TemplateVersionForm(FlaskForm):
    file = FileField(_l("Word file (.docx)"), validators=[FileRequired()])


class PreviewForm(FlaskForm):
    class Meta:
        csrf = False

    deal_id = IntegerField(_l("Deal number"), validators=[
        InputRequired(), NumberRange(min=1, max=MAX_ID)])


class CompanyForm(FlaskForm):
    name = StringField(_l("Legal name"), validators=[Optional(), Length(max=300)])
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=2000)])
    tax_id = StringField(_l("Tax ID (ИНН, 统一社会信用代码, VAT number)"),
                         validators=[Optional(), Length(max=40)])
    kpp = StringField(_l("КПП"), validators=[Optional(), Length(max=9)])
    reg_number = StringField(_l("Registration number (ОГРН)"),
                             validators=[Optional(), Length(max=40)])
    bank_name = StringField(_l("Bank"), validators=[Optional(), Length(max=300)])
    bank_account = StringField(_l("Bank account"), validators=[Optional(), Length(max=40)])
    bank_code = StringField(_l("Bank code (БИК, SWIFT)"), validators=[Optional(), Length(max=20)])
    corr_account = StringField(_l("Correspondent account"),
                               validators=[Optional(), Length(max=40)])
    signatory_name = StringField(_l("Signatory"), validators=[Optional(), Length(max=200)])
    signatory_title = StringField(_l("Signatory's position"),
                                  validators=[Optional(), Length(max=200)])
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=254), EmailAddress(
        _l("Enter an email address such as name@example.com."))])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    logo = FileField(_l("Logo (PNG or JPEG, up to 1 MB)"))

    def validate_kpp(self, field: Any) -> None:
        if field.data and not kpp_valid(field.data):
            raise ValidationError(KPP_MESSAGE)


INN_MESSAGE = _l("ИНН is 10 or 12 digits with valid check digits.")
KPP_MESSAGE = _l("КПП is 9 characters: 4 digits, 2 digits or capital letters, 3 digits.")
USCC_MESSAGE = _l("The unified social credit code is 18 characters with a valid check "
                  "character (GB 32100-2015).")
LEGAL_MESSAGES = {"inn": INN_MESSAGE, "kpp": KPP_MESSAGE, "uscc": USCC_MESSAGE,
                  "kpp_person": _l("A 12-digit ИНН is a person's: they have no КПП."),
                  "ru_only": _l("ИНН and КПП are for Russian companies: choose Russia."),
                  "cn_only": _l("The unified social credit code is for Chinese companies: "
                                "choose China.")}


class LegalForm(FlaskForm):
    country = SelectField(_l("Country"), choices=COUNTRY_CHOICES)
    legal_name = StringField(_l("Legal name"), validators=[Optional(), Length(max=300)])
    inn = StringField(_l("ИНН"), validators=[Optional(), Regexp(r"^\d*$", message=INN_MESSAGE),
                                            Length(max=12)])
    kpp = StringField(_l("КПП"), validators=[Optional(), Length(max=9)])
    uscc = StringField(_l("Unified social credit code"), validators=[Optional(), Length(max=18)])
    tax_id = StringField(_l("Tax ID (other countries)"), validators=[Optional(), Length(max=40)])
    address = TextAreaField(_l("Legal address"), validators=[Optional(), Length(max=2000)])
    bank_name = StringField(_l("Bank"), validators=[Optional(), Length(max=300)])
    bank_account = StringField(_l("Bank account"), validators=[Optional(), Length(max=40)])
    bank_code = StringField(_l("Bank code (БИК, SWIFT)"), validators=[Optional(), Length(max=20)])
    signatory_contact_id = SelectField(_l("Who signs"), coerce=int, choices=[])

    def validate_inn(self, field: Any) -> None:
        if field.data and self.country.data == "RU" and not inn_valid(field.data):
            raise ValidationError(INN_MESSAGE)

    def validate_uscc(self, field: Any) -> None:
        if field.data and self.country.data == "CN" and not uscc_valid(field.data.upper()):
            raise ValidationError(USCC_MESSAGE)

# The services' messages (English, as the API gives them) in the reader's language on pages.
SERVICE_MESSAGES = {
    "No such active template.": _l("No such active template."),
    "Give a kind (contract, invoice, act, offer) or a template.":
        _l("Give a kind (contract, invoice, act, offer) or a template."),
    "Language must be one of en, ru, zh.": _l("Language must be one of en, ru, zh."),
    "No active template of this kind and language.":
        _l("No active template of this kind and language."),
    "The deal has no customer.": _l("The deal has no customer."),
    "Only a draft's lines can change.": _l("Only a draft's lines can change."),
    "A final document is not rendered again.": _l("A final document is not rendered again."),
    "The document's template is gone.": _l("The document's template is gone."),
    "Only a draft can be made final.": _l("Only a draft can be made final."),
    "Already cancelled.": _l("Already cancelled."),
    "A cancelled document can't be changed.": _l("A cancelled document can't be changed."),
    "Unknown action.": _l("Unknown action."),
    "Only a final document can be sent.": _l("Only a final document can be sent."),
    "The document has no file yet.": _l("The document has no file yet."),
    "The amount is too large.": _l("The amount is too large."),
    "A document needs at least one line.": _l("A document needs at least one line."),
    "A final document is not changed: send it back first.":
        _l("A final document is not changed: send it back first."),
}
