"""Forms of the approvals screens (CSRF on each)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DecimalField, HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from conveyor.i18n import _l


class DecisionForm(FlaskForm):
    """Approve (comment optional) or send back (comment required, checked by the service)."""

    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=2000)])
    next = HiddenField()


class ChangesForm(FlaskForm):
    comment = TextAreaField(_l("What needs to change"),
                            validators=[DataRequired(_l("Say what needs to change.")),
                                        Length(max=2000)])
    next = HiddenField()


class RequestForm(FlaskForm):
    approver = SelectField(_l("Approver"), validators=[Optional()])
    note = TextAreaField(_l("Note for the approver"), validators=[Optional(), Length(max=2000)])
    next = HiddenField()


class DiscountForm(FlaskForm):
    percent = DecimalField(_l("Discount, %"), places=2,
                           validators=[InputRequired(), NumberRange(min=0, max=100)])
    next = HiddenField()
