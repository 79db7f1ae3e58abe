"""Customers per owner and type, and moves per owner and day, kept so the reports read rows
of sellers × types (× days), never customers or transitions.

- ``relationships_counted``: each customer as it is counted (owner, type; never typed = cold);
- ``relationships_type_count``: how many customers per (owner, type) — what the reports read;
- ``relationships_move_day``: moves (transitions with a ``from``) per owner credited, UTC day,
  from and to — the append-only log summed, added to with each transition written.

Kept in the transaction of each change: a customer's type (events, overrides, each recompute
batch), its owner (``CustomerUpdated``), its creation, its deletion (an ORM listener: the core
deletes customers without an event). Rebuilt by ``relationships rebuild-counts`` and by a first
recompute; the tests check them against the GROUP BY over customers they replace. ``owner_id`` 0
stands for no owner.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Index, Integer, String, bindparam, delete, event, func, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from conveyor import db
from conveyor.models import Customer

from .models import TYPE_LENGTH, RelationshipState, RelationshipTransition


class CountedCustomer(db.Model):
    """A customer as the counts hold it (no key: a bulk change is mended by a rebuild)."""

    __tablename__ = "relationships_counted"

    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner_id: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(TYPE_LENGTH))


class TypeCount(db.Model):
    """Customers per owner and type."""

    __tablename__ = "relationships_type_count"

    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(TYPE_LENGTH), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class MoveDay(db.Model):
    """Moves per owner credited (0: none), UTC day, from and to type."""

    __tablename__ = "relationships_move_day"
    __table_args__ = (Index("ix_relationships_move_day_day", "day", "owner_id", "from_type",
                            "to_type", "count"),)

    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    from_type: Mapped[str] = mapped_column(String(TYPE_LENGTH), primary_key=True)
    to_type: Mapped[str] = mapped_column(String(TYPE_LENGTH), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


COUNTED = CountedCustomer.__table__
COUNTS = TypeCount.__table__
MOVES = MoveDay.__table__
TRANSITION = RelationshipTransition.__table__
Deltas = dict[tuple[int, str], int]


def customers_source() -> Any:
    """Every customer as counted, from ``customers`` and the recorded types."""
    return (select(Customer.id, func.coalesce(Customer.owner_id, 0),
                   func.coalesce(RelationshipState.type, "cold"))
            .select_from(Customer)
            .outerjoin(RelationshipState, RelationshipState.customer_id == Customer.id))


def _upsert(conn: Any) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(COUNTS)
    return stmt.on_conflict_do_update(index_elements=[COUNTS.c.owner_id, COUNTS.c.type],
                                      set_={"count": COUNTS.c.count + stmt.excluded.count})


def apply_deltas(conn: Any, deltas: Deltas) -> None:
    changes = [{"owner_id": o, "type": t, "count": n} for (o, t), n in sorted(deltas.items())
               if n]
    if not changes:
        return
    conn.execute(_upsert(conn), changes)
    if all(c["count"] > 0 for c in changes):
        return  # nothing went down: no row can have reached zero
    conn.execute(delete(COUNTS).where(COUNTS.c.owner_id == bindparam("o"),
                                      COUNTS.c.type == bindparam("t"), COUNTS.c.count <= 0),
                 [{"o": c["owner_id"], "t": c["type"]} for c in changes])


def sync_counts(session: Session, customer_ids: Iterable[int]) -> None:
    """Bring these customers' counted rows (and the counts) in line with the data."""
    ids = sorted({c for c in customer_ids if c is not None})
    if not ids:
        return
    conn = session.connection()
    true_rows = {r[0]: (int(r[1]), r[2]) for r in conn.execute(
        customers_source().where(Customer.id.in_(ids)))}
    held = {r[0]: (int(r[1]), r[2]) for r in conn.execute(
        select(COUNTED.c.customer_id, COUNTED.c.owner_id, COUNTED.c.type)
        .where(COUNTED.c.customer_id.in_(ids)))}
    deltas: Deltas = {}
    gone, fresh = [], []
    for cid in ids:
        was, now = held.get(cid), true_rows.get(cid)
        if was == now:
            continue
        if was is not None:
            deltas[was] = deltas.get(was, 0) - 1
            gone.append(cid)
        if now is not None:
            deltas[now] = deltas.get(now, 0) + 1
            fresh.append({"customer_id": cid, "owner_id": now[0], "type": now[1]})
    if gone:
        conn.execute(delete(COUNTED).where(COUNTED.c.customer_id.in_(gone)))
    if fresh:
        conn.execute(insert(COUNTED), fresh)
    apply_deltas(conn, deltas)


def _grouped(conn: Any, query: Any) -> Deltas:
    sub = query.subquery()
    owner, kind = list(sub.c)[1], list(sub.c)[2]
    return {(int(o), t): int(n) for o, t, n in conn.execute(
        select(owner, kind, func.count()).group_by(owner, kind))}


def sync_range(session: Session, id_range: tuple[int, int] | None = None) -> None:
    """Set-based, for a recompute batch: the customers in ``id_range`` (all when ``None``)
    counted again — their old and new rows grouped, the difference applied."""
    conn = session.connection()
    held = select(COUNTED.c.customer_id, COUNTED.c.owner_id, COUNTED.c.type)
    source = customers_source()
    if id_range is not None:
        held = held.where(COUNTED.c.customer_id.between(*id_range))
        source = source.where(Customer.id.between(*id_range))
    deltas = {key: -n for key, n in _grouped(conn, held).items()}
    for key, n in _grouped(conn, source).items():
        deltas[key] = deltas.get(key, 0) + n
    if id_range is None:
        conn.execute(delete(COUNTED))
    else:
        conn.execute(delete(COUNTED).where(COUNTED.c.customer_id.between(*id_range)))
    conn.execute(insert(COUNTED).from_select(["customer_id", "owner_id", "type"], source))
    apply_deltas(conn, deltas)


def _moves_upsert(conn: Any) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(MOVES)
    return stmt.on_conflict_do_update(
        index_elements=[MOVES.c.owner_id, MOVES.c.day, MOVES.c.from_type, MOVES.c.to_type],
        set_={"count": MOVES.c.count + stmt.excluded.count})


def add_moves(conn: Any, moves: dict[tuple[int, date, str, str], int]) -> None:
    """Add ``{(owner, day, from, to): n}`` (negative to take away); empty rows removed."""
    changes = [{"owner_id": o, "day": d, "from_type": a, "to_type": b, "count": n}
               for (o, d, a, b), n in sorted(moves.items()) if n]
    if not changes:
        return
    conn.execute(_moves_upsert(conn), changes)
    if any(c["count"] < 0 for c in changes):
        conn.execute(delete(MOVES).where(MOVES.c.count <= 0))


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def moves_grouped(conn: Any, where: Any) -> dict[tuple[int, date, str, str], int]:
    """Transitions matching ``where`` that are moves, grouped as the day sums keep them."""
    t = TRANSITION
    day = func.date(t.c.at)
    owner = func.coalesce(t.c.owner_id, 0)
    return {(int(o), _day(d), a, b): int(n) for o, d, a, b, n in conn.execute(
        select(owner, day, t.c.from_type, t.c.to_type, func.count())
        .where(where, t.c.from_type.is_not(None))
        .group_by(owner, day, t.c.from_type, t.c.to_type))}


def move_written(session: Session, owner_id: int | None, at: datetime, old: str | None,
                 new: str) -> None:
    """One transition was written: count it if it is a move (it has a ``from``)."""
    if old is not None:
        add_moves(session.connection(), {(owner_id or 0, at.date(), old, new): 1})


def moves_statement(owner_ids: list[int] | None, first: date, last: date) -> Any:
    """The report's statement: (owner, from, to, moves) in ``[first, last]`` for these owners
    (``None``: all)."""
    query = (select(MOVES.c.owner_id, MOVES.c.from_type, MOVES.c.to_type, func.sum(MOVES.c.count))
             .where(MOVES.c.day >= first, MOVES.c.day <= last)
             .group_by(MOVES.c.owner_id, MOVES.c.from_type, MOVES.c.to_type))
    if owner_ids is not None:
        query = query.where(MOVES.c.owner_id.in_(owner_ids) if len(owner_ids) != 1
                            else MOVES.c.owner_id == owner_ids[0])
    return query


def rebuild(session: Session) -> int:
    """The counts from ``customers`` and the types, and the moves from the log, again (the
    command)."""
    conn = session.connection()
    conn.execute(delete(MOVES))
    add_moves(conn, moves_grouped(conn, TRANSITION.c.id.is_not(None)))
    conn.execute(delete(COUNTS))
    conn.execute(delete(COUNTED))
    conn.execute(insert(COUNTED).from_select(["customer_id", "owner_id", "type"],
                                             customers_source()))
    conn.execute(insert(COUNTS).from_select(
        ["owner_id", "type", "count"],
        select(COUNTED.c.owner_id, COUNTED.c.type, func.count())
        .group_by(COUNTED.c.owner_id, COUNTED.c.type)))
    return int(conn.execute(select(func.count()).select_from(COUNTED)).scalar_one())


def counts_statement(owner_ids: list[int] | None) -> Any:
    """The report's statement: (owner, type, customers) for these owners (``None``: all)."""
    query = select(COUNTS.c.owner_id, COUNTS.c.type, COUNTS.c.count)
    if owner_ids is not None:
        query = query.where(COUNTS.c.owner_id.in_(owner_ids) if len(owner_ids) != 1
                            else COUNTS.c.owner_id == owner_ids[0])
    return query


@event.listens_for(Customer, "before_delete")
def _customer_deleted(mapper: Any, connection: Any, target: Any) -> None:
    """The core deletes a customer without an event (its log goes by cascade): uncount it and
    its moves in the same flush."""
    from .follow import _enabled

    if not _enabled():
        return
    gone = moves_grouped(connection, TRANSITION.c.customer_id == target.id)
    add_moves(connection, {key: -n for key, n in gone.items()})
    row = connection.execute(select(COUNTED.c.owner_id, COUNTED.c.type)
                             .where(COUNTED.c.customer_id == target.id)).first()
    if row is None:
        return
    connection.execute(delete(COUNTED).where(COUNTED.c.customer_id == target.id))
    apply_deltas(connection, {(int(row[0]), row[1]): -1})
