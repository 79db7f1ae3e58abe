"""WTForms for the core's screens: validation messages in place, CSRF on every form."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget, Select

from ..i18n import _l, lazy_pgettext
from ..models import COMPANY_SIZES

MAX_ID = 2147483647
# Deliberately simple: one @, no spaces, a dot in the domain. Deliverability is the mail
# server's business; this only catches typing slips (and needs no extra package).
EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def email_field(label: object) -> EmailField:
    return EmailField(label, validators=[Optional(), Length(max=254), Regexp(
        EMAIL_RE, message=_l("Enter an email address such as name@example.com."))])


class MoneyField(DecimalField):
    """A decimal that refuses NaN and infinities (Decimal comparisons with NaN raise)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None and not self.data.is_finite():
            self.data = None
            raise ValueError(self.gettext("Not a valid decimal value."))


class ListSelectField(SelectField):
    """WTForms' select, its submitted value checked against the choices' values as a set:
    WTForms builds a ``Choice`` for every option to validate one value, and the deal form's
    currency list (~300 codes) cost ~0.3 ms per save. Grouped choices (a dict) are WTForms'."""

    def pre_validate(self, form: Any) -> None:
        choices = self.choices
        if self.process_errors or not self.validate_choice or not isinstance(choices, list):
            super().pre_validate(form)
            return
        coerce = self.coerce
        values = {coerce(c[0] if isinstance(c, (tuple, list)) else c) for c in choices}
        if self.data not in values:
            raise ValidationError(
                self.invalid_choice_message or self.gettext("Not a valid choice."))


class MultiCheckboxField(SelectMultipleField):
    """A multi-select shown as a list of checkboxes (roles, permissions)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


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
    name = StringField(lazy_pgettext("person", "Name"),
                       validators=[DataRequired(), Length(max=200)])
    position = StringField(_l("Position"), validators=[Optional(), Length(max=120)])
    phone = StringField(_l("Phone"), validators=[
        Optional(), Length(max=40),
        Regexp(r"^[0-9+()\-. ]*$", message=_l("Digits, spaces and + ( ) - only."))])
    email = email_field(_l("Email"))
    decision_maker = BooleanField(_l("Decision maker"))
    # Choices: "" and the app's languages, set by the view.
    language = SelectField(_l("Language"), validators=[Optional()], validate_choice=True)


class DealForm(FlaskForm):
    """A deal. The customer is an id, not a select: a company may have 100k customers."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    customer_id = IntegerField(_l("Customer number"), validators=[
        InputRequired(), NumberRange(min=1, max=MAX_ID)])
    owner_id = ListSelectField(_l("Owner"), coerce=int, validators=[Optional()],
                               validate_choice=True)
    amount = MoneyField(_l("Amount"), places=2, validators=[
        InputRequired(), NumberRange(min=Decimal("0"), max=Decimal("999999999999"))])
    margin = MoneyField(_l("Margin"), places=2, validators=[
        Optional(), NumberRange(min=Decimal("-999999999999"), max=Decimal("999999999999"))])
    # ISO 4217 codes named in the reader's language (choices set by the view); "cny" is read as
    # "CNY", so a hand-made request with a lower-case code is accepted too.
    currency = ListSelectField(_l("Currency"), validators=[DataRequired()],
                               filters=[lambda v: v.strip().upper() if isinstance(v, str) else v])
    expected_close = DateField(_l("Expected close"), validators=[Optional()])
    # The version the form was filled from: a save over someone else's change is refused.
    version = IntegerField(widget=HiddenInput(), validators=[
        Optional(), NumberRange(min=1, max=MAX_ID)])


class NewDealForm(DealForm):
    """A new deal in three actions: the customer picked by typing its name (``customer_name``;
    the suggestions fill ``customer_id``, and without JavaScript the name alone is looked up),
    the amount, save. The title defaults to the customer's name; currency and stage come
    preselected (``stage_id``: the open stages, set by the view)."""

    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)])
    customer_name = StringField(_l("Customer"), validators=[Optional(), Length(max=200)])
    customer_id = IntegerField(widget=HiddenInput(), validators=[
        Optional(), NumberRange(min=1, max=MAX_ID)])
    stage_id = ListSelectField(_l("Stage"), coerce=int, validators=[DataRequired()])


class KeptSelect(Select):
    """WTForms' ``<select>``, its HTML kept per field name, choices, value and attributes: a
    pure function of them, and a deal card's stage select (a dozen escaped options) cost ~0.3 ms
    to write on every view."""

    def __call__(self, field: Any, **kwargs: Any) -> Any:
        try:
            key = (self.multiple, field.id, field.name, tuple(field.choices or ()),
                   field.data, bool(field.flags.required), tuple(sorted(kwargs.items())))
            hash(key)
        except TypeError:  # unhashable choices or attributes: written afresh
            return super().__call__(field, **kwargs)
        return _kept_select(key, self, field, kwargs)


def _kept_select(key: tuple[Any, ...], widget: Select, field: Any, kwargs: dict[str, Any]
                 ) -> Any:
    html = _SELECTS.get(key)
    if html is None:
        if len(_SELECTS) >= 1024:
            _SELECTS.clear()
        html = _SELECTS[key] = Select.__call__(widget, field, **kwargs)
    return html


_SELECTS: dict[tuple[Any, ...], Any] = {}


class StageForm(FlaskForm):
    stage_id = SelectField(_l("Stage"), coerce=int, validators=[DataRequired()],
                           widget=KeptSelect())
    lost_reason = StringField(_l("Lost reason"), validators=[Optional(), Length(max=200)])
    version = IntegerField(widget=HiddenInput(), validators=[
        Optional(), NumberRange(min=1, max=MAX_ID)])
    next = HiddenField(validators=[Optional(), Length(max=500)])


# --- administration --------------------------------------------------------------------------

USERNAME_RE = r"^[A-Za-z0-9_.@-]+$"


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[
        DataRequired(), Length(max=80),
        Regexp(USERNAME_RE, message=_l("Letters, digits and _ . @ - only."))])
    display_name = StringField(_l("Display name"), validators=[Optional(), Length(max=120)])
    email = email_field(_l("Email"))
    roles = MultiCheckboxField(_l("Roles"), validators=[Optional()])
    active = BooleanField(lazy_pgettext("user", "Active"), default=True)
    password = PasswordField(_l("New password"), validators=[Optional(), Length(min=8, max=200)])


class NameForm(FlaskForm):
    """One name: a new team, a renamed team."""

    name = StringField(lazy_pgettext("thing", "Name"), validators=[DataRequired(), Length(max=120)])


class MemberForm(FlaskForm):
    user_id = SelectField(_l("User"), coerce=int, validators=[DataRequired()])


class StageEditForm(FlaskForm):
    name = StringField(lazy_pgettext("thing", "Name"), validators=[DataRequired(), Length(max=120)])
    percent = IntegerField(_l("Percent"), validators=[InputRequired(), NumberRange(min=0, max=100)])
    position = IntegerField(_l("Order"), validators=[InputRequired(), NumberRange(min=0, max=1000)])
    is_won = BooleanField(lazy_pgettext("stage", "Won"))
    is_lost = BooleanField(_l("Lost"))

    def validate_is_lost(self, field: BooleanField) -> None:
        if field.data and self.is_won.data:
            raise ValidationError(_l("A stage cannot be both won and lost."))


# --- profile ---------------------------------------------------------------------------------


class ProfileForm(FlaskForm):
    display_name = StringField(_l("Display name"), validators=[Optional(), Length(max=120)])
    email = email_field(_l("Email"))
    locale = SelectField(_l("Language"), validators=[DataRequired()])
    timezone = SelectField(_l("Time zone"), validators=[DataRequired()])
    email_notifications = BooleanField(_l("Also send my notifications by e-mail"))


class LanguageForm(FlaskForm):
    locale = SelectField(_l("Language"), validators=[DataRequired()])
    next = HiddenField(validators=[Optional(), Length(max=500)])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=8, max=200)])
    confirm = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(), EqualTo("new", message=_l("The two passwords differ."))])


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=80)])
