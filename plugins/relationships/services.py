"""Write operations on relationship types: follow one customer, override, recompute all.

Every path computes the type from the data with :func:`rules.type_statement`, under a
per-customer lock (PostgreSQL: ``SELECT … FOR UPDATE`` on the state row; SQLite serialises
writers), so a burst of concurrent wins ends in the type the committed data gives.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

from conveyor import emit
from conveyor.models import Customer
from conveyor.types import UTCDateTime, utcnow

from .events import RelationshipChanged
from .models import TYPES, RelationshipState, RelationshipTransition
from .rules import Rules, type_params, type_statement
from .type_counts import COUNTED, add_moves, move_written, moves_grouped, sync_counts, sync_range
from .type_counts import rebuild as rebuild_counts
from .won_ledger import LEDGER, rebuild, sync_customers, sync_types

STATE = RelationshipState.__table__
TRANSITION = RelationshipTransition.__table__


class OverrideError(ValueError):
    """An override was refused (unknown type, missing reason)."""


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _insert_ignore(session: Session) -> Any:
    """``INSERT … ON CONFLICT (customer_id) DO NOTHING`` for the state table."""
    if _dialect(session) == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(STATE).on_conflict_do_nothing(index_elements=["customer_id"])


_LOCK_STATE = select(STATE).where(STATE.c.customer_id == bindparam("cid")).with_for_update()


def _locked_state(session: Session, customer_id: int) -> Any:
    # Core statements on the session's connection: the ORM's execution layer adds nothing here.
    return session.connection().execute(_LOCK_STATE, {"cid": customer_id}).first()


def _transition(session: Session, customer_id: int, old: str | None, new: str, cause: str,
                by: Any, owner_id: int | None, at: datetime, reason: str = "") -> None:
    session.execute(insert(TRANSITION).values(
        customer_id=customer_id, from_type=old, to_type=new, at=at, cause=cause[:60],
        by_id=getattr(by, "id", None), owner_id=owner_id, reason=reason[:500]))
    move_written(session, owner_id, at, old, new)


def _announce(session: Session, customer_id: int, old: str | None, new: str, cause: str,
              by: Any) -> None:
    emit(RelationshipChanged(customer=session.get(Customer, customer_id), old=old, new=new,
                             cause=cause, by=by), session)


# What a new open deal cannot move: a customer computed "potential" has won nothing (every type
# above it needs a win, and "lapsed" too), and one more open deal is interest in itself,
# whatever the time — so it stays "potential" without computing the type again.
KEPT_BY_AN_OPEN_DEAL = frozenset({"potential"})


def refresh_customer(session: Session, customer_id: int, cause: str, by: Any = None,
                     now: datetime | None = None, flush: bool = True,
                     open_deal_added: bool = False) -> str | None:
    """Bring one customer's type in line with the data, inside the caller's transaction.

    ``open_deal_added``: the change is an open deal created for the customer (and nothing
    else), which cannot move a type in :data:`KEPT_BY_AN_OPEN_DEAL`: the state row, locked,
    is then all that is read.

    :return: the new type when it changed, else ``None``. An override holds until the
        computed type changes; then the computed type replaces it.
    """
    if flush:
        session.flush()
    row = _locked_state(session, customer_id)
    if open_deal_added and row is not None and row.computed_type in KEPT_BY_AN_OPEN_DEAL:
        return None
    now = now or utcnow()
    rules = Rules.from_settings()
    statement = type_statement(rules, "one")
    params = type_params(now, rules, customer_id=customer_id)
    conn = session.connection()
    if row is None:  # first sight of this customer: insert, or lose the race and lock
        computed = conn.execute(statement, params).first()
        if computed is None:
            return None  # customer gone
        inserted = session.execute(_insert_ignore(session).values(
            customer_id=customer_id, type=computed.computed, computed_type=computed.computed,
            since=now, cause=cause[:60], by_id=getattr(by, "id", None), override=False,
            override_reason="").returning(STATE.c.customer_id)).first()
        if inserted is not None:  # a first type is not a move: the state row says since/why
            _announce(session, customer_id, None, computed.computed, cause, by)
            return computed.computed
        row = _locked_state(session, customer_id)
    computed = conn.execute(statement, params).first()
    if computed is None:
        return None
    new = computed.computed
    if new == row.computed_type and (row.override or new == row.type):
        return None
    values: dict[str, Any] = {"computed_type": new}
    if row.override:
        values.update(override=False, override_reason="", override_by_id=None, override_at=None)
    changed = new != row.type
    if changed:
        values.update(type=new, since=now, cause=cause[:60], by_id=getattr(by, "id", None))
    session.execute(update(STATE).where(STATE.c.customer_id == customer_id).values(**values))
    if not changed:
        return None
    _transition(session, customer_id, row.type, new, cause, by, computed.owner_id, now)
    _announce(session, customer_id, row.type, new, cause, by)
    return new


def refresh_customers(session: Session, customer_ids: Any, cause: str, by: Any = None,
                      flush: bool = True, open_deal_added: bool = False) -> set[int]:
    """Several customers, in id order so two transactions never lock in opposite orders.

    :return: the customers whose type changed (or was recorded for the first time).
    """
    changed = set()
    for cid in sorted({c for c in customer_ids if c is not None}):
        if refresh_customer(session, cid, cause, by, flush=flush,
                            open_deal_added=open_deal_added) is not None:
            changed.add(cid)
    return changed


def set_override(session: Session, customer_id: int, new_type: str, reason: str, by: Any,
                 now: datetime | None = None) -> None:
    """Show ``new_type`` whatever the data says, until the data moves or someone clears it."""
    reason = (reason or "").strip()
    if new_type not in TYPES:
        raise OverrideError(f"unknown relationship type {new_type!r}")
    if not reason:
        raise OverrideError("an override needs a reason")
    now = now or utcnow()
    refresh_customer(session, customer_id, "recompute", by, now)  # make sure a row exists
    row = _locked_state(session, customer_id)
    if row is None:
        raise LookupError(customer_id)
    values: dict[str, Any] = {"override": True, "override_reason": reason[:500],
                              "override_by_id": getattr(by, "id", None), "override_at": now}
    changed = new_type != row.type
    if changed:
        values.update(type=new_type, since=now, cause="override", by_id=getattr(by, "id", None))
    session.execute(update(STATE).where(STATE.c.customer_id == customer_id).values(**values))
    if changed:
        owner_id = session.scalar(select(Customer.owner_id).where(Customer.id == customer_id))
        _transition(session, customer_id, row.type, new_type, "override", by, owner_id, now,
                    reason)
        _announce(session, customer_id, row.type, new_type, "override", by)
        sync_counts(session, [customer_id])
        sync_customers(session, [customer_id])  # its won deals count under the new type


def clear_override(session: Session, customer_id: int, by: Any,
                   now: datetime | None = None) -> bool:
    """Drop an override: the computed type shows again. Returns False when none was set."""
    now = now or utcnow()
    before = _locked_state(session, customer_id)
    if before is None or not before.override:
        return False
    refresh_customer(session, customer_id, "recompute", by, now)  # new data clears it anyway
    row = _locked_state(session, customer_id)
    if not row.override:
        return True
    values: dict[str, Any] = {"override": False, "override_reason": "", "override_by_id": None,
                              "override_at": None}
    changed = row.computed_type != row.type
    if changed:
        values.update(type=row.computed_type, since=now, cause="override_cleared",
                      by_id=getattr(by, "id", None))
    session.execute(update(STATE).where(STATE.c.customer_id == customer_id).values(**values))
    if changed:
        owner_id = session.scalar(select(Customer.owner_id).where(Customer.id == customer_id))
        _transition(session, customer_id, row.type, row.computed_type, "override_cleared", by,
                    owner_id, now)
        _announce(session, customer_id, row.type, row.computed_type, "override_cleared", by)
        sync_counts(session, [customer_id])
        sync_customers(session, [customer_id])
    return True


# ---------------------------------------------------------------------------------------------
# Recompute: every customer, set-based.
# ---------------------------------------------------------------------------------------------


@dataclass
class RecomputeResult:
    customers: int = 0
    changed: int = 0  # had a type, got another (each one a transition)
    new: int = 0  # typed for the first time (no transition: a first type is not a move)
    batches: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


def _scratch_table() -> Table:
    """A temporary table holding one batch's computed types (never in the app's metadata)."""
    return Table("relationships_recompute", MetaData(),
                 Column("customer_id", Integer, primary_key=True),
                 Column("owner_id", Integer), Column("computed", String(12)),
                 prefixes=["TEMPORARY"])


def _lock_for_recompute(session: Session) -> None:
    """Hold off event refreshes while a batch computes, so none is overwritten with stale data."""
    if _dialect(session) == "postgresql":
        session.connection().exec_driver_sql(
            "LOCK TABLE relationships_state IN EXCLUSIVE MODE")
    else:  # a write first: SQLite takes its one writer lock before we read a snapshot
        session.execute(update(STATE).where(literal(False)).values(type=STATE.c.type))


BULK_FILL_MIN = 20_000  # customers in a first-fill batch from which _bulk_load pays off


@contextmanager
def _bulk_load(conn: Connection, id_range: tuple[int, int] | None) -> Iterator[None]:
    """A large first fill on PostgreSQL, the way its manual says to populate a table: without
    the foreign keys and the secondary index while the rows go in, then both rebuilt — one index
    build and one join validating each key instead of a trigger and an index insertion per row
    (the keys are right by construction: the rows come from ``customers``). PostgreSQL's DDL is
    transactional, so a failure leaves the table as it was. It runs only on an empty state
    table, whose EXCLUSIVE lock the batch already holds; re-adding the keys briefly holds
    writes to customers and users until the commit. The definitions come from the model's
    table, so they are exactly the migrations' (the drift test checks the model)."""
    size = (id_range[1] - id_range[0] + 1) if id_range else BULK_FILL_MIN
    if conn.dialect.name != "postgresql" or size < BULK_FILL_MIN or \
            conn.execute(select(STATE.c.customer_id).limit(1)).first() is not None:
        yield
        return
    keys = sorted((c for c in STATE.constraints if isinstance(c, ForeignKeyConstraint)),
                  key=lambda c: str(c.name))
    indexes = sorted(STATE.indexes, key=lambda i: str(i.name))
    for key in keys:
        conn.execute(DropConstraint(key))
    for index in indexes:
        conn.execute(DropIndex(index))
    yield
    for index in indexes:
        conn.execute(CreateIndex(index))
    for key in keys:
        conn.execute(AddConstraint(key))


def recompute_batch(session: Session, rules: Rules, now: datetime,
                    id_range: tuple[int, int] | None = None) -> tuple[int, int]:
    """One batch in the caller's transaction: five statements, or one when no customer of the
    batch has a state row yet (a first run: nothing to compare, nothing to record).

    :return: (customers whose type changed, customers typed for the first time).
    """
    mode = "all" if id_range is None else "range"
    types = type_statement(rules, mode).subquery("t")
    params = type_params(now, rules, id_range=id_range)
    conn = session.connection()
    in_batch = STATE.c.customer_id.between(*id_range) if id_range else true()
    if conn.execute(select(STATE.c.customer_id).where(in_batch).limit(1)).first() is None:
        first = insert(STATE).from_select(
            ["customer_id", "type", "computed_type", "since", "cause", "override",
             "override_reason"],
            select(types.c.customer_id, types.c.computed, types.c.computed,
                   literal(now, UTCDateTime()), literal("recompute"), literal(False, Boolean()),
                   literal("")))
        with _bulk_load(conn, id_range):
            new = conn.execute(first.execution_options(preserve_rowcount=True),
                               params).rowcount
        sync_types(session, id_range)
        sync_range(session, id_range)
        return 0, new
    scratch = _scratch_table()
    scratch.create(conn)
    try:
        computed = conn.execute(insert(scratch).from_select(
            ["customer_id", "owner_id", "computed"], type_statement(rules, mode))
            .execution_options(preserve_rowcount=True), params).rowcount
        if _dialect(session) == "postgresql":
            conn.exec_driver_sql("ANALYZE relationships_recompute")
        s, n = STATE, scratch
        keeps = and_(s.c.override.is_(True), s.c.computed_type == n.c.computed)
        effective = case((keeps, s.c.type), else_=n.c.computed)
        moved = s.c.type != effective
        changes = conn.execute(insert(TRANSITION).from_select(
            ["customer_id", "from_type", "to_type", "at", "cause", "owner_id", "reason"],
            select(n.c.customer_id, s.c.type, effective, literal(now, UTCDateTime()),
                   literal("recompute"), n.c.owner_id, literal(""))
            .select_from(n.join(s, s.c.customer_id == n.c.customer_id)).where(moved))
            .execution_options(preserve_rowcount=True)).rowcount
        conn.execute(update(s).where(s.c.customer_id == n.c.customer_id)
                     .where((s.c.computed_type != n.c.computed) | moved)
                     .values(type=effective, computed_type=n.c.computed,
                             since=case((moved, literal(now, UTCDateTime())), else_=s.c.since),
                             cause=case((moved, literal("recompute")), else_=s.c.cause),
                             by_id=case((moved, None), else_=s.c.by_id),
                             override=case((keeps, True), else_=False),
                             override_reason=case((keeps, s.c.override_reason), else_=""),
                             override_by_id=case((keeps, s.c.override_by_id), else_=None),
                             override_at=case((keeps, s.c.override_at), else_=None)))
        # State rows reference customers, so as many of them in the batch as computed types
        # means none is missing: a count on the primary key instead of an anti-join.
        have = conn.execute(select(func.count()).select_from(s).where(in_batch)).scalar_one()
        new = 0 if have >= computed else conn.execute(insert(s).from_select(
            ["customer_id", "type", "computed_type", "since", "cause", "override",
             "override_reason"],
            select(n.c.customer_id, n.c.computed, n.c.computed, literal(now, UTCDateTime()),
                   literal("recompute"), literal(False, Boolean()), literal(""))
            .where(~select(s.c.customer_id).where(s.c.customer_id == n.c.customer_id)
                   .exists())).execution_options(preserve_rowcount=True)).rowcount
    finally:
        scratch.drop(conn)
    if changes:
        t = TRANSITION.c
        batch = (t.at == literal(now, UTCDateTime())) & (t.cause == "recompute")
        if id_range is not None:
            batch = batch & t.customer_id.between(*id_range)
        add_moves(conn, moves_grouped(conn, batch))
        sync_types(session, id_range)
    if changes or new:
        sync_range(session, id_range)
    return changes, new


def recompute(session: Session, batch_size: int = 0, now: datetime | None = None,
              commit: bool = True) -> RecomputeResult:
    """Rebuild every type from the data; idempotent.

    Transitions are recorded (cause ``recompute``) only where a type changed; overrides hold
    unless the computed type moved. No per-customer events: this is a bulk operation. With
    ``commit`` (the command) each batch is its own transaction; without it (demo seeding) all
    runs in the caller's transaction.
    """
    now = now or utcnow()
    rules = Rules.from_settings()
    result = RecomputeResult()
    if commit:
        session.commit()
    else:
        session.flush()
    low, high = session.execute(select(func.min(Customer.id), func.max(Customer.id))).one()
    if low is not None:
        step = batch_size if batch_size > 0 else high - low + 1
        start = low
        while start <= high:
            if commit:
                session.commit()
                _lock_for_recompute(session)
            moved, new = recompute_batch(session, rules, now, (start, start + step - 1))
            result.changed += moved
            result.new += new
            result.batches += 1
            start += step
    if session.execute(select(LEDGER.c.deal_id).limit(1)).first() is None:
        rebuild(session)  # first run (or the sums were never filled): from the deals at once
    if session.execute(select(COUNTED.c.customer_id).limit(1)).first() is None:
        rebuild_counts(session)
    for kind, count in session.execute(select(STATE.c.type, func.count())
                                       .group_by(STATE.c.type)):
        result.by_type[kind] = count
        result.customers += count
    if commit:
        session.commit()
    return result
