"""WTForms of the activities screens. Times are typed in the user's own time zone."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from conveyor.i18n import _l, lazy_pgettext

from .models import FREQUENCIES, STATUSES

MAX_ID = 2147483647


def optional_int(value: object) -> int | None:
    if value in (None, "", "None"):
        return None
    return int(value)  # type: ignore[call-overload]


REMINDER_CHOICES = [("", _l("Default")), ("-1", _l("No reminder")), ("0", _l("At the time")),
                    ("5", _l("5 minutes before")), ("15", _l("15 minutes before")),
                    ("30", _l("30 minutes before")), ("60", _l("1 hour before")),
                    ("1440", _l("1 day before"))]
FREQUENCY_LABELS = {"": _l("Does not repeat"), "days": _l("Every N days"),
                    "weeks": _l("Every N weeks"), "weekdays": _l("Every weekday"),
                    "monthly": _l("Every N months, same day")}


class ActivityForm(FlaskForm):
    kind = SelectField(_l("Kind"), validators=[InputRequired()])
    title = StringField(_l("Title"), validators=[InputRequired(), Length(max=200)])
    due_at = DateTimeLocalField(_l("Due"), format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                validators=[InputRequired()])
    duration_minutes = IntegerField(_l("Duration, minutes"), default=30,
                                    validators=[Optional(), NumberRange(min=0, max=1440)])
    assignee_id = SelectField(_l("Assignee"), coerce=optional_int, validators=[Optional()])
    customer_id = IntegerField(widget=HiddenInput(),
                               validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    deal_id = IntegerField(widget=HiddenInput(),
                           validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    lead_id = IntegerField(_l("Lead #"), validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    visit_kind = SelectField(_l("Visit"), choices=[], validators=[Optional()])
    progress = IntegerField(_l("Progress, %"), validators=[Optional(),
                                                          NumberRange(min=0, max=100)])
    reminder_minutes = SelectField(_l("Reminder"), choices=REMINDER_CHOICES,
                                   coerce=optional_int, validators=[Optional()])
    status = SelectField(_l("Status"), choices=[(s, s) for s in STATUSES],
                         validators=[Optional()])
    result = TextAreaField(_l("Result"), validators=[Optional(), Length(max=5000)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])
    frequency = SelectField(_l("Repeats"), choices=[(k, v) for k, v in FREQUENCY_LABELS.items()],
                            validators=[Optional()])
    interval = IntegerField(_l("Every"), default=1,
                            validators=[Optional(), NumberRange(min=1, max=365)])
    until = DateField(_l("Until"), validators=[Optional()])


class QuickForm(FlaskForm):
    """The quick-add form of the deal and customer panels."""

    kind = SelectField(_l("Kind"), validators=[InputRequired()])
    title = StringField(_l("Next step"), validators=[InputRequired(), Length(max=200)])
    due_at = DateTimeLocalField(_l("Due"), format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                validators=[InputRequired()])
    customer_id = IntegerField(widget=HiddenInput(),
                               validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    deal_id = IntegerField(widget=HiddenInput(),
                           validators=[Optional(), NumberRange(min=1, max=MAX_ID)])


class DoneForm(FlaskForm):
    result = StringField(_l("Result"), validators=[Optional(), Length(max=5000)])
    progress = IntegerField(_l("Progress, %"), validators=[Optional(),
                                                          NumberRange(min=0, max=100)])


class RescheduleForm(FlaskForm):
    how = SelectField(_l("Move to"), choices=[("tomorrow", _l("+1 day")),
                                              ("monday", _l("Next Monday")),
                                              ("date", _l("Pick a date"))],
                      validators=[InputRequired()])
    on = DateField(_l("Date"), validators=[Optional()])


class MoveWithStepForm(FlaskForm):
    """A stage move and the deal's next step in one form (setting activities.ask_next_step_at)."""

    stage_id = SelectField(_l("Stage"), coerce=optional_int, validators=[InputRequired()])
    kind = SelectField(_l("Kind"), validators=[InputRequired()])
    title = StringField(_l("Next step"), validators=[InputRequired(), Length(max=200)])
    due_at = DateTimeLocalField(_l("Due"), format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                validators=[InputRequired()])


class SeriesForm(FlaskForm):
    kind = SelectField(_l("Kind"), validators=[InputRequired()])
    title = StringField(_l("Title"), validators=[InputRequired(), Length(max=200)])
    start_date = DateField(lazy_pgettext("date range", "From"), validators=[InputRequired()])
    local_time = TimeField(_l("Time"), validators=[InputRequired()])
    frequency = SelectField(_l("Repeats"), choices=[(k, v) for k, v in FREQUENCY_LABELS.items()
                                                    if k in FREQUENCIES],
                            validators=[InputRequired()])
    interval = IntegerField(_l("Every"), default=1,
                            validators=[InputRequired(), NumberRange(min=1, max=365)])
    until = DateField(_l("Until"), validators=[Optional()])
    duration_minutes = IntegerField(_l("Duration, minutes"), default=30,
                                    validators=[Optional(), NumberRange(min=0, max=1440)])
    assignee_id = SelectField(_l("Assignee"), coerce=optional_int, validators=[Optional()])
    reminder_minutes = SelectField(_l("Reminder"), choices=REMINDER_CHOICES,
                                   coerce=optional_int, validators=[Optional()])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])
