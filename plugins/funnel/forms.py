"""Target forms (Flask-WTF, CSRF): errors are shown next to the field that caused them."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional, Regexp

from conveyor.i18n import _l

MAX_MONEY = Decimal("999999999999.99")


class MoneyField(DecimalField):
    """Two decimal places at most; NaN and infinities refused."""

    def process_formdata(self, valuelist: list[str]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None and (not self.data.is_finite()
                                      or self.data != self.data.quantize(Decimal("0.01"))):
            self.data = None
            raise ValueError(self.gettext("Not a valid decimal value."))


def money_field(label: Any, required: bool = True) -> MoneyField:
    validators: list[Any] = [NumberRange(min=0, max=MAX_MONEY)]
    validators.insert(0, InputRequired() if required else Optional())
    return MoneyField(label, places=2, validators=validators)


class TargetForm(FlaskForm):
    period_kind = SelectField(_l("Period"), choices=[("month", _l("Month")),
                                                     ("quarter", _l("Quarter")),
                                                     ("year", _l("Year"))],
                              validators=[DataRequired()])
    period_start = DateField(_l("Any day of the period"), validators=[DataRequired()])
    volume = money_field(_l("Volume target"))
    margin = money_field(_l("Margin target"))
    currency = StringField(_l("Currency"), validators=[DataRequired(), Regexp(
        r"^[A-Za-z]{3}$", message=_l("Use a three-letter currency code such as USD."))])


class UserTargetForm(TargetForm):
    user_id = SelectField(_l("Seller"), coerce=int, validators=[DataRequired()])


class TeamTargetForm(TargetForm):
    team_id = SelectField(_l("Team"), coerce=int, validators=[DataRequired()])


def team_form(members: list[Any], formdata: Any = None, **kwargs: Any) -> TeamTargetForm:
    """A team form with a volume and a margin share field per seller of the team."""

    class Form(TeamTargetForm):
        pass

    for user in members:
        setattr(Form, f"share_volume_{user.id}", money_field(user.label, required=False))
        setattr(Form, f"share_margin_{user.id}", money_field(user.label, required=False))
    return Form(formdata=formdata, **kwargs) if formdata is not None else Form(**kwargs)
