"""Screens: the reports page and the manual override of a customer's type."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from conveyor import db, get_visible_or_404, require
from conveyor.i18n import _
from conveyor.models import Customer
from conveyor.types import utcnow

from . import reports as rep
from .export import report_csv
from .forms import OverrideForm, PeriodForm
from .models import TYPES, RelationshipState, cause_label, type_labels
from .services import clear_override, set_override
from .won import won_by_type

bp = Blueprint("relationships", __name__, url_prefix="/relationships",
               template_folder="templates")
ID = "<int(max=2147483647):customer_id>"


def report_period(form: PeriodForm) -> tuple[Any, Any]:
    """The form's period when valid, else this month (UTC days, inclusive)."""
    default_start, default_end = rep.this_month(utcnow())
    ok = not form.errors
    start = (form.start.data if ok else None) or default_start
    end = (form.end.data if ok else None) or max(default_end, start)
    return start, end


def report_context(user: Any, form: PeriodForm) -> dict[str, Any]:
    """Everything the reports page shows for the (validated or default) period."""
    start, end = report_period(form)
    low, high = rep.period_bounds(start, end)
    by_type = rep.sorted_rows(rep.type_counts(user))
    return {"types": TYPES, "labels": type_labels(), "start": start, "end": end,
            "by_type": by_type, "type_totals": rep.column_totals(by_type),
            "moves": rep.sorted_rows(rep.transition_counts(user, low, high)),
            "won": won_by_type(user, start, end),
            "activities": rep.activities(user, low, high)}


@bp.get("/")
@require("relationships.reports")
def reports() -> Any:
    form = PeriodForm(formdata=request.args)
    valid = form.validate()
    return render_template("relationships/reports.html", form=form,
                           **report_context(current_user, form)), 200 if valid else 400


@bp.get("/export.csv")
@require("relationships.reports")
def export() -> Any:
    """The page's tables as one CSV: customers per type and seller, won deals per type
    (converted, with the currencies lacking a rate named), moves per seller."""
    form = PeriodForm(formdata=request.args)
    if not form.validate():
        return render_template("relationships/reports.html", form=form,
                               **report_context(current_user, form)), 400
    start, end = report_period(form)
    low, high = rep.period_bounds(start, end)
    return report_csv(start, end, rep.sorted_rows(rep.type_counts(current_user)),
                      won_by_type(current_user, start, end),
                      rep.sorted_rows(rep.transition_counts(current_user, low, high)))


@bp.route(f"/customers/{ID}/override", methods=["GET", "POST"])
@require("relationships.override")
def override(customer_id: int) -> Any:
    customer = get_visible_or_404(Customer, customer_id, current_user)
    state = db.session.get(RelationshipState, customer.id)
    form = OverrideForm()
    if request.method == "GET" and state is not None:
        form.type.data = state.type
    if form.validate_on_submit():
        set_override(db.session, customer.id, form.type.data, form.reason.data, current_user)
        db.session.commit()
        flash(_("Relationship type set by hand."), "success")
        return redirect(url_for("customers.card", customer_id=customer.id))
    return render_template("relationships/override.html", form=form, customer=customer,
                           state=state, labels=type_labels(), cause_label=cause_label), \
        400 if request.method == "POST" else 200


@bp.post(f"/customers/{ID}/override/clear")
@require("relationships.override")
def clear(customer_id: int) -> Any:
    customer = get_visible_or_404(Customer, customer_id, current_user)
    if clear_override(db.session, customer.id, current_user):
        db.session.commit()
        flash(_("Override cleared: the type follows the data again."), "success")
    else:
        flash(_("This customer's type was not set by hand."), "info")
    return redirect(url_for("customers.card", customer_id=customer.id))
