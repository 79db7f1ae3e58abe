"""Who gets a lead: rules (round robin or least loaded among active sellers), a manager's hand,
and the sweep that assigns leads left unassigned and reassigns those nobody followed up.

Concurrency: choosing from a rule bumps its cursor with ``UPDATE ... RETURNING``, which takes
the rule's row lock until commit, so two app processes never hand out the same turn and a
least-loaded count is read after the previous pick committed. The sweep works one lead per short
transaction and re-checks its condition in a conditional ``UPDATE`` (which takes the row lock
on PostgreSQL and re-evaluates after a concurrent writer commits), so concurrent or repeated runs
never assign a lead twice.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import lazyload

from conveyor import db, emit, setting
from conveyor.models import User
from conveyor.queries import written_limit
from conveyor.types import utcnow

from .events import LeadAssigned
from .models import (
    OPEN_STATUSES,
    Lead,
    LeadAssignment,
    LeadForm,
    LeadRule,
    LeadRuleSeller,
    open_criteria,
)

log = logging.getLogger("conveyor.leads")
RULE_FIELDS = ("industry", "region", "size", "source")


class AssignError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class RuleView:
    """A rule as matched in Python: criteria sets and the ids of its active sellers."""

    id: int
    name: str
    strategy: str
    criteria: dict[str, frozenset[str]]
    hour_from: int | None
    hour_to: int | None
    pool: list[int] = field(default_factory=list)

    def matches(self, values: dict[str, Any], hour: int) -> bool:
        for key, allowed in self.criteria.items():
            if allowed and str(values.get(key) or "").strip().casefold() not in allowed:
                return False
        return in_window(hour, self.hour_from, self.hour_to)


def in_window(hour: int, start: int | None, end: int | None) -> bool:
    """``[start, end)`` in local hours; ``start > end`` wraps past midnight (22 -> 6)."""
    if start is None or end is None or start == end:
        return True
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end


def split_values(text: str) -> frozenset[str]:
    return frozenset(v.strip().casefold() for v in (text or "").split(",") if v.strip())


def load_rules() -> list[RuleView]:
    """Active rules in priority order with their active sellers: one query.

    The sellers' ``User`` rows land in the session, so the events get them without a query.
    """
    rows = db.session.execute(
        select(LeadRule, User)
        .outerjoin(LeadRuleSeller, LeadRuleSeller.rule_id == LeadRule.id)
        .outerjoin(User, and_(User.id == LeadRuleSeller.user_id, User.active.is_(True)))
        .where(LeadRule.active.is_(True))
        .order_by(LeadRule.position, LeadRule.id, User.id)
        .options(lazyload(User.role_grants), lazyload(User.memberships))
    ).all()
    rules: dict[int, RuleView] = {}
    for rule, user in rows:
        view = rules.get(rule.id)
        if view is None:
            view = rules[rule.id] = RuleView(
                rule.id, rule.name, rule.strategy,
                {k: split_values(getattr(rule, k)) for k in RULE_FIELDS},
                rule.hour_from, rule.hour_to)
        if user is not None and user.id not in view.pool:
            view.pool.append(user.id)
    return list(rules.values())


def local_hour(now: datetime | None = None) -> int:
    zone = current_app.config["CONVEYOR"].get("default_timezone") or "UTC"
    try:
        tz = ZoneInfo(zone)
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    return (now or utcnow()).astimezone(tz).hour


def _bump(rule_id: int) -> int:
    """Take the rule's next turn atomically (and its row lock until commit)."""
    table = LeadRule.__table__
    return db.session.execute(
        update(table).where(table.c.id == rule_id)
        .values(rr_cursor=table.c.rr_cursor + 1).returning(table.c.rr_cursor)
    ).scalar_one()


def pick_owner(values: dict[str, Any], *, form_rule_id: int | None = None,
               exclude: int | None = None, now: datetime | None = None,
               ) -> tuple[int, RuleView] | None:
    """The seller a lead with ``values`` goes to, and the rule that chose them, or ``None``.

    The form's own rule is tried first, then every active rule by position. A rule whose
    active sellers are all excluded is skipped.
    """
    rules = load_rules()
    rules.sort(key=lambda r: r.id != form_rule_id)  # stable: the form's rule first
    hour = local_hour(now)
    for rule in rules:
        pool = [u for u in rule.pool if u != exclude]
        if not pool or not rule.matches(values, hour):
            continue
        turn = _bump(rule.id)
        if rule.strategy == "least_loaded":
            counts = dict(db.session.execute(
                select(Lead.owner_id, func.count()).where(Lead.owner_id.in_(pool))
                .where(open_criteria()).group_by(Lead.owner_id)).all())
            low = min(counts.get(u, 0) for u in pool)
            pool = [u for u in pool if counts.get(u, 0) == low]
        return pool[(turn - 1) % len(pool)], rule
    return None


def light_user(user_id: int | None) -> User | None:
    if user_id is None:
        return None
    return db.session.get(User, user_id, options=[lazyload(User.role_grants),
                                                  lazyload(User.memberships)])


def record_assignment(lead: Lead, owner_id: int | None, previous_owner_id: int | None,
                      reason: str, *, detail: str = "", by: Any = None,
                      now: datetime | None = None, bulk: bool = False,
                      event: bool = True,
                      users: dict[int | None, User | None] | None = None) -> LeadAssignment:
    """The visible history row, and the LeadAssigned event (notifications follow the commit).
    ``users`` memoizes the owners across a batch (a ``session.get`` with options per lead cost
    more than the rest of the row)."""
    row = LeadAssignment(lead_id=lead.id, owner_id=owner_id, previous_owner_id=previous_owner_id,
                         reason=reason, detail=detail[:300], by_id=getattr(by, "id", None),
                         at=now or utcnow())
    db.session.add(row)
    if not event:
        return row
    users = {} if users is None else users
    for uid in (owner_id, previous_owner_id):
        if uid not in users:
            users[uid] = light_user(uid)
    emit(LeadAssigned(lead=lead, owner=users[owner_id],
                      previous_owner=users[previous_owner_id], reason=reason, by=by,
                      detail=detail[:300], bulk=bulk))
    return row


def assignable_ids(user: Any) -> Any:
    """Users ``user`` may hand leads to: active, within their record scope."""
    from conveyor.permissions import owner_ids, scope_of

    query = select(User.id).where(User.active.is_(True))
    if scope_of(user) != "all":
        query = query.where(User.id.in_(owner_ids(user)))
    return query


def assign_lead(lead: Lead, owner_id: int | None, *, by: Any, reason: str = "manual",
                detail: str = "") -> bool:
    """Hand ``lead`` to ``owner_id`` (``None`` = back to unassigned). False when unchanged."""
    if owner_id is not None:
        allowed = db.session.scalar(assignable_ids(by).where(User.id == owner_id)) \
            if by is not None else owner_id
        if allowed is None:
            raise AssignError("owner_id", "Unknown user, or one you may not assign leads to.")
    if owner_id == lead.owner_id:
        return False
    now = utcnow()
    previous = lead.owner_id
    lead.owner_id = owner_id
    lead.assigned_at = now if owner_id is not None else None
    lead.last_activity_at = None
    db.session.flush()
    record_assignment(lead, owner_id, previous, reason, detail=detail, by=by, now=now)
    return True


def lead_values(lead: Lead) -> dict[str, Any]:
    return {k: getattr(lead, k) for k in ("industry", "region", "size", "source")}


def form_rule_ids() -> dict[int, int | None]:
    return dict(db.session.execute(select(LeadForm.id, LeadForm.rule_id)).all())


def auto_assign(lead: Lead, *, by: Any = None, reason: str = "rule", exclude: int | None = None,
                form_rules: dict[int, int | None] | None = None) -> bool:
    """Assign by the rules; never raises (a failure leaves the lead to the sweep)."""
    form_rules = form_rules if form_rules is not None else (
        {lead.form_id: db.session.scalar(select(LeadForm.rule_id).where(
            LeadForm.id == lead.form_id))} if lead.form_id else {})
    try:
        with db.session.begin_nested():
            picked = pick_owner(lead_values(lead), form_rule_id=form_rules.get(lead.form_id),
                                exclude=exclude)
            if picked is None:
                return False
            owner_id, rule = picked
            now = utcnow()
            previous = lead.owner_id
            lead.owner_id, lead.assigned_at, lead.last_activity_at = owner_id, now, None
            db.session.flush()
            record_assignment(lead, owner_id, previous, reason, detail=rule.name, by=by, now=now)
        return True
    except Exception:  # noqa: BLE001 - the lead is stored; the sweep will try again
        log.exception("automatic assignment of lead %s failed", lead.id)
        return False


# --- The sweep --------------------------------------------------------------------------------


@dataclass
class SweepResult:
    assigned: int = 0
    reassigned: int = 0
    no_rule: int = 0
    no_other_seller: int = 0
    skipped: int = 0


def stale_cutoff(now: datetime, days: int | None = None) -> datetime:
    return now - timedelta(days=days if days is not None else setting("leads.stale_days"))


def followed_up_at() -> Any:
    return func.coalesce(Lead.last_activity_at, Lead.assigned_at, Lead.created_at)


def stale_criteria(cutoff: datetime) -> Any:
    return and_(Lead.owner_id.isnot(None), Lead.status.in_(OPEN_STATUSES),
                followed_up_at() < cutoff)


def _candidates(criteria: Any, after: int, batch: int) -> list[int]:
    return list(db.session.scalars(select(Lead.id).where(criteria).where(Lead.id > after)
                                   .order_by(Lead.id).limit(written_limit(batch))))


def sweep(*, now: datetime | None = None, days: int | None = None, batch: int = 200,
          dry_run: bool = False) -> SweepResult:
    """Assign unassigned open leads, then reassign stale ones. Idempotent; safe to run
    concurrently (each lead in its own short transaction, condition re-checked)."""
    from .intake import drain

    now = now or utcnow()
    cutoff = stale_cutoff(now, days)
    result = SweepResult()
    if not dry_run:
        drain()  # captures a crashed process stored but never finished
    form_rules = form_rule_ids()
    for stale, criteria in ((False, and_(Lead.owner_id.is_(None), open_criteria())),
                            (True, stale_criteria(cutoff))):
        after = 0
        while ids := _candidates(criteria, after, batch):
            db.session.rollback()  # end the read: each lead gets a fresh, short transaction
            for lead_id in ids:
                _sweep_one(lead_id, criteria, stale, form_rules, now, result, dry_run)
            after = ids[-1]
    return result


def sweep_job() -> None:
    """The ``leads.sweep`` job (schedule ``leads.sweep_minutes``): :func:`sweep` with the
    settings; each lead is its own short transaction, so a retry redoes only what is left."""
    result = sweep()
    log.info("lead sweep: %s assigned, %s reassigned", result.assigned, result.reassigned)


def _sweep_one(lead_id: int, criteria: Any, stale: bool, form_rules: dict[int, int | None],
               now: datetime, result: SweepResult, dry_run: bool) -> None:
    session = db.session
    try:
        # No lock yet: the rule's cursor is always taken before a lead's row (as a capture
        # does), so the sweep and a capture merging into this lead can never deadlock.
        lead = session.scalar(select(Lead).where(Lead.id == lead_id, criteria))
        if lead is None:  # taken by a concurrent run, or followed up meanwhile
            result.skipped += 1
            session.rollback()
            return
        previous = lead.owner_id
        picked = pick_owner(lead_values(lead), form_rule_id=form_rules.get(lead.form_id),
                            exclude=previous, now=now)
        if picked is None:
            if stale:
                result.no_other_seller += 1
            else:
                result.no_rule += 1
            session.rollback()
            return
        owner_id, rule = picked
        if dry_run:
            result.reassigned += stale
            result.assigned += not stale
            session.rollback()
            return
        # Re-checked in the UPDATE itself: on SQLite there is no row lock to rely on.
        done = session.execute(
            update(Lead).where(Lead.id == lead_id, criteria)
            .where(Lead.owner_id.is_(None) if previous is None else Lead.owner_id == previous)
            .values(owner_id=owner_id, assigned_at=now, last_activity_at=None, updated_at=now)
            .execution_options(synchronize_session=False))
        if done.rowcount != 1:
            result.skipped += 1
            session.rollback()
            return
        session.refresh(lead)
        reason = "stale" if stale else "sweep"
        days = setting("leads.stale_days")
        detail = (f"{rule.name}: not followed up in {days} days" if stale else rule.name)
        record_assignment(lead, owner_id, previous, reason, detail=detail, now=now)
        session.commit()
        if stale:
            result.reassigned += 1
        else:
            result.assigned += 1
    except DBAPIError:  # a lock or snapshot conflict with a concurrent run: next run retries
        log.warning("sweep skipped lead %s after a database conflict", lead_id, exc_info=True)
        session.rollback()
        result.skipped += 1


def assign_batch(leads: list[Lead], *, reason: str, detail: str = "", by: Any = None,
                 now: datetime | None = None, events: bool = True) -> list[int]:
    """The rules for many leads at once (the intake, an import): one cursor bump of ``+n`` per
    rule, so a batch costs a handful of statements, and turns stay fair with concurrent captures.
    ``events=False`` (imports) records the assignment rows without a LeadAssigned per lead."""
    rules = load_rules()
    now = now or utcnow()
    hour = local_hour(now)
    form_rules = form_rule_ids() if any(lead.form_id for lead in leads) else {}
    groups: dict[int, list[Lead]] = {}
    for lead in leads:
        values = lead_values(lead)
        first = form_rules.get(lead.form_id)
        rule = next((r for r in sorted(rules, key=lambda r: r.id != first)
                     if r.pool and r.matches(values, hour)), None)
        if rule is not None:
            groups.setdefault(rule.id, []).append(lead)
    by_id = {r.id: r for r in rules}
    table = LeadRule.__table__
    assigned: list[int] = []
    users: dict[int | None, User | None] = {}
    for rule_id, items in groups.items():
        rule, n = by_id[rule_id], len(items)
        end = db.session.execute(update(table).where(table.c.id == rule_id).values(
            rr_cursor=table.c.rr_cursor + n).returning(table.c.rr_cursor)).scalar_one()
        start = end - n
        if rule.strategy == "least_loaded":
            counts = dict(db.session.execute(
                select(Lead.owner_id, func.count()).where(Lead.owner_id.in_(rule.pool))
                .where(open_criteria()).group_by(Lead.owner_id)).all())
            load = {u: counts.get(u, 0) for u in rule.pool}
            owners = []
            for i in range(n):
                low = min(load.values())
                ties = [u for u in rule.pool if load[u] == low]
                owner = ties[(start + i) % len(ties)]
                load[owner] += 1
                owners.append(owner)
        else:
            owners = [rule.pool[(start + i) % len(rule.pool)] for i in range(n)]
        for lead, owner in zip(items, owners):
            previous = lead.owner_id
            lead.owner_id, lead.assigned_at, lead.last_activity_at = owner, now, None
            record_assignment(lead, owner, previous, reason,
                              detail=f"{rule.name} · {detail}" if detail else rule.name,
                              by=by, now=now, bulk=True, event=events, users=users)
            assigned.append(owner)
    db.session.flush()
    return assigned
