"""Home widgets (the seller's My day, the manager's team day) and the card panels (the deal's
and the customer's next steps with a quick-add form). Each renders with a fixed number of
statements, whatever the number of rows."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Any

from flask import render_template, request, url_for
from flask_babel import get_locale

from conveyor import Panel, Widget, can, current_pipelines
from conveyor.i18n import _l
from conveyor.types import utcnow

from .forms import MoveWithStepForm, QuickForm
from .next_steps import deals_without_next_step
from .rows import fill, rows_html
from .services import (
    KIND_LABELS,
    STATUS_LABELS,
    VISIT_LABELS,
    kind_choices,
    kind_label,
    my_day,
    next_step_stage_percents,
    next_steps,
    team_visits,
)
from .texts import action_context
from .zones import day_bounds, local_today, zone_name, zone_of

WIDGET_DEALS = 8


def _context() -> dict[str, Any]:
    return {"kind_label": kind_label, "status_labels": STATUS_LABELS,
            "visit_labels": VISIT_LABELS, "kind_labels": KIND_LABELS,
            "here": request.full_path.rstrip("?") if request else "/", **action_context()}


def render_my_day(user: Any) -> str:
    """Overdue (red), today's tasks and visits, own deals without a next step; one-click done
    and reschedule on each. Two statements whatever the number of rows; the rows' HTML is
    memoized (``rows``)."""
    day = my_day(user)
    deals, total_deals = deals_without_next_step(user, own=True, limit=WIDGET_DEALS)
    context = _context()
    texts = _texts(tuple(sorted(context["t"].items())), str(get_locale()))
    kw = {"locale": str(get_locale()), "zone_key": zone_name(user), "kind_label": kind_label,
          "texts": texts}
    overdue = fill(rows_html(day["overdue"], **kw), context["csrf"], context["here"])
    today = fill(rows_html(day["today"], **kw), context["csrf"], context["here"])
    return render_template("activities/widget_my_day.html", day=day, deals=deals,
                           total_deals=total_deals, overdue_rows=overdue, today_rows=today,
                           deal_base=_before_id("deals.card", "deal_id"),
                           plan_step=url_for("activities.new", deal_id=ID_MARK,
                                             next=context["here"]).split(str(ID_MARK)),
                           **context)


ID_MARK = 2147483647


def _before_id(endpoint: str, name: str) -> str:
    """An address whose last part is a record's id, without it: one ``url_for`` for a list's
    links instead of one per row."""
    url = url_for(endpoint, **{name: ID_MARK})
    assert url.endswith(str(ID_MARK))
    return url[:-len(str(ID_MARK))]


@lru_cache(maxsize=64)
def _texts(actions: tuple[tuple[str, str], ...], locale: str) -> tuple[tuple[str, str], ...]:
    """The rows' texts (the actions' labels and address, the statuses' names) as one key."""
    return tuple(sorted({**dict(actions),
                         **{f"status_{k}": str(v) for k, v in STATUS_LABELS.items()}}.items()))


def render_team_day(user: Any) -> str:
    """The manager's view: visits against the daily standard per person, and the team's deals
    without a next step."""
    zone = zone_of(user)
    start, end = day_bounds(local_today(zone), zone)
    visits = team_visits(user, start, end)
    deals, total_deals = deals_without_next_step(user, own=False, limit=WIDGET_DEALS)
    return render_template("activities/widget_team_day.html", visits=visits, deals=deals,
                           total_deals=total_deals, **_context())


def _quick_form(customer_id: int | None, deal_id: int | None, user: Any) -> QuickForm:
    form = QuickForm(formdata=None)
    form.kind.choices = kind_choices()
    form.kind.data = "call"
    zone = zone_of(user)
    form.due_at.data = datetime.combine(local_today(zone) + timedelta(days=1), time(9))
    form.customer_id.data, form.deal_id.data = customer_id, deal_id
    return form


def render_deal_panel(deal: Any, user: Any) -> str:
    steps = next_steps(deal_id=deal.id, user=user)
    move_form = None
    stage = current_pipelines().get(deal.pipeline_id)
    asked = next_step_stage_percents()
    if asked and stage is not None and can(user, "deals.edit"):
        targets = [s for s in stage.stages if s.percent in asked and not s.is_lost
                   and s.id != deal.stage_id]
        if targets:
            move_form = MoveWithStepForm(formdata=None)
            move_form.stage_id.choices = [(s.id, f"{s.percent}% {s.name}") for s in targets]
            move_form.kind.choices = kind_choices()
            move_form.due_at.data = _quick_form(None, None, user).due_at.data
    return render_template("activities/panel.html", steps=steps, target="deal", obj=deal,
                           quick=_quick_form(deal.customer_id, deal.id, user),
                           move_with_step=move_form, now=utcnow(), **_context())


def render_customer_panel(customer: Any, user: Any) -> str:
    steps = next_steps(customer_id=customer.id, user=user)
    return render_template("activities/panel.html", steps=steps, target="customer",
                           obj=customer, quick=_quick_form(customer.id, None, user),
                           move_with_step=None, now=utcnow(), **_context())


WIDGETS = [
    Widget("activities.my_day", _l("My day"), "activities.use", render_my_day),
    Widget("activities.team_day", _l("The team's day"), "activities.view_team", render_team_day),
]
PANELS = [
    Panel("activities.deal_next_step", _l("Next step"), "deal", "activities.use",
          render_deal_panel, order=10),
    Panel("activities.customer_next_step", _l("Next steps"), "customer", "activities.use",
          render_customer_panel, order=10),
]

