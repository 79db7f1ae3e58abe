"""Home-screen widgets: plan fulfilment this month, and stalled deals."""
from __future__ import annotations

from typing import Any

from flask import render_template

from . import dwell as dwell_mod
from .periods import current
from .plan import plan, plan_subjects
from .scopes import default_scope
from .sqlparts import load_pipeline

STALLED_SHOWN = 5


def render_plan(user: Any) -> str:
    """The user's own row (a seller) or their teams' rows (a manager) for this month."""
    scope = default_scope(user)
    period = current("month")
    user_ids, team_ids = plan_subjects(scope)
    rows = [r for r in plan(period, user_ids, team_ids) if r.kind == "team" or not team_ids]
    from .views import period_label

    return render_template("funnel/widget_plan.html", rows=rows, period=period, scope=scope,
                           period_name=period_label(period))


def render_stalled(user: Any) -> str:
    scope = default_scope(user)
    try:
        pipe = load_pipeline()
    except LookupError:
        return ""
    rows, total = dwell_mod.stalled(pipe, scope.owner_list, limit=STALLED_SHOWN)
    return render_template("funnel/widget_stalled.html", rows=rows, total=total, scope=scope,
                           pipe=pipe)
