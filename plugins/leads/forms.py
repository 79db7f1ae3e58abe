"""WTForms of the leads screens: CSRF on every form, messages shown next to their field."""
from __future__ import annotations

import re
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from conveyor import setting
from conveyor.models import COMPANY_SIZES

from .models import FIELD_NAMES, LIMITS, STRATEGIES
from .normalize import normalize_phone
from .texts import _l, lazy_pgettext

EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
FIELD_LABELS = {
    "company": _l("Company"), "name": lazy_pgettext("person", "Name"), "email": _l("Email"),
    "phone": _l("Phone"),
    "industry": _l("Industry"), "region": _l("Region"), "size": _l("Company size"),
    "notes": _l("Notes"), "products": _l("Products of interest"),
}
STATUS_LABELS = {
    "new": _l("New"), "in_progress": _l("In progress"), "qualified": _l("Qualified"),
    "disqualified": _l("Disqualified"), "converted": _l("Converted"),
}
ACTIVITY_LABELS = {"note": _l("Note"), "call": _l("Call"),
                   "email": lazy_pgettext("activity type", "Email"), "meeting": _l("Meeting")}
# What the plugin itself records on a lead's activity list (never chosen in the form).
SYSTEM_ACTIVITY_LABELS = {"merged": _l("Repeat submission"), "converted": _l("Converted"),
                          "status": _l("Status changed")}
ASSIGNMENT_REASONS = {"rule": _l("by the rules"), "manual": _l("by hand"),
                      "stale": _l("not followed up in time"),
                      "sweep": _l("left unassigned")}
# Sources the plugins set themselves, and the usual codes an admin gives a form or a list: shown
# translated. Any other source is the admin's own text, shown as typed.
SOURCE_LABELS = {"call": _l("Phone call"), "website": _l("Website"),
                 "exhibition": _l("Exhibition"), "partner": _l("Partner"),
                 "referral": _l("Referral"), "email": _l("E-mail"), "import": _l("Import"),
                 "advertising": _l("Advertising"), "social": _l("Social media")}


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def valid_phone(form: Any, field: Any) -> None:
    if field.data and not normalize_phone(field.data, setting("leads.default_region")):
        raise ValidationError(_l("Enter a valid phone number, e.g. +7 495 123-45-67."))


def text(label: Any, key: str, *extra: Any) -> StringField:
    return StringField(label, validators=[Optional(), Length(max=LIMITS[key]), *extra])


class LeadForm(FlaskForm):
    company = text(FIELD_LABELS["company"], "company")
    name = text(FIELD_LABELS["name"], "name")
    email = text(FIELD_LABELS["email"], "email", Regexp(
        EMAIL_RE, message=_l("Enter an email address such as name@example.com.")))
    phone = text(FIELD_LABELS["phone"], "phone", valid_phone)
    tax_id = text(_l("Tax id"), "tax_id")
    industry = text(FIELD_LABELS["industry"], "industry")
    region = text(FIELD_LABELS["region"], "region")
    size = SelectField(FIELD_LABELS["size"], choices=[("", "—")] + [(s, s) for s in COMPANY_SIZES],
                       validators=[Optional()])
    products = text(FIELD_LABELS["products"], "products")
    notes = TextAreaField(FIELD_LABELS["notes"], validators=[Optional(), Length(max=5000)])
    source = StringField(_l("Source"), validators=[Optional(), Length(max=80)])

    def validate_company(self, field: Any) -> None:
        if not any((f.data or "").strip() for f in (self.company, self.name, self.email,
                                                     self.phone)):
            raise ValidationError(_l("Give at least a company, a name, an email or a phone."))


class StatusForm(FlaskForm):
    status = SelectField(_l("Status"), validators=[DataRequired()])
    disqualify_reason = StringField(_l("Reason (for disqualified)"),
                                    validators=[Optional(), Length(max=200)])


class ActivityForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=list(ACTIVITY_LABELS.items()),
                       validators=[DataRequired()])
    note = TextAreaField(_l("What happened"), validators=[DataRequired(), Length(max=5000)])


class AssignForm(FlaskForm):
    owner_id = SelectField(_l("Owner"), coerce=int, validators=[InputRequired()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=300)])


class ConvertForm(FlaskForm):
    deal_title = StringField(_l("Deal title"), validators=[Optional(), Length(max=200)])


class CaptureForm(FlaskForm):
    key = StringField(_l("Key (in the form's address)"), validators=[
        DataRequired(), Length(max=60),
        Regexp(r"^[a-z0-9][a-z0-9_-]*$", message=_l("Lower-case letters, digits, - and _."))])
    name = StringField(lazy_pgettext("thing", "Name"), validators=[DataRequired(), Length(max=120)])
    source = StringField(_l("Source name given to its leads"),
                         validators=[Optional(), Length(max=80)])
    fields = MultiCheckboxField(_l("Fields"), choices=[(k, v) for k, v in FIELD_LABELS.items()],
                                validators=[DataRequired()])
    required = MultiCheckboxField(_l("Required fields"),
                                  choices=[(k, v) for k, v in FIELD_LABELS.items()],
                                  validators=[Optional()])
    thank_you_url = StringField(_l("Thank-you page address"), validators=[
        Optional(), Length(max=500),
        Regexp(r"^https?://\S+$", message=_l("A full address starting with https://."))])
    allowed_origins = TextAreaField(_l("Allowed website origins, one per line"),
                                    validators=[Optional(), Length(max=4000)])
    rule_id = SelectField(_l("Assignment rule"), coerce=int, validators=[Optional()])
    active = BooleanField(_l("Accepting leads"), default=True)

    def validate_required(self, field: Any) -> None:
        extra = set(field.data or ()) - set(self.fields.data or ())
        if extra:
            raise ValidationError(_l("A required field must also be shown."))

    def validate_allowed_origins(self, field: Any) -> None:
        for line in origins_from_text(field.data or ""):
            if line != "*" and not re.fullmatch(r"https?://[^/\s]+", line):
                raise ValidationError(_l("Write origins like https://www.example.com, no path."))


def origins_from_text(raw: str) -> list[str]:
    return [line.strip().rstrip("/") for line in raw.splitlines() if line.strip()]


class RuleForm(FlaskForm):
    name = StringField(lazy_pgettext("thing", "Name"), validators=[DataRequired(), Length(max=120)])
    active = BooleanField(lazy_pgettext("rule", "Active"), default=True)
    position = IntegerField(_l("Priority (lower first)"), default=100,
                            validators=[InputRequired(), NumberRange(min=0, max=10000)])
    industry = StringField(_l("Industries (comma-separated, empty = any)"),
                           validators=[Optional(), Length(max=300)])
    region = StringField(_l("Regions (comma-separated, empty = any)"),
                         validators=[Optional(), Length(max=300)])
    size = StringField(_l("Company sizes (comma-separated, empty = any)"),
                       validators=[Optional(), Length(max=120)])
    source = StringField(_l("Sources (comma-separated, empty = any)"),
                         validators=[Optional(), Length(max=300)])
    hour_from = IntegerField(_l("From hour (local)"),
                             validators=[Optional(), NumberRange(min=0, max=23)])
    hour_to = IntegerField(_l("To hour (local, exclusive)"),
                           validators=[Optional(), NumberRange(min=0, max=24)])
    strategy = SelectField(_l("Strategy"), choices=[
        ("round_robin", _l("Round robin")), ("least_loaded", _l("Least loaded"))],
        validators=[DataRequired()])
    sellers = MultiCheckboxField(_l("Sellers"), coerce=int, validators=[DataRequired()])

    def validate_hour_to(self, field: Any) -> None:
        if (field.data is None) != (self.hour_from.data is None):
            raise ValidationError(_l("Give both hours, or neither."))

    def validate_strategy(self, field: Any) -> None:
        if field.data not in STRATEGIES:
            raise ValidationError(_l("Choose a strategy."))


ENCODINGS = [("auto", _l("Detect")), ("utf-8", "UTF-8"), ("cp1251", "Windows-1251"),
             ("gb18030", "GB18030 / GBK")]


class ImportForm(FlaskForm):
    source = StringField(_l("Source name"), validators=[DataRequired(), Length(max=80)])
    text = TextAreaField(_l("Paste a list (one lead per line)"),
                         validators=[Optional(), Length(max=5_000_000)])
    file = FileField(_l("Or upload a CSV file"))
    encoding = SelectField(_l("File encoding"), choices=ENCODINGS, default="auto")
    owner_mode = SelectField(_l("Owner"), choices=[
        ("rules", _l("By the assignment rules")), ("user", _l("One person")),
        ("none", _l("Leave unassigned"))], default="rules")
    owner_id = SelectField(_l("Person"), coerce=int, validators=[Optional()],
                           validate_choice=False)

    def validate_text(self, field: Any) -> None:
        if not (field.data or "").strip() and not self.file.data:
            raise ValidationError(_l("Paste a list or choose a file."))

    def validate_owner_id(self, field: Any) -> None:
        if self.owner_mode.data == "user" and not field.data:
            raise ValidationError(_l("Choose the person."))


__all__ = ["ActivityForm", "AssignForm", "CaptureForm", "ConvertForm", "FIELD_NAMES",
           "ImportForm", "LeadForm", "RuleForm", "StatusForm", "origins_from_text"]
