"""Forms: the override (CSRF, reason required) and the report period (GET, no CSRF)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from conveyor.i18n import _l, lazy_pgettext

from .models import TYPES, type_labels

MAX_PERIOD = timedelta(days=3660)


class OverrideForm(FlaskForm):
    type = SelectField(_l("Relationship type"), validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[
        DataRequired(message=_l("Say why the type is set by hand.")), Length(max=500)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = type_labels()
        self.type.choices = [(t, labels[t]) for t in TYPES]


class PeriodForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter: nothing is written

    start = DateField(lazy_pgettext("date range", "From"), validators=[Optional()])
    end = DateField(lazy_pgettext("date range", "To"), validators=[Optional()])

    def validate_end(self, field: Any) -> None:
        if field.data and self.start.data:
            if field.data < self.start.data:
                raise ValidationError(_l("The end date is before the start date."))
            if field.data - self.start.data > MAX_PERIOD:
                raise ValidationError(_l("Choose a period of at most ten years."))
