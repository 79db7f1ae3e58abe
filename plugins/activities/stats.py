"""Answers to other plugins' questions: visits held for the funnel's five numbers, activities
per relationship type for the relationships reports. Counted in SQL with GROUP BY."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import column, func, select, table

from conveyor import db

from .models import Activity

RELATIONSHIPS_STATE = table("relationships_state", column("customer_id"), column("type"))


def client_visits(start: datetime, end: datetime,
                  owner_ids: list[int] | None) -> dict[int, dict[str, int]]:
    """Visits held (done) in ``[start, end)`` per assignee: FSI as first, FUA as follow-up."""
    query = (select(Activity.assignee_id, Activity.visit_kind, func.count())
             .where(Activity.status == "done", Activity.due_at >= start, Activity.due_at < end,
                    Activity.kind == "visit")
             .group_by(Activity.assignee_id, Activity.visit_kind))
    if owner_ids is not None:
        query = query.where(Activity.assignee_id.in_(owner_ids))
    out: dict[int, dict[str, int]] = {}
    for owner, visit_kind, n in db.session.execute(query):
        counts = out.setdefault(owner, {"first": 0, "follow_up": 0})
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
