"""Won amounts kept per day, so a report's cost follows its period, not the company's history.

Two tables, kept in the transaction of the change that moves them:

- ``relationships_won_deal``: one row per won deal as it is counted — owner, UTC day of the close,
  the customer's relationship type now, currency, amount in cents. It is what makes the sums
  correctable: a change is applied as the difference between what was counted and what is true.
- ``relationships_won_day``: count and cents per (owner, day, type, currency), the sums of the
  first. Reports read only these rows: for a period, owners × days × types × currencies at most.

Who moves them: the deal events the plugin already follows (won, reopened, lost, deleted,
changed amount, currency, owner, customer or close) sync the customers concerned deal by deal;
a customer's type change (event, override, recompute) moves its rows to the new type. Both are
rebuilt from ``deals`` by ``relationships rebuild-won`` (and checked against a brute-force
GROUP BY over ``deals`` in the tests). ``owner_id`` 0 stands for a deal without owner.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Index,
    Integer,
    String,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from conveyor import company_currency, db
from conveyor.models import Deal, Stage

from .models import TYPE_LENGTH, RelationshipState


class WonDeal(db.Model):
    """A won deal as the day sums count it (no keys: a bulk delete is mended by a rebuild)."""

    __tablename__ = "relationships_won_deal"
    __table_args__ = (Index("ix_relationships_won_deal_customer", "customer_id"),
                      Index("ix_relationships_won_deal_type_customer", "type", "customer_id"))

    deal_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    customer_id: Mapped[int] = mapped_column(Integer)
    owner_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    type: Mapped[str] = mapped_column(String(TYPE_LENGTH))
    currency: Mapped[str] = mapped_column(String(3))
    cents: Mapped[int] = mapped_column(BigInteger)


class WonDay(db.Model):
    """Won deals per owner, UTC day, customer type and currency: count and cents."""

    __tablename__ = "relationships_won_day"
    __table_args__ = (Index("ix_relationships_won_day_day", "day", "owner_id", "type",
                            "currency", "count", "cents"),)

    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    type: Mapped[str] = mapped_column(String(TYPE_LENGTH), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    cents: Mapped[int] = mapped_column(BigInteger, default=0)


LEDGER = WonDeal.__table__
DAYS = WonDay.__table__
Key = tuple[int, date, str, str]


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def won_deals_source() -> Any:
    """Every won deal as the ledger holds it, computed from ``deals`` (and the current types)."""
    return (select(Deal.id, Deal.customer_id, func.coalesce(Deal.owner_id, 0),
                   func.date(Deal.stage_entered_at),
                   func.coalesce(RelationshipState.type, "cold"), Deal.currency,
                   func.cast(func.round(Deal.amount * 100), BigInteger))
            .select_from(Deal)
            .outerjoin(RelationshipState, RelationshipState.customer_id == Deal.customer_id)
            .where(Deal.stage_id.in_(select(Stage.id).where(Stage.is_won.is_(True)))))


def _upsert(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(DAYS)
    return stmt.on_conflict_do_update(
        index_elements=[DAYS.c.owner_id, DAYS.c.day, DAYS.c.type, DAYS.c.currency],
        set_={"count": DAYS.c.count + stmt.excluded.count,
              "cents": DAYS.c.cents + stmt.excluded.cents})


def apply_deltas(session: Session, deltas: dict[Key, list[int]]) -> None:
    """Add ``{(owner, day, type, currency): [count, cents]}`` to the day sums; rows reaching
    zero deals are removed."""
    changes = [{"owner_id": o, "day": d, "type": t, "currency": c, "count": n, "cents": cents}
               for (o, d, t, c), (n, cents) in sorted(deltas.items()) if n or cents]
    if not changes:
        return
    session.execute(_upsert(session), changes)
    if all(c["count"] > 0 for c in changes):
        return  # nothing went down: no row can have reached zero
    session.execute(delete(DAYS).where(
        DAYS.c.owner_id == bindparam("o"), DAYS.c.day == bindparam("d"),
        DAYS.c.type == bindparam("t"), DAYS.c.currency == bindparam("c"),
        DAYS.c.count == 0), [{"o": r["owner_id"], "d": r["day"], "t": r["type"],
                              "c": r["currency"]} for r in changes])


def _add(deltas: dict[Key, list[int]], key: Key, count: int, cents: int) -> None:
    entry = deltas.setdefault(key, [0, 0])
    entry[0] += count
    entry[1] += cents


def sync_customers(session: Session, customer_ids: Iterable[int]) -> None:
    """Make the ledger and day sums of these customers' deals match ``deals`` (two reads of
    their rows, writes only for what differs). Call after the change is flushed."""
    ids = sorted({c for c in customer_ids if c is not None})
    if not ids:
        return
    true_rows = {r[0]: r for r in session.execute(
        won_deals_source().where(Deal.customer_id.in_(ids)))}
    # The rows held under these customers, and those of their deals held under another one (a
    # deal moved here): one read, where a second one for the moved deals ran on every win.
    held = {r.deal_id: r for r in session.execute(
        select(LEDGER).where(LEDGER.c.customer_id.in_(ids)
                             | LEDGER.c.deal_id.in_(select(Deal.id)
                                                    .where(Deal.customer_id.in_(ids)))))}
    deltas: dict[Key, list[int]] = {}
    gone, fresh = [], []
    for deal_id, old in held.items():
        new = true_rows.get(deal_id)
        now = None if new is None else (new[1], int(new[2]), _day(new[3]), new[4], new[5],
                                        int(new[6] or 0))
        was = (old.customer_id, old.owner_id, _day(old.day), old.type, old.currency,
               int(old.cents))
        if now == was:
            continue
        _add(deltas, (was[1], was[2], was[3], was[4]), -1, -was[5])
        gone.append(deal_id)
        if now is not None:
            fresh.append((deal_id, now))
    fresh += [(d, (r[1], int(r[2]), _day(r[3]), r[4], r[5], int(r[6] or 0)))
              for d, r in true_rows.items() if d not in held]
    for _deal, (_c, owner, day, kind, currency, cents) in fresh:
        _add(deltas, (owner, day, kind, currency), 1, cents)
    if gone:
        session.execute(delete(LEDGER).where(LEDGER.c.deal_id.in_(gone)))
    if fresh:
        session.execute(insert(LEDGER), [
            {"deal_id": d, "customer_id": c, "owner_id": o, "day": day, "type": t,
             "currency": cur, "cents": cents} for d, (c, o, day, t, cur, cents) in fresh])
    apply_deltas(session, deltas)


def sync_types(session: Session, id_range: tuple[int, int] | None = None) -> int:
    """Move the rows of every customer (in ``id_range``) whose type changed — a recompute, in
    bulk — to the new type: grouped differences, then one UPDATE. Returns the rows moved."""
    state_type = func.coalesce(
        select(RelationshipState.type).where(RelationshipState.customer_id == LEDGER.c.customer_id)
        .scalar_subquery(), "cold")
    stale = LEDGER.c.type != state_type
    if id_range is not None:
        stale = stale & LEDGER.c.customer_id.between(*id_range)
    grouped = session.execute(
        select(LEDGER.c.owner_id, LEDGER.c.day, LEDGER.c.type, state_type.label("new"),
               LEDGER.c.currency, func.count(), func.sum(LEDGER.c.cents))
        .where(stale).group_by(LEDGER.c.owner_id, LEDGER.c.day, LEDGER.c.type, state_type,
                               LEDGER.c.currency)).all()
    if not grouped:
        return 0
    deltas: dict[Key, list[int]] = {}
    moved = 0
    for owner, day, old, new, currency, count, cents in grouped:
        _add(deltas, (owner, _day(day), old, currency), -int(count), -int(cents or 0))
        _add(deltas, (owner, _day(day), new, currency), int(count), int(cents or 0))
        moved += int(count)
    session.execute(update(LEDGER).where(stale).values(type=state_type))
    apply_deltas(session, deltas)
    return moved


def rebuild(session: Session) -> int:
    """Both tables from ``deals`` again, set-based (the command; the bench generator's fill)."""
    session.execute(delete(DAYS))
    session.execute(delete(LEDGER))
    session.execute(insert(LEDGER).from_select(
        ["deal_id", "customer_id", "owner_id", "day", "type", "currency", "cents"],
        won_deals_source()))
    session.execute(insert(DAYS).from_select(
        ["owner_id", "day", "type", "currency", "count", "cents"],
        select(LEDGER.c.owner_id, LEDGER.c.day, LEDGER.c.type, LEDGER.c.currency, func.count(),
               func.sum(LEDGER.c.cents))
        .group_by(LEDGER.c.owner_id, LEDGER.c.day, LEDGER.c.type, LEDGER.c.currency)))
    return int(session.scalar(select(func.count()).select_from(LEDGER)) or 0)


def day_sums(owner_ids: list[int] | None, first: date, last: date) -> Any:
    """The report's statement: (type, currency, day, count, cents) for ``[first, last]``,
    the owners given (``None``: everyone). The company currency converts at 1 on every day, so
    its rows are summed into one per type, dated ``first``: the rows follow the foreign
    currencies' days, not the period's length times every currency."""
    day = case((DAYS.c.currency == company_currency(), literal(first, Date())),
               else_=DAYS.c.day)
    query = (select(DAYS.c.type, DAYS.c.currency, day, func.sum(DAYS.c.count),
                    func.sum(DAYS.c.cents))
             .where(DAYS.c.day >= first, DAYS.c.day <= last)
             .group_by(DAYS.c.type, DAYS.c.currency, day))
    if owner_ids is not None:
        query = query.where(DAYS.c.owner_id.in_(owner_ids) if len(owner_ids) != 1
                            else DAYS.c.owner_id == owner_ids[0])
    return query
