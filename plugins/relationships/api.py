"""REST under /api/v1/relationships: reports, one customer's type and history, overrides.

The type on the customer resource itself comes through ``api_extra_fields`` (see plugin.py).
"""
from __future__ import annotations

from datetime import date
from typing import Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint, abort
from sqlalchemy import select

from conveyor import csrf, db, get_visible_or_404, require
from conveyor.models import Customer
from conveyor.queries import written_limit
from conveyor.types import utcnow

from . import reports as rep
from .models import TYPES, RelationshipState, RelationshipTransition
from .schemas import (
    ActivitiesReportSchema,
    OverrideArgs,
    PeriodArgs,
    StateSchema,
    SummarySchema,
    TransitionsReportSchema,
    WonReportSchema,
)
from .services import OverrideError, clear_override, set_override
from .won import won_by_type

blp = Blueprint("relationships_api", __name__, url_prefix="/api/v1/relationships",
                description="Relationship types of customers: reports, history, overrides.")
csrf.exempt(blp)
ID = "<int(max=2147483647):customer_id>"
HISTORY_LIMIT = 100


def state_payload(customer_id: int, history: bool = True) -> dict[str, Any]:
    """The type, why and since when; a customer never recorded counts as cold."""
    state = db.session.get(RelationshipState, customer_id, populate_existing=True)
    out: dict[str, Any] = {
        "customer_id": customer_id, "relationship_type": state.type if state else "cold",
        "computed_type": state.computed_type if state else "cold",
        "since": state.since if state else None, "cause": state.cause if state else "",
        "by_id": state.by_id if state else None, "override": bool(state and state.override),
        "override_reason": state.override_reason if state else "",
        "override_by_id": state.override_by_id if state else None,
        "override_at": state.override_at if state else None,
    }
    if history:
        T = RelationshipTransition
        out["history"] = list(db.session.scalars(
            select(T).where(T.customer_id == customer_id)
            .order_by(T.at.desc(), T.id.desc()).limit(written_limit(HISTORY_LIMIT))))
    return out


def _period(args: dict[str, Any]) -> tuple[date, date]:
    start, end = rep.this_month(utcnow())
    start = args.get("start") or start
    end = args.get("end") or max(end, start)
    if end < start:
        abort(422, message="end is before start")
    return start, end


@blp.route("/summary")
class Summary(MethodView):
    @require("relationships.reports")
    @blp.response(200, SummarySchema)
    def get(self) -> dict[str, Any]:
        """Customers per relationship type per seller (the customers you may see)."""
        rows = rep.sorted_rows(rep.type_counts(current_user))
        totals = dict.fromkeys(TYPES, 0)
        for row in rows:
            for kind, n in row.counts.items():
                totals[kind] = totals.get(kind, 0) + n
        return {"types": list(TYPES), "totals": totals, "sellers": [
            {"owner_id": r.owner_id, "owner": r.label, "counts": r.counts, "total": r.total}
            for r in rows]}


@blp.route("/transitions")
class Transitions(MethodView):
    @require("relationships.reports")
    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, TransitionsReportSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Moves up and down the ladder in a period, per seller (the KPI)."""
        start, end = _period(args)
        rows = rep.sorted_rows(rep.transition_counts(current_user, *rep.period_bounds(start, end)))
        return {"start": start, "end": end, "up": sum(r.up for r in rows),
                "down": sum(r.down for r in rows), "sellers": [
                    {"owner_id": r.owner_id, "owner": r.label, "up": r.up, "down": r.down,
                     "moves": [{"from_type": a, "to_type": b, "count": n}
                               for (a, b), n in sorted(r.moves.items())]} for r in rows]}


def _total(total: Any) -> dict[str, Any]:
    return {"amount": total.amount, "amounts": total.parts, "missing_currencies": total.missing}


@blp.route("/won")
class Won(MethodView):
    @require("relationships.reports")
    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, WonReportSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Won deals of the period per customer relationship type (the type now), in the
        company currency at each deal's closing-day rate; currencies without a rate are named,
        never counted as 0."""
        start, end = _period(args)
        won = won_by_type(current_user, start, end)
        return {"start": start, "end": end, "currency": won.currency, "count": won.count,
                **_total(won.total), "types": [
                    {"type": t, "count": won.counts[t], **_total(won.totals[t])} for t in TYPES]}


@blp.route("/activities")
class Activities(MethodView):
    @require("relationships.reports")
    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, ActivitiesReportSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Activities per relationship type, when an activities plugin provides them."""
        start, end = _period(args)
        rows = rep.activities(current_user, *rep.period_bounds(start, end))
        if rows is None:
            return {"start": start, "end": end, "available": False, "rows": [],
                    "message": "no enabled plugin implements relationship_activities"}
        return {"start": start, "end": end, "available": True, "rows": rows, "message": ""}


@blp.route(f"/customers/{ID}")
class CustomerState(MethodView):
    @require("relationships.view")
    @blp.response(200, StateSchema)
    def get(self, customer_id: int) -> dict[str, Any]:
        """A customer's type, since when, why, and its history (newest first)."""
        customer = get_visible_or_404(Customer, customer_id, current_user)
        return state_payload(customer.id)


@blp.route(f"/customers/{ID}/override")
class Override(MethodView):
    @require("relationships.view")
    @blp.response(200, StateSchema)
    def get(self, customer_id: int) -> dict[str, Any]:
        """The override, if any (``override`` false when the type follows the data)."""
        customer = get_visible_or_404(Customer, customer_id, current_user)
        return state_payload(customer.id, history=False)

    @require("relationships.override")
    @blp.arguments(OverrideArgs)
    @blp.response(200, StateSchema)
    def post(self, args: dict[str, Any], customer_id: int) -> dict[str, Any]:
        """Set the type by hand; a reason is required."""
        customer = get_visible_or_404(Customer, customer_id, current_user)
        try:
            set_override(db.session, customer.id, args["type"], args["reason"], current_user)
        except OverrideError as exc:
            db.session.rollback()
            abort(422, message=str(exc))
        db.session.commit()
        return state_payload(customer.id)

    @require("relationships.override")
    @blp.response(200, StateSchema)
    def delete(self, customer_id: int) -> dict[str, Any]:
        """Clear the override: the type follows the data again."""
        customer = get_visible_or_404(Customer, customer_id, current_user)
        clear_override(db.session, customer.id, current_user)
        db.session.commit()
        return state_payload(customer.id)


def extra_fields(objects: list[Any], single: bool) -> dict[int, dict[str, Any]]:
    """``api_extra_fields`` for customers: one query for the batch, plus the history for one."""
    ids = [o.id for o in objects]
    if not ids:
        return {}
    states = {s.customer_id: s for s in db.session.scalars(
        select(RelationshipState).where(RelationshipState.customer_id.in_(ids)))}
    out: dict[int, dict[str, Any]] = {}
    for cid in ids:
        s = states.get(cid)
        out[cid] = {"relationship_type": s.type if s else "cold",
                    "relationship_since": s.since.isoformat() if s else None,
                    "relationship_override": bool(s and s.override)}
    if single:
        T = RelationshipTransition
        out[ids[0]]["relationship_history"] = [
            {"from": t.from_type, "to": t.to_type, "at": t.at.isoformat(), "cause": t.cause,
             "by_id": t.by_id, "reason": t.reason}
            for t in db.session.scalars(select(T).where(T.customer_id == ids[0])
                                        .order_by(T.at.desc(), T.id.desc())
                                        .limit(written_limit(HISTORY_LIMIT)))]
    return out
