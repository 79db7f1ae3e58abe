"""The web form: Flask-WTF adds and checks its CSRF token."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from conveyor.i18n import _l


class PaymentForm(FlaskForm):
    deal_id = IntegerField(_l("Deal number"),
                           validators=[DataRequired(), NumberRange(min=1, max=2**31 - 1)])
    amount = DecimalField(_l("Amount received"), places=2,
                          validators=[DataRequired(), NumberRange(min=0.01, max=10**12)])
    paid_on = DateField(_l("Paid on"), validators=[DataRequired()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])
