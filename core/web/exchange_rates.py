"""Admin → Exchange rates: enter a rate, import a published table, see the latest ones."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from ..extensions import db
from ..i18n import _, _l
from ..models import ExchangeRate
from ..money import RateError, company_currency, currency_choices, import_rates, set_rate
from ..permissions import require
from ..queries import written_limit
from . import _locale_name

bp = Blueprint("rates", __name__, url_prefix="/admin/rates")
MAX_UPLOAD = 2 * 1024 * 1024


class RateForm(FlaskForm):
    currency = SelectField(_l("Currency"), validators=[DataRequired()])
    # InputRequired, not DataRequired: the latter replaces "Use a date between …" (a typed but
    # refused date) by "This field is required."
    day = DateField(_l("Date"), validators=[InputRequired()])
    rate = StringField(_l("Rate"), validators=[DataRequired(), Length(max=40)])


class ImportForm(FlaskForm):
    file = FileField(_l("Rates table (CSV)"), validators=[FileRequired()])


def _page(rate_form: RateForm | None = None, import_form: ImportForm | None = None,
          status: int = 200) -> Any:
    rate_form = rate_form or RateForm(formdata=None)
    rate_form.currency.choices = [c for c in currency_choices(_locale_name())
                                  if c[0] != company_currency()]
    rows = db.session.scalars(select(ExchangeRate).order_by(
        ExchangeRate.day.desc(), ExchangeRate.currency).limit(written_limit(200))).all()
    return render_template("admin/rates.html", rates=rows, company=company_currency(),
                           rate_form=rate_form, import_form=import_form or ImportForm(
                               formdata=None)), status


@bp.get("/")
@require("admin.rates")
def index() -> Any:
    return _page()


@bp.post("/")
@require("admin.rates")
def add() -> Any:
    form = RateForm()
    form.currency.choices = currency_choices(_locale_name())
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        set_rate(form.currency.data, form.day.data, form.rate.data, current_user)
    except RateError as exc:
        db.session.rollback()
        field = {"rate": form.rate, "date": form.day}.get(exc.field, form.currency)
        field.errors = [_("Enter a positive number, e.g. 0.1400.") if exc.field == "rate"
                        else str(exc.message)]
        return _page(form, status=400)
    db.session.commit()
    flash(_("The rate is saved."), "success")
    return redirect(url_for(".index"))


@bp.post("/import")
@require("admin.rates")
def import_table() -> Any:
    form = ImportForm()
    if not form.validate_on_submit():
        return _page(import_form=form, status=400)
    raw = form.file.data.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        form.file.errors = [_("The file is larger than 2 MB.")]
        return _page(import_form=form, status=400)
    try:
        count = import_rates(raw.decode("utf-8-sig"), current_user)
    except (RateError, UnicodeDecodeError) as exc:
        db.session.rollback()
        form.file.errors = [_("Nothing was imported: %(why)s",
                              why=getattr(exc, "message", _("the file is not UTF-8 text")))]
        return _page(import_form=form, status=400)
    db.session.commit()
    flash(_("%(count)s rates imported.", count=count), "success")
    return redirect(url_for(".index"))
