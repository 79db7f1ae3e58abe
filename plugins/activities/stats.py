"""Answers to other plugins' questions: visits held for the funnel's five numbers, activities
per relationship type for the relationships reports. Counted in SQL with GROUP BY."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, column, func, select, table

from conveyor import db

from .models import Activity

RELATIONSHIPS_STATE = table("relationships_state", column("customer_id"), column("type"))


def client_visits(start: datetime, end: datetime,
                  owner_ids: list[int] | None) -> dict[int, dict[str, int]]:
    """Visits held (done) in ``[start, end)`` per assignee: FSI as first, FUA as follow-up."""
    return client_visits_by_period([start, end], owner_ids)[0]


def client_visits_by_period(bounds: list[datetime], owner_ids: list[int] | None
                            ) -> list[dict[int, dict[str, int]]]:
    """:func:`client_visits` for each period ``[bounds[i], bounds[i + 1])``, in one GROUP BY
    over the period a visit falls in, its assignee and its kind."""
    edges = list(bounds)
    out: list[dict[int, dict[str, int]]] = [{} for _b in edges[1:]]
    if len(edges) < 2:
        return out
    # The period a row falls in (the only one when there is one: no CASE at all).
    period = (case(*[(Activity.due_at < edge, i) for i, edge in enumerate(edges[1:-1])],
                   else_=len(edges) - 2) if len(edges) > 2 else Activity.due_at.is_not(None))
    query = (select(period, Activity.assignee_id, Activity.visit_kind, func.count())
             .where(Activity.status == "done", Activity.due_at >= edges[0],
                    Activity.due_at < edges[-1], Activity.kind == "visit")
             .group_by(period, Activity.assignee_id, Activity.visit_kind))
    if owner_ids is not None:
        query = query.where(Activity.assignee_id.in_(owner_ids))
    for i, owner, visit_kind, n in db.session.execute(query):
        counts = out[int(i) if len(edges) > 2 else 0].setdefault(
            owner, {"first": 0, "follow_up": 0})
        counts["first" if visit_kind == "FSI" else "follow_up"] += int(n)
    return out


def activities_per_type(start: datetime, end: datetime,
                        owner_ids: list[int] | None) -> list[dict[str, Any]]:
    """Activities held (done) in ``[start, end)`` on customers, per kind and the customer's
    current relationship type (a customer without a state yet counts as cold)."""
    state = RELATIONSHIPS_STATE
    rel_type = func.coalesce(state.c.type, "cold")
    query = (select(Activity.kind, rel_type, func.count())
             .select_from(Activity)
             .outerjoin(state, state.c.customer_id == Activity.customer_id)
             .where(Activity.status == "done", Activity.due_at >= start, Activity.due_at < end,
                    Activity.customer_id.is_not(None))
             .group_by(Activity.kind, rel_type))
    if owner_ids is not None:
        query = query.where(Activity.assignee_id.in_(owner_ids))
    from .services import KIND_LABELS

    return [{"activity": kind, "label": str(KIND_LABELS.get(kind, kind)), "type": type_,
             "count": int(n)} for kind, type_, n in db.session.execute(query)]
