"""Deals without a next step, kept as a summary in the transaction of every change.

``activities_deal_steps`` holds one row per open deal: its owner and how many planned activities
it has. "Deals without a next step" are its rows with ``planned = 0``, kept by a partial index
on (owner, deal), so a seller's count and first rows are one range of that index: what it costs
follows the deals shown, not the seller's open deals or their activities (the old query probed
the activities' index once for each open deal).

Kept by:

- activity writes through the ORM (created, done, cancelled, reopened, moved to another deal,
  deleted): each flush adds its changes to the counts of the deals concerned, one ``UPDATE …
  SET planned = planned + n`` per flush (increments: two transactions changing one deal's
  activities at once both count);
- the bulk deletes of a series' occurrences (:func:`forget_deleted`);
- deal writes (the core's ``deal_rows_flushed`` hook, :func:`on_deals_flushed`): a deal
  created or reopened gets its row (with its planned activities counted), a closed one loses
  it, a new owner is written to it — one statement for each kind of change in a flush, none
  for a move between open stages; a deleted deal's row goes with it (foreign key cascade).

A deal is open when its ``closed_at`` is empty, which the core keeps in step with its stage
(won or lost: closed). :func:`rebuild` recomputes the whole table from deals and activities
(``conveyor activities rebuild-next-steps``): after a bulk load that bypassed the ORM. (Whether a
stage is won or lost cannot change once deals have been in it: the admin screen refuses.)
"""
from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    event,
    func,
    insert,
    inspect,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session, object_session

from conveyor import db, owner_ids, scope, scope_of
from conveyor.dialects import dialect_module
from conveyor.models import Customer, Deal, Stage
from conveyor.queries import written_limit

from .models import Activity, DealSteps

STEPS = DealSteps.__table__
ACTIVITIES = Activity.__table__
DEALS = Deal.__table__
PLANNED = "planned"
_DELTAS = "activities_next_step_deltas"
# Literal, not a bound parameter: only then may SQLite and PostgreSQL use the partial index.
LACKING = STEPS.c.planned == literal_column("0")


# --- activities: what each flush adds to or takes from the deals' planned counts ------------------


def _add(session: Session | None, deal_id: int | None, n: int) -> None:
    if session is None or deal_id is None or not n:
        return
    deltas = session.info.setdefault(_DELTAS, defaultdict(int))
    deltas[deal_id] += n


def _counts(status: Any, deal_id: Any) -> bool:
    return status == PLANNED and deal_id is not None


@event.listens_for(Activity, "after_insert")
def _inserted(mapper: Any, connection: Connection, target: Activity) -> None:
    if _counts(target.status, target.deal_id):
        _add(object_session(target), target.deal_id, 1)


def _old(state: Any, name: str) -> tuple[bool, Any]:
    """Whether the attribute changed in this flush, and its value before (active history)."""
    history = state.attrs[name].history
    if not history.has_changes():
        return False, history.unchanged[0] if history.unchanged else getattr(state.obj(), name)
    return True, history.deleted[0] if history.deleted else None


@event.listens_for(Activity, "after_update")
def _updated(mapper: Any, connection: Connection, target: Activity) -> None:
    state = inspect(target)
    status_changed, old_status = _old(state, "status")
    deal_changed, old_deal = _old(state, "deal_id")
    if not (status_changed or deal_changed):
        return
    session = object_session(target)
    if _counts(old_status, old_deal):
        _add(session, old_deal, -1)
    if _counts(target.status, target.deal_id):
        _add(session, target.deal_id, 1)


@event.listens_for(Activity, "before_delete")
def _deleted(mapper: Any, connection: Connection, target: Activity) -> None:
    state = inspect(target)
    if "status" in state.unloaded or "deal_id" in state.unloaded:
        row = connection.execute(select(ACTIVITIES.c.status, ACTIVITIES.c.deal_id).where(
            ACTIVITIES.c.id == target.id)).first()
        status, deal_id = (row.status, row.deal_id) if row else (None, None)
    else:
        status, deal_id = target.status, target.deal_id
    if _counts(status, deal_id):
        _add(object_session(target), deal_id, -1)


@event.listens_for(Session, "before_flush")
def _forget_stale(session: Session, flush_context: Any, instances: Any) -> None:
    """A flush that failed left its deltas behind: they were never written."""
    session.info.pop(_DELTAS, None)


@event.listens_for(Session, "after_flush")
def _write_deltas(session: Session, flush_context: Any) -> None:
    deltas = session.info.pop(_DELTAS, None)
    if deltas:
        apply_deltas(session.connection(), deltas)


def apply_deltas(conn: Connection, deltas: dict[int, int]) -> None:
    """``planned += n`` for each deal: one UPDATE per distinct ``n`` (a flush has one or two).
    A deal without a row (closed, or not yet written) is left alone."""
    by_n: dict[int, list[int]] = defaultdict(list)
    for deal_id, n in deltas.items():
        if n:
            by_n[n].append(deal_id)
    for n, deal_ids in sorted(by_n.items()):
        conn.execute(update(STEPS).where(STEPS.c.deal_id.in_(sorted(deal_ids)))
                     .values(planned=STEPS.c.planned + n))


def forget_deleted(conn: Connection, deal_ids: list[int | None]) -> None:
    """The planned activities of these deals deleted in bulk (one deal id per row, as a
    ``DELETE … RETURNING deal_id`` gives them): taken from the counts."""
    deltas: dict[int, int] = defaultdict(int)
    for deal_id in deal_ids:
        if deal_id is not None:
            deltas[deal_id] -= 1
    apply_deltas(conn, deltas)


# --- deals: rows for the open ones, from the core's hook -----------------------------------------


def _open(values: dict[str, Any] | None) -> bool:
    return values is not None and values.get("closed_at") is None


def _planned_count(deal_id: Any) -> Any:
    return (select(func.count()).select_from(ACTIVITIES)
            .where(ACTIVITIES.c.deal_id == deal_id, ACTIVITIES.c.status == PLANNED)
            .scalar_subquery())


@cache
def _open_rows(dialect_name: str) -> Any:
    """The upsert of an opened deal's row (its planned activities counted), with bind
    parameters ``deal_id``, ``owner_id`` and ``counted`` (the deal again): built once per
    dialect and run with a list of rows, instead of built and compiled on every new deal."""
    dialect = dialect_module(dialect_name)
    if dialect is None:
        raise LookupError(f"no upsert on {dialect_name}")
    stmt = dialect.insert(STEPS).values(
        deal_id=bindparam("deal_id", type_=STEPS.c.deal_id.type),
        owner_id=bindparam("owner_id", type_=STEPS.c.owner_id.type),
        planned=_planned_count(bindparam("counted", type_=STEPS.c.deal_id.type)))
    return stmt.on_conflict_do_update(
        index_elements=[STEPS.c.deal_id],
        set_={"owner_id": stmt.excluded.owner_id, "planned": stmt.excluded.planned})


def on_deals_flushed(conn: Connection, session: Session, changes: list[Any]) -> None:
    """The ``deal_rows_flushed`` hook: a row for each deal created or reopened (its planned
    activities counted, so the activity deltas of the same flush are dropped for it), none for
    a closed one, the new owner of one handed over. Nothing for moves between open stages."""
    opened: dict[int, Any] = {}
    closed: list[int] = []
    owners: dict[int, Any] = {}
    for change in changes:
        if change.new is None:  # deleted: its row went with it (ON DELETE CASCADE)
            continue
        was, now = _open(change.old), _open(change.new)
        if now and not was:
            opened[change.deal_id] = change.new.get("owner_id")
        elif was and not now:
            closed.append(change.deal_id)
        elif now and change.old.get("owner_id") != change.new.get("owner_id"):
            owners[change.deal_id] = change.new.get("owner_id")
    if closed:
        conn.execute(delete(STEPS).where(STEPS.c.deal_id.in_(sorted(closed))))
    if opened:
        pending = session.info.get(_DELTAS)
        if pending:  # counted below from the table, which already holds this flush's rows
            for deal_id in opened:
                pending.pop(deal_id, None)
        conn.execute(_open_rows(conn.dialect.name), [
            {"deal_id": deal_id, "owner_id": owner, "counted": deal_id}
            for deal_id, owner in sorted(opened.items())])
    for owner, deal_ids in _grouped(owners).items():
        conn.execute(update(STEPS).where(STEPS.c.deal_id.in_(deal_ids)).values(owner_id=owner))


def _grouped(owners: dict[int, Any]) -> dict[Any, list[int]]:
    out: dict[Any, list[int]] = defaultdict(list)
    for deal_id, owner in sorted(owners.items()):
        out[owner].append(deal_id)
    return out


# --- rebuild -------------------------------------------------------------------------------------


def open_stage_ids() -> Any:
    return select(Stage.id).where(Stage.is_won.is_(False), Stage.is_lost.is_(False))


def rebuild(conn: Connection) -> int:
    """Recompute the table from deals (open: in a stage neither won nor lost) and their planned
    activities; returns its rows. The caller commits."""
    conn.execute(delete(STEPS))
    conn.execute(insert(STEPS).from_select(
        ["deal_id", "owner_id", "planned"],
        select(DEALS.c.id, DEALS.c.owner_id, _planned_count(DEALS.c.id))
        .where(DEALS.c.stage_id.in_(open_stage_ids()))))
    return int(conn.scalar(select(func.count()).select_from(STEPS)) or 0)


# --- reads ---------------------------------------------------------------------------------------


def _owners(user: Any) -> Any:
    """The summary's owners ``user``'s record scope allows: everyone, themselves, or their
    teams' members (read first: the deals' own rule below brings the same list as a CTE of
    the same name, which one statement can't hold twice)."""
    kind = scope_of(user)
    if kind == "all":
        return true()
    ids = owner_ids(user)
    if not isinstance(ids, list):
        ids = list(db.session.scalars(ids))
    return STEPS.c.owner_id.in_(ids)


def deals_without_next_step(user: Any, *, own: bool, limit: int = 10
                            ) -> tuple[list[Any], int]:
    """Open deals without a planned activity, oldest first, as ``(id, title, customer)`` rows:
    ``user``'s own, or all they may see; and how many there are. One statement (two for a
    team: its members first): the rows are a range of the summary's partial index, and so is
    the count of one's own; a team's count is of the same range checked against the deals'
    record rules (``scope``), so it too follows the deals counted, not the team's deals."""
    if own:
        db.session.flush()  # the session's pending changes count, as they would in its execute
        rows = db.session.connection().execute(_own_statement(limit), {"me": user.id}).all()
    else:
        query = _lacking(limit).where(_owners(user), scope(Deal, user)).add_columns(
            func.count().over().label("total"))
        rows = db.session.execute(query).all()
    return rows, (rows[0].total if rows else 0)


def _lacking(limit: int) -> Any:
    return (select(STEPS.c.deal_id.label("id"), Deal.title, Customer.name.label("customer"))
            .select_from(STEPS)
            .join(Deal, Deal.id == STEPS.c.deal_id)
            .join(Customer, Customer.id == Deal.customer_id)
            .where(LACKING, Deal.stage_id.in_(open_stage_ids()))
            .order_by(STEPS.c.deal_id).limit(written_limit(limit)))


@cache
def _own_statement(limit: int) -> Any:
    """``:me``'s first deals without a next step and their count, built once per process."""
    mine = STEPS.c.owner_id == bindparam("me")
    counted = select(func.count()).select_from(STEPS).where(mine, LACKING)
    # Not correlated: the count is of the summary's rows, not of the row it sits next to.
    return _lacking(limit).where(mine).add_columns(
        counted.correlate(None).scalar_subquery().label("total"))
