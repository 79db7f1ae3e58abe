"""The reports as SQL aggregates: types per seller, moves up and down (the KPI), activities.

Visibility is the core's record rule on customers (``scope(Customer, user)``); Python only
arranges the grouped rows, which number sellers × types, never customers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import current_app, g, has_request_context
from sqlalchemy import func, select

from conveyor import db, scope, scope_of
from conveyor.models import Customer, TeamMember, User

from .models import TYPES, RelationshipState, RelationshipTransition
from .rules import is_down, is_up

STATE_TYPE = func.coalesce(RelationshipState.type, "cold")


@dataclass
class SellerRow:
    owner_id: int | None
    label: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TYPES, 0))
    up: int = 0
    down: int = 0
    moves: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def rows_of(statement: Any) -> list[Any]:
    """A report statement's rows through the session's connection: plain rows, without the
    ORM's per-statement work (these select columns, never entities)."""
    return db.session.connection().execute(statement).all()


def _labels(owner_ids: set[int | None]) -> dict[int, str]:
    """Sellers' names, each read once per request (the page's tables share them)."""
    known: dict[int, str] = g.setdefault("relationships_labels", {}) \
        if has_request_context() else {}
    ids = {i for i in owner_ids if i is not None and i not in known}
    if ids:
        known.update({u.id: u.label for u in db.session.scalars(
            select(User).where(User.id.in_(ids)))})
    return {i: known[i] for i in owner_ids if i is not None and i in known}


def seller_rows(keys: set[int | None]) -> dict[int | None, SellerRow]:
    labels = _labels(keys)
    return {k: SellerRow(k, labels.get(k, "") if k is not None else "") for k in keys}


def summary_owners(model: type, user: Any, owner_id: int | None = None
                   ) -> tuple[bool, list[int] | None]:
    """Whether sums kept per owner can answer for ``user`` — the record rule on ``model`` is by
    owner and no plugin narrows it (``record_filters``) — and for which owners (``None``: all;
    ``[]``: none)."""
    hook = current_app.extensions["conveyor"].hook
    if getattr(model, "__record_rule__", None) or any(
            hook.record_filters(model=model, user=user, permission=None)):
        return False, None
    owners = visible_owner_ids(user)
    if owner_id is not None:
        owners = [owner_id] if owners is None or owner_id in owners else []
    return True, owners


def type_counts(user: Any, owner_id: int | None = None) -> dict[int | None, SellerRow]:
    """Customers per type per owner among the customers ``user`` may see: from the counts kept
    per owner and type when the record rule allows, else one GROUP BY over the customers."""
    from .type_counts import counts_statement

    usable, owners = summary_owners(Customer, user, owner_id)
    if usable:
        counted = rows_of(counts_statement(owners)) if owners != [] else []
        rows = seller_rows({(o or None) for o, _t, n in counted if n})
        for owner, kind, count in counted:
            if count:
                row = rows[owner or None]
                row.counts[kind] = row.counts.get(kind, 0) + count
        return rows
    query = (select(Customer.owner_id, STATE_TYPE, func.count())
             .select_from(Customer)
             .outerjoin(RelationshipState, RelationshipState.customer_id == Customer.id)
             .where(scope(Customer, user)).group_by(Customer.owner_id, STATE_TYPE))
    if owner_id is not None:
        query = query.where(Customer.owner_id == owner_id)
    grouped = rows_of(query)
    rows = seller_rows({r[0] for r in grouped})
    for owner, kind, count in grouped:
        rows[owner].counts[kind] = rows[owner].counts.get(kind, 0) + count
    return rows


def this_month(now: datetime) -> tuple[date, date]:
    """The first and last day of ``now``'s month: the default report period."""
    first = now.date().replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return first, nxt - timedelta(days=1)


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Dates (inclusive) to UTC datetimes ``[start 00:00, day after end 00:00)``."""
    low = datetime.combine(start, time.min, tzinfo=UTC)
    high = datetime.combine(end, time.min, tzinfo=UTC)
    return low, high + timedelta(days=1)


def transition_counts(user: Any, start: datetime, end: datetime,
                      owner_id: int | None = None) -> dict[int | None, SellerRow]:
    """Moves in ``[start, end)`` per seller (the customer's owner when it moved), up and down.

    A customer's first type is not a move. For whole UTC days and a record rule by owner, read
    from the moves kept per owner and day, for the sellers ``user`` may see (the sellers the
    moves count for); otherwise grouped from the log, for the customers ``user`` may see.
    """
    from .type_counts import moves_statement

    usable, owners = summary_owners(Customer, user, owner_id)
    whole_days = start.timetz() == end.timetz() == time.min.replace(tzinfo=start.tzinfo)
    if usable and whole_days:
        grouped = [((o or None), a, b, int(n)) for o, a, b, n in rows_of(
            moves_statement(owners, start.date(), (end - timedelta(days=1)).date()))
            if n] if owners != [] else []
    else:
        T = RelationshipTransition
        query = (select(T.owner_id, T.from_type, T.to_type, func.count())
                 .select_from(T).join(Customer, Customer.id == T.customer_id)
                 .where(scope(Customer, user), T.at >= start, T.at < end,
                        T.from_type.is_not(None))
                 .group_by(T.owner_id, T.from_type, T.to_type))
        if owner_id is not None:
            query = query.where(T.owner_id == owner_id)
        grouped = rows_of(query)
    rows = seller_rows({r[0] for r in grouped})
    for owner, old, new, count in grouped:
        row = rows[owner]
        row.moves[(old, new)] = row.moves.get((old, new), 0) + count
        row.up += count if is_up(old, new) else 0
        row.down += count if is_down(old, new) else 0
    return rows


def visible_owner_ids(user: Any) -> list[int] | None:
    """Sellers whose numbers ``user`` may see: ``None`` for everyone, else ids (own / team)."""
    kind = scope_of(user)
    if kind == "all":
        return None
    if kind == "own":
        return [user.id]
    cache = g.setdefault("relationships_owners", {}) if has_request_context() else {}
    if user.id not in cache:
        teams = select(TeamMember.team_id).where(TeamMember.user_id == user.id)
        ids = set(db.session.scalars(select(TeamMember.user_id)
                                     .where(TeamMember.team_id.in_(teams))))
        cache[user.id] = sorted(ids | {user.id})
    return list(cache[user.id])


def activities_available() -> bool:
    hook = current_app.extensions["conveyor"].hook
    return hasattr(hook, "relationship_activities") and bool(
        hook.relationship_activities.get_hookimpls())


def activities(user: Any, start: datetime, end: datetime) -> list[dict[str, Any]] | None:
    """Activity counts per type (``relationship_activities``); ``None`` if nobody provides them."""
    if not activities_available():
        return None
    hook = current_app.extensions["conveyor"].hook
    rows = [r for group in hook.relationship_activities(
        start=start, end=end, owner_ids=visible_owner_ids(user)) for r in (group or ())]
    return sorted(rows, key=lambda r: (str(r.get("activity", "")), str(r.get("type", ""))))


def sorted_rows(rows: dict[int | None, SellerRow]) -> list[SellerRow]:
    return sorted(rows.values(), key=lambda r: (r.owner_id is None, r.label.lower()))


def column_totals(rows: list[SellerRow]) -> dict[str, int]:
    """Customers per type over every row (the chart's bars and the table's last line)."""
    totals = dict.fromkeys(TYPES, 0)
    for row in rows:
        for kind, n in row.counts.items():
            totals[kind] = totals.get(kind, 0) + n
    return totals
