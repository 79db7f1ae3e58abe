"""Summaries the funnel keeps in the transaction of every deal change, so that what a figure
reads grows with the selection (owners × days), not with the deals or the history behind it.

- ``funnel_closed_totals``: closed deals as they are now by owner, closing day, stage, currency
  and lost reason (won/lost in a period, signed volume and margin, lost reasons), and the same
  summed over all owners (``owner_id`` -1: everyone's figures read a row per day);
- ``funnel_reached``: per owner, stage and month, deals that had a row at or past the stage
  in it, by their previous such month (the funnel's "reached" and conversion for any run of
  whole months, each deal counted once);
- ``funnel_stage_moves``: per owner, stage, currency and day (and month), deals that entered
  minus deals that left (the deals in each stage at a past midnight: now, minus the moves
  since);
- ``funnel_durations``: per owner, stage and month, stays in a stage and sales cycles counted
  by whole hour and by block of hours (durations.py: time in stage and the cycle's median).

Kept by the core's ``deal_rows_flushed`` hook (:func:`on_flush`); :func:`rebuild` recomputes
them from ``deals`` and ``stage_history`` (``conveyor funnel rebuild``, the bench generator,
the migration that adds them). Amounts stay per currency and day, so converting them to the
company currency at the right day's rate stays exact.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    union_all,
)

from conveyor import current_pipelines
from conveyor.dialects import adding_upsert
from conveyor.models import Deal, Stage, StageHistory

from . import durations
from .models import EVERYONE, NO_MONTH, FunnelClosedTotal, FunnelReached, FunnelStageMove

C = FunnelClosedTotal.__table__
R = FunnelReached.__table__
M = FunnelStageMove.__table__
D = Deal.__table__
H = StageHistory.__table__
S = Stage.__table__


def summary_owner(table: Any, owners: list[int] | None, everyone: bool = False) -> Any:
    """The selected owners in a summary table (where 0 stands for no owner). For everyone,
    ``funnel_closed_totals`` also keeps rows summed over all owners (``owner_id``
    :data:`EVERYONE`): ``everyone=True`` reads those, otherwise they are left out."""
    from sqlalchemy import true

    if owners is not None:
        return table.c.owner_id.in_(list(owners))
    if table is C:
        return C.c.owner_id == EVERYONE if everyone else C.c.owner_id != EVERYONE
    return true()


class Stages:
    """Position and lost flag per stage id, from the core's pipeline snapshot (no query)."""

    def __init__(self) -> None:
        pipelines = current_pipelines().pipelines
        self.info = {s.id: s for p in pipelines for s in p.stages}
        self.levels = {p.id: [s for s in p.stages if not s.is_lost] for p in pipelines}

    def position(self, stage_id: int) -> int:
        return self.info[stage_id].position

    def counts(self, stage_id: int | None) -> bool:
        """Whether a row into this stage counts towards "reached" (any non-lost stage)."""
        stage = self.info.get(stage_id) if stage_id is not None else None
        return stage is not None and not stage.is_lost


class Deltas:
    """Additions per key of one summary table, applied in one upsert."""

    def __init__(self) -> None:
        self.rows: dict[tuple[Any, ...], list[Any]] = {}

    def add(self, key: tuple[Any, ...], *values: Any) -> None:
        entry = self.rows.get(key)
        if entry is None:
            self.rows[key] = list(values)
        else:
            for i, v in enumerate(values):
                entry[i] += v

    def apply(self, conn: Connection, table: Any, keys: tuple[str, ...],
              values: tuple[str, ...]) -> None:
        rows = [dict(zip(keys + values, (*k, *v))) for k, v in sorted(self.rows.items())
                if any(v)]
        if not rows:
            return
        # Built once per process and table, run with the rows as parameters: building and
        # compiling a multi-row VALUES on every flush cost more than running it.
        conn.execute(adding_upsert(conn.dialect.name, table, keys, values), rows)


def _owner(values: dict[str, Any]) -> int:
    return values.get("owner_id") or 0


def _closed(deltas: Deltas, values: dict[str, Any] | None, sign: int) -> None:
    if values is None or values.get("closed_at") is None:
        return
    for owner in (_owner(values), EVERYONE):
        key = (owner, values["closed_at"].date(), values["stage_id"], values["currency"],
               values.get("lost_reason") or "")
        deltas.add(key, sign, sign * Decimal(values["amount"] or 0),
                   sign * Decimal(values["margin"] or 0))


def month_of(day: date) -> date:
    return day.replace(day=1)


def _moves(deltas: Deltas, rows: Iterable[dict[str, Any]], deal: dict[str, Any],
           sign: int) -> None:
    """A deal's history rows as stage moves (day and month rows), under the deal's owner,
    currency and amount."""
    amount = Decimal(deal["amount"] or 0)
    owner, currency = _owner(deal), deal["currency"]
    for row in rows:
        day = row["at"].date()
        for grain, on in (("d", day), ("m", month_of(day))):
            deltas.add((owner, grain, on, row["to_stage_id"], currency), sign, sign * amount)
            if row["from_stage_id"] is not None:
                deltas.add((owner, grain, on, row["from_stage_id"], currency), -sign,
                           -sign * amount)


def _reached(deltas: Deltas, rows: list[dict[str, Any]], owner: int, stages: Stages,
             sign: int) -> None:
    """A deal's whole contribution to ``funnel_reached``: per stage, the months it had a row
    at or past it, each with the one before."""
    furthest: dict[date, int] = {}
    pipeline = None
    for row in rows:
        if not stages.counts(row["to_stage_id"]):
            continue
        stage = stages.info[row["to_stage_id"]]
        pipeline = stage.pipeline_id
        month = month_of(row["at"].date())
        furthest[month] = max(furthest.get(month, stage.position), stage.position)
    if pipeline is None:
        return
    months = sorted(furthest)
    for level in stages.levels.get(pipeline, []):
        prev = NO_MONTH
        for month in months:
            if furthest[month] >= level.position:
                deltas.add((owner, month, level.id, prev), sign)
                prev = month


def _history_of(conn: Connection, deal_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    ids = sorted(set(deal_ids))
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    for row in conn.execute(select(H.c.id, H.c.deal_id, H.c.from_stage_id, H.c.to_stage_id,
                                   H.c.at).where(H.c.deal_id.in_(ids))
                            .order_by(H.c.deal_id, H.c.at, H.c.id)):
        values = dict(row._mapping)
        values["at"] = _aware(values["at"])
        out[row.deal_id].append(values)
    return out


@lru_cache(maxsize=4)
def _condensed_statement(dialect: str) -> Any:
    """:func:`_condensed_history`'s statement, built once per dialect."""
    month = (func.date_trunc(literal_column("'month'"), H.c.at) if dialect == "postgresql"
             else func.strftime(literal_column("'%Y-%m'"), H.c.at))
    mine = H.c.deal_id == bindparam("deal_id")
    earlier = H.c.id.not_in(bindparam("added", expanding=True))
    latest = (select(literal_column("0").label("last"), cast(null(), Integer).label("id"),
                     cast(null(), Integer).label("from_stage_id"), H.c.to_stage_id,
                     func.max(H.c.at).label("at"))
              .where(mine, earlier).group_by(H.c.to_stage_id, month))
    last = (select(literal_column("1").label("last"), H.c.id, H.c.from_stage_id,
                   H.c.to_stage_id, H.c.at)
            .where(mine, earlier).order_by(H.c.at.desc(), H.c.id.desc()).limit(1).subquery())
    return union_all(latest, select(last))


def _condensed_history(conn: Connection, deal_id: int, added_ids: set[int],
                       ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """What a move needs of one deal's earlier history, in one statement whose size does not
    grow with it: the latest row into each stage in each month (``funnel_reached`` depends on
    nothing else: the furthest stage of each month) and the deal's last row (the stay a new row
    ends). ``added_ids``: this flush's rows, left out."""
    statement = _condensed_statement(conn.dialect.name)
    condensed, final = [], None
    for row in conn.execute(statement, {"deal_id": deal_id, "added": sorted(added_ids)}):
        values = {"id": row.id, "deal_id": deal_id, "from_stage_id": row.from_stage_id,
                  "to_stage_id": row.to_stage_id, "at": _aware(row.at)}
        if row.last:
            final = values
        else:
            condensed.append(values)
    return condensed, final


def _aware(at: Any) -> datetime:
    from datetime import UTC

    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _deal_now(conn: Connection, session: Any, deal_ids: set[int],
              known: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Owner, currency and amount of deals, from this flush, the session or the database."""
    out = {i: known[i] for i in deal_ids if i in known}
    for deal_id in deal_ids - set(out):
        obj = session.identity_map.get(session.identity_key(Deal, deal_id)) \
            if session is not None else None
        if obj is not None and "owner_id" in obj.__dict__ and "amount" in obj.__dict__ \
                and "currency" in obj.__dict__:
            out[deal_id] = {"owner_id": obj.owner_id, "currency": obj.currency,
                            "amount": obj.amount}
    rest = sorted(deal_ids - set(out))
    if rest:
        for row in conn.execute(select(D.c.id, D.c.owner_id, D.c.currency, D.c.amount)
                                .where(D.c.id.in_(rest))):
            out[row.id] = {"owner_id": row.owner_id, "currency": row.currency,
                           "amount": row.amount}
    return out


def on_flush(conn: Connection, session: Any, changes: list[Any], history: list[dict[str, Any]],
             removed_history: dict[int, list[dict[str, Any]]]) -> None:
    """Turn a flush's deal changes and new history rows into upserts of the summaries: at most
    one statement per summary, plus one read of the history of the deals that moved (for the
    buckets they already reached) or whose owner, currency or amount changed; none for a deal
    the same flush inserted (a new deal's first row comes in the flush that inserts it)."""
    stages = Stages()
    closed, reached, moves, spans = Deltas(), Deltas(), Deltas(), Deltas()
    won = {sid for sid, s in stages.info.items() if s.is_won}
    new_values: dict[int, dict[str, Any]] = {}
    inserted: set[int] = set()  # deals this flush inserted: no history of earlier flushes
    rekey: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    for change in changes:
        _closed(closed, change.old, -1)
        _closed(closed, change.new, +1)
        durations.add_cycle(spans, change.old, won, -1)
        durations.add_cycle(spans, change.new, won, +1)
        if change.new is not None:
            new_values[change.deal_id] = change.new
            if change.old is None:
                inserted.add(change.deal_id)
        if change.old is not None and change.new is None:  # deleted, with its history
            rows = sorted(({**r, "at": _aware(r["at"])}
                           for r in removed_history.get(change.deal_id, [])),
                          key=lambda r: (r["at"], r["id"]))
            _moves(moves, rows, change.old, -1)
            durations.add_stays(spans, rows, _owner(change.old), -1)
            _reached(reached, rows, _owner(change.old), stages, -1)
        elif change.old is not None and any(
                change.old[k] != change.new[k] for k in ("owner_id", "currency", "amount")):
            rekey[change.deal_id] = (change.old, change.new)
    added = [{**h, "at": _aware(h["at"])} for h in history]
    added_ids = {h["id"] for h in added}
    moved = {h["deal_id"] for h in added}
    if not rekey and len(moved - inserted) == 1:
        # One deal moved (a stage move): its reached months and the stay it ends from a
        # condensed read of its history, whatever its length (a row dated before its last one
        # falls through to the whole history).
        if _one_move(conn, session, moves, reached, spans, stages, added, added_ids,
                     (moved - inserted).pop(), new_values):
            moved = moved & inserted
    if rekey or moved:
        # A deal inserted by this flush has only this flush's rows: nothing to read for it.
        past = _history_of(conn, set(rekey) | (moved - inserted))
        past.update({deal_id: [] for deal_id in moved & inserted})
        for deal_id, (old, new) in rekey.items():  # the rows of earlier flushes, re-keyed
            rows = [r for r in past[deal_id] if r["id"] not in added_ids]
            _moves(moves, rows, old, -1)
            _moves(moves, rows, new, +1)
            _reached(reached, rows, _owner(old), stages, -1)
            _reached(reached, rows, _owner(new), stages, +1)
            durations.add_stays(spans, rows, _owner(old), -1)
            durations.add_stays(spans, rows, _owner(new), +1)
        deals = _deal_now(conn, session, moved, new_values)
        for deal_id in sorted(moved):
            deal = deals.get(deal_id)
            if deal is None:
                continue
            mine = sorted((h for h in added if h["deal_id"] == deal_id),
                          key=lambda h: (h["at"], h["id"]))
            _moves(moves, mine, deal, +1)
            earlier = [r for r in past[deal_id] if r["id"] not in added_ids]
            owner = _owner(deal)
            _reached(reached, earlier, owner, stages, -1)
            _reached(reached, earlier + mine, owner, stages, +1)
            after = sorted(earlier + mine, key=lambda r: (r["at"], r["id"]))
            # The stays both orders share (every pair before the first row where they part:
            # all but the last earlier row's, unless a new row is dated before it) cancel out.
            same = 0
            while same < len(earlier) and earlier[same]["id"] == after[same]["id"]:
                same += 1
            durations.add_stays(spans, earlier[max(same - 1, 0):], owner, -1)
            durations.add_stays(spans, after[max(same - 1, 0):], owner, +1)
    closed.apply(conn, C, ("owner_id", "day", "stage_id", "currency", "lost_reason"),
                 ("count", "amount", "margin"))
    reached.apply(conn, R, ("owner_id", "month", "stage_id", "prev_month"), ("count",))
    moves.apply(conn, M, ("owner_id", "grain", "day", "stage_id", "currency"),
                ("count", "amount"))
    spans.apply(conn, durations.U, durations.KEYS, durations.VALUES)


def _one_move(conn: Connection, session: Any, moves: Deltas, reached: Deltas, spans: Deltas,
              stages: Stages, added: list[dict[str, Any]], added_ids: set[int], deal_id: int,
              new_values: dict[int, dict[str, Any]]) -> bool:
    """The summaries' part of new history rows of one deal that already had some, from
    :func:`_condensed_history`; ``False`` (nothing added) when a new row is dated before the
    deal's last one: the stays then need the whole history."""
    condensed, last = _condensed_history(conn, deal_id, added_ids)
    mine = sorted((h for h in added if h["deal_id"] == deal_id),
                  key=lambda h: (h["at"], h["id"]))
    if last is not None and (mine[0]["at"], mine[0]["id"]) < (last["at"], last["id"]):
        return False
    deal = _deal_now(conn, session, {deal_id}, new_values).get(deal_id)
    if deal is None:
        return True
    owner = _owner(deal)
    _moves(moves, mine, deal, +1)
    # "reached" depends on the furthest stage of each month only: the condensed rows give the
    # same figures as the whole history.
    _reached(reached, condensed, owner, stages, -1)
    _reached(reached, condensed + mine, owner, stages, +1)
    # Every new row after the last one: the stays before it are the same in both orders, the
    # last one now ends (what on_flush's general case finds by comparing the two orders).
    durations.add_stays(spans, ([last] if last is not None else []) + mine, owner, +1)
    return True


# --- rebuilding from deals and history ------------------------------------------------------


def _day(conn: Connection, column: Any) -> Any:
    return func.date(column)


def _bucket_sql(conn: Connection, kind: str, column: Any) -> Any:
    """The first day of ``column``'s month / quarter / year, as a date."""
    if conn.dialect.name == "postgresql":
        unit = {"m": "month", "q": "quarter", "y": "year"}[kind]
        return cast(func.date_trunc(unit, column), sa_date())
    if kind == "m":
        return func.strftime("%Y-%m-01", column)
    if kind == "y":
        return func.strftime("%Y-01-01", column)
    month = cast(func.strftime("%m", column), sa_int())
    return func.printf("%s-%02d-01", func.strftime("%Y", column),
                       (month - 1) // 3 * 3 + 1)


def sa_date() -> Any:
    from sqlalchemy import Date

    return Date()


def sa_int() -> Any:
    from sqlalchemy import Integer

    return Integer()


def rebuild(conn: Connection, with_durations: bool = True) -> dict[str, int]:
    """Recompute the four summaries from ``deals`` and ``stage_history`` (after a bulk load
    that bypassed the ORM, or to repair them): a few INSERT … SELECT. The caller commits."""
    owner = func.coalesce(D.c.owner_id, 0)
    for table in (C, R, M):
        conn.execute(delete(table))
    day = _day(conn, D.c.closed_at)
    reason = func.coalesce(D.c.lost_reason, "")
    conn.execute(insert(C).from_select(
        ["owner_id", "day", "stage_id", "currency", "lost_reason", "count", "amount", "margin"],
        select(owner, day, D.c.stage_id, D.c.currency, reason, func.count(),
               func.coalesce(func.sum(D.c.amount), 0), func.coalesce(func.sum(D.c.margin), 0))
        .where(D.c.closed_at.is_not(None))
        .group_by(owner, day, D.c.stage_id, D.c.currency, reason)))
    each = C.alias("each")
    conn.execute(insert(C).from_select(
        ["owner_id", "day", "stage_id", "currency", "lost_reason", "count", "amount", "margin"],
        select(literal(EVERYONE), each.c.day, each.c.stage_id, each.c.currency,
               each.c.lost_reason, func.sum(each.c.count), func.sum(each.c.amount),
               func.sum(each.c.margin))
        .group_by(each.c.day, each.c.stage_id, each.c.currency, each.c.lost_reason)))
    hday = _day(conn, H.c.at)
    entered = (select(owner.label("owner_id"), hday.label("day"),
                      H.c.to_stage_id.label("stage_id"), D.c.currency.label("currency"),
                      literal(1).label("n"), D.c.amount.label("amount"))
               .select_from(H.join(D, D.c.id == H.c.deal_id)))
    left = (select(owner.label("owner_id"), hday.label("day"),
                   H.c.from_stage_id.label("stage_id"), D.c.currency.label("currency"),
                   literal(-1).label("n"), (-D.c.amount).label("amount"))
            .select_from(H.join(D, D.c.id == H.c.deal_id))
            .where(H.c.from_stage_id.is_not(None)))
    both = union_all(entered, left).subquery()
    conn.execute(insert(M).from_select(
        ["owner_id", "grain", "day", "stage_id", "currency", "count", "amount"],
        select(both.c.owner_id, cast(literal("d"), String(1)), both.c.day, both.c.stage_id,
               both.c.currency, func.sum(both.c.n), func.sum(both.c.amount))
        .group_by(both.c.owner_id, both.c.day, both.c.stage_id, both.c.currency)))
    days = M.alias("days")
    month = _bucket_sql(conn, "m", days.c.day)
    conn.execute(insert(M).from_select(
        ["owner_id", "grain", "day", "stage_id", "currency", "count", "amount"],
        select(days.c.owner_id, cast(literal("m"), String(1)), month, days.c.stage_id,
               days.c.currency, func.sum(days.c.count), func.sum(days.c.amount))
        .where(days.c.grain == "d")
        .group_by(days.c.owner_id, month, days.c.stage_id, days.c.currency)))
    # Per deal and month its furthest position (lost stages left out); per stage at or before
    # it, the months in order with the one before (lag).
    hmonth = _bucket_sql(conn, "m", H.c.at)
    per_month = (select(H.c.deal_id.label("deal_id"), owner.label("owner_id"),
                        D.c.pipeline_id.label("pipeline_id"), hmonth.label("month"),
                        func.max(S.c.position).label("position"))
                 .select_from(H.join(D, D.c.id == H.c.deal_id)
                              .join(S, and_(S.c.id == H.c.to_stage_id, S.c.is_lost.is_(False))))
                 .group_by(H.c.deal_id, owner, D.c.pipeline_id, hmonth).subquery())
    level = S.alias("level")
    prev = func.lag(per_month.c.month).over(partition_by=(per_month.c.deal_id, level.c.id),
                                            order_by=per_month.c.month)
    chained = (select(per_month.c.owner_id, level.c.id.label("stage_id"), per_month.c.month,
                      func.coalesce(prev, literal(NO_MONTH, sa_date())).label("prev_month"))
               .select_from(per_month.join(level, and_(
                   level.c.pipeline_id == per_month.c.pipeline_id, level.c.is_lost.is_(False),
                   level.c.position <= per_month.c.position)))
               .subquery())
    conn.execute(insert(R).from_select(
        ["owner_id", "month", "stage_id", "prev_month", "count"],
        select(chained.c.owner_id, chained.c.month, chained.c.stage_id, chained.c.prev_month,
               func.count())
        .group_by(chained.c.owner_id, chained.c.month, chained.c.stage_id,
                  chained.c.prev_month)))
    counts = {t.name: int(conn.scalar(select(func.count()).select_from(t)) or 0)
              for t in (C, R, M)}
    if with_durations:  # False in the migration that adds the first three (funnel_0002)
        counts[durations.U.name] = durations.rebuild(conn)
    return counts
