"""WTForms of the calls screens; times typed in the company's time zone, stored in UTC."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp, ValidationError
from wtforms.widgets import HiddenInput

from conveyor.i18n import _l, lazy_pgettext

MAX_ID = 2147483647
PHONE = Regexp(r"^[0-9+()\-. ]*$", message=_l("Digits, spaces and + ( ) - only."))
EMAIL = Regexp(r"^([^@\s]+@[^@\s]+\.[^@\s]+)?$",
               message=_l("Enter an email address such as name@example.com."))
RESULT_LABELS = {"no_answer": _l("No answer"), "call_back": _l("Call back"),
                 "interested": _l("Interested"), "not_interested": _l("Not interested")}


def company_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["CONVEYOR"].get("default_timezone") or "UTC")


def to_utc(value: datetime | None) -> datetime | None:
    """A naive datetime typed in a form, read in the company's time zone."""
    if value is None:
        return None
    return value.replace(tzinfo=company_zone()).astimezone(UTC)


def to_local(value: datetime | None) -> datetime | None:
    """For prefilling a datetime-local input."""
    if value is None:
        return None
    return value.astimezone(company_zone()).replace(tzinfo=None)


def optional_int(value: Any) -> int | None:
    if value in (None, "", "None"):
        return None
    return int(value)


def hidden_id() -> IntegerField:
    return IntegerField(widget=HiddenInput(),
                        validators=[Optional(), NumberRange(min=1, max=MAX_ID)])


class CalleeFields(FlaskForm):
    customer_id = hidden_id()
    name = StringField(lazy_pgettext("person", "Name"), validators=[Optional(), Length(max=200)])
    company = StringField(_l("Company"), validators=[Optional(), Length(max=200)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40), PHONE])


class LogCallForm(CalleeFields):
    queue_item_id = hidden_id()
    contact_id = SelectField(_l("Contact"), coerce=optional_int, choices=[("", "—")],
                             validators=[Optional()])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254), EMAIL])
    result = SelectField(_l("Result"), choices=list(RESULT_LABELS.items()),
                         validators=[InputRequired()])
    call_back_at = DateTimeLocalField(_l("Call back at"), format="%Y-%m-%dT%H:%M",
                                      validators=[Optional()])
    interested = BooleanField(_l("Interested (with a call back)"))
    products = TextAreaField(_l("Products of interest"), validators=[Optional(), Length(max=2200)],
                             description=_l("One per line or separated by commas."))
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])

    def validate_call_back_at(self, field: DateTimeLocalField) -> None:
        if self.result.data == "call_back" and field.data is None and not field.errors:
            raise ValidationError(_l("Say when to call back."))

    def validate_interested(self, field: BooleanField) -> None:
        if field.data and self.result.data in ("no_answer", "not_interested"):
            raise ValidationError(_l("A call with this result cannot show interest."))


class QueueItemForm(CalleeFields):
    owner_id = SelectField(_l("Queue of"), coerce=int, validators=[Optional()])
    due_at = DateTimeLocalField(_l("Call at"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    priority = IntegerField(_l("Priority"), default=0,
                            validators=[Optional(), NumberRange(min=0, max=10)],
                            description=_l("0 to 10; higher is called first."))
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])


class StatsForm(FlaskForm):
    """Read from the query string: no CSRF (it changes nothing)."""

    class Meta:
        csrf = False

    period = SelectField(_l("Period"), choices=[("day", _l("Day")), ("week", _l("Week")),
                                                ("month", _l("Month"))], default="week")
    start = DateField(lazy_pgettext("date range", "From"), validators=[Optional()])
    end = DateField(lazy_pgettext("date range", "To"), validators=[Optional()])
    owner = SelectField(_l("Telemarketer"), coerce=optional_int, validators=[Optional()])

    def validate_end(self, field: DateField) -> None:
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError(_l("The end is before the start."))
        if field.data and self.start.data and (field.data - self.start.data).days > 3660:
            raise ValidationError(_l("Choose at most ten years."))


class HistoryForm(StatsForm):
    result = SelectField(_l("Result"), choices=[("", _l("All"))] + list(RESULT_LABELS.items()),
                         validators=[Optional()])
