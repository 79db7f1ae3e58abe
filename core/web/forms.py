"""WTForms for the core's screens: validation messages in place, CSRF on every form."""
from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, DecimalField, EmailField, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, Regexp

from ..i18n import _l
from ..models import COMPANY_SIZES


class CustomerForm(FlaskForm):
    name = StringField(_l("Company name"), validators=[DataRequired(), Length(max=200)])
    industry = StringField(_l("Industry"), validators=[Optional(), Length(max=80)])
    region = StringField(_l("Region"), validators=[Optional(), Length(max=80)])
    size = SelectField(_l("Company size"), choices=[("", "—")] + [(s, s) for s in COMPANY_SIZES],
                       validators=[Optional()])
    tax_id = StringField(_l("Tax id"), validators=[Optional(), Length(max=40)])
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=1000)])
    owner_id = SelectField(_l("Owner"), coerce=int, validators=[Optional()], validate_choice=True)


class ContactForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    position = StringField(_l("Position"), validators=[Optional(), Length(max=120)])
    phone = StringField(_l("Phone"), validators=[
        Optional(), Length(max=40),
        Regexp(r"^[0-9+()\-. ]*$", message=_l("Digits, spaces and + ( ) - only."))])
    email = EmailField(_l("Email"), validators=[Optional(), Length(max=254), Email()])
    decision_maker = BooleanField(_l("Decision maker"))


class DealForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    customer_id = SelectField(_l("Customer"), coerce=int, validators=[DataRequired()])
    amount = DecimalField(_l("Amount"), places=2, validators=[
        DataRequired(), NumberRange(min=Decimal("0"), max=Decimal("999999999999"))])
    margin = DecimalField(_l("Margin"), places=2, validators=[
        Optional(), NumberRange(min=Decimal("-999999999999"), max=Decimal("999999999999"))])
    currency = StringField(_l("Currency"), validators=[
        DataRequired(), Regexp(r"^[A-Z]{3}$", message=_l("Three capital letters, e.g. USD."))])
    expected_close = DateField(_l("Expected close"), validators=[Optional()])


class StageForm(FlaskForm):
    stage_id = SelectField(_l("Stage"), coerce=int, validators=[DataRequired()])
    lost_reason = StringField(_l("Lost reason"), validators=[Optional(), Length(max=200)])
