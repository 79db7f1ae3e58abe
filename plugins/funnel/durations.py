"""Time in stage and the sales cycle from histograms kept with every deal change.

A duration is counted in **whole hours**: the whole seconds of its end (its timestamp's seconds
since 1970, fractions dropped) minus those of its start, divided by 3,600 and rounded towards
zero. The median and 90th percentile are exact over those hour values (``percentile_cont``'s
interpolation: rank ``1 + p·(n − 1)``), the mean is exact over the whole seconds. The pages show
days with one decimal (2.4 hours), so the hour is finer than anything shown.

``funnel_durations`` (models.py) keeps, per kind ("s" stays, "c" sales cycle of won deals),
stage, owner and month (the month the stay ended / the deal closed), how many durations fell in
each block of :data:`BLOCK_HOURS` hours and in each hour. A percentile reads the blocks of the
selected owners and months (a few dozen rows per owner, month and stage), finds the block its
rank falls in, then reads that block's hours: what it reads follows owners × months, not the
deals. Everyone's figures read the rows summed over all owners (``owner_id`` :data:`EVERYONE`).
Days of a period outside its whole months are read from the history itself, grouped by hour.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    Integer,
    String,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    union_all,
)

from conveyor import db

from .models import BLOCK_HOURS, EVERYONE, FunnelDuration
from .periods import Period, add_months, month_start

U = FunnelDuration.__table__
STAY, CYCLE = "s", "c"
BLOCKS, HOURS = "c", "f"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = 3600
SECOND = timedelta(seconds=1)
# Percentiles as fractions of integers, so the rank arithmetic is exact.
FRACTIONS = {0.5: (1, 2), 0.9: (9, 10)}


def whole_seconds(at: datetime) -> int:
    """Seconds since 1970 with the fraction dropped (as SQLite's strftime('%s'))."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (at - EPOCH) // SECOND


def _toward_zero(a: int, b: int) -> int:
    """Integer division rounded towards zero, as SQL's."""
    q = abs(a) // b
    return q if a >= 0 else -q


def hours_of(seconds: int) -> int:
    return _toward_zero(seconds, HOUR)


def block_of(hours: int) -> int:
    return _toward_zero(hours, BLOCK_HOURS)


def month_of(day: date) -> date:
    return day.replace(day=1)


# --- kept with every change (summaries.on_flush) --------------------------------------------


def add_duration(deltas: Any, kind: str, stage_id: int, owner: int, month: date, seconds: int,
                 sign: int) -> None:
    """One duration's rows: its block and its hour, for its owner and for everyone."""
    hours = hours_of(seconds)
    block = block_of(hours)
    for who in (owner, EVERYONE):
        deltas.add((kind, BLOCKS, stage_id, 0, who, month, block), sign, sign * seconds)
        deltas.add((kind, HOURS, stage_id, block, who, month, hours), sign, sign * seconds)


def add_stays(deltas: Any, rows: list[dict[str, Any]], owner: int, sign: int) -> None:
    """A deal's completed stays (each history row to the next, rows in (at, id) order)."""
    for a, b in zip(rows, rows[1:]):
        add_duration(deltas, STAY, a["to_stage_id"], owner, month_of(b["at"].date()),
                     whole_seconds(b["at"]) - whole_seconds(a["at"]), sign)


def add_cycle(deltas: Any, values: dict[str, Any] | None, won: set[int], sign: int) -> None:
    """A won deal's sales cycle (created → closed), by the month it closed."""
    if values is None or values.get("closed_at") is None or values["stage_id"] not in won \
            or values.get("created_at") is None:
        return
    closed, created = _aware(values["closed_at"]), _aware(values["created_at"])
    add_duration(deltas, CYCLE, values["stage_id"], values.get("owner_id") or 0,
                 month_of(closed.date()), whole_seconds(closed) - whole_seconds(created), sign)


def _aware(at: Any) -> datetime:
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


KEYS = ("kind", "grain", "stage_id", "bucket", "owner_id", "month", "value")
VALUES = ("count", "seconds")


# --- rebuilt from deals and history ---------------------------------------------------------


def seconds_sql(dialect: str, column: Any) -> Any:
    """A timestamp's whole seconds since 1970, as an integer, on either database."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), BigInteger)
    # The fraction cut off as text first: SQLite rounds it to milliseconds, so 10.9996 s would
    # count as 11.
    return cast(func.strftime("%s", func.substr(column, 1, 19)), Integer)


def rebuild(conn: Connection) -> int:
    """Recompute ``funnel_durations`` from ``stage_history`` and ``deals``: the hour rows per
    owner in one pass over the history (and one over the won deals), the blocks and everyone's
    rows from those. The caller commits."""
    from conveyor.models import Deal, Stage, StageHistory

    from .summaries import _bucket_sql

    D, H, S = Deal.__table__, StageHistory.__table__, Stage.__table__
    dialect = conn.dialect.name
    conn.execute(delete(U))
    owner = func.coalesce(D.c.owner_id, 0)
    secs = seconds_sql(dialect, H.c.at)
    order = (H.c.at, H.c.id)
    chained = (select(H.c.to_stage_id.label("stage_id"), owner.label("owner_id"),
                      secs.label("start"),
                      func.lead(secs).over(partition_by=H.c.deal_id, order_by=order)
                      .label("end"),
                      func.lead(H.c.at).over(partition_by=H.c.deal_id, order_by=order)
                      .label("left_at"))
               .select_from(H.join(D, D.c.id == H.c.deal_id)).subquery())
    won = select(S.c.id).where(S.c.is_won.is_(True))
    cycles = (select(D.c.stage_id.label("stage_id"), owner.label("owner_id"),
                     seconds_sql(dialect, D.c.created_at).label("start"),
                     seconds_sql(dialect, D.c.closed_at).label("end"),
                     D.c.closed_at.label("left_at"))
              .where(D.c.closed_at.is_not(None), D.c.created_at.is_not(None),
                     D.c.stage_id.in_(won)).subquery())
    cols = ["kind", "grain", "stage_id", "bucket", "owner_id", "month", "value", "count",
            "seconds"]
    for kind, src in ((STAY, chained), (CYCLE, cycles)):
        duration = src.c.end - src.c.start
        hours = duration // HOUR
        month = _bucket_sql(conn, "m", src.c.left_at)
        conn.execute(insert(U).from_select(cols, select(
            literal(kind, String(1)), literal(HOURS, String(1)), src.c.stage_id,
            hours // BLOCK_HOURS, src.c.owner_id, month, hours, func.count(),
            func.sum(duration))
            .where(src.c.left_at.is_not(None))
            .group_by(src.c.stage_id, src.c.owner_id, month, hours)))
    fine = U.alias("fine")
    conn.execute(insert(U).from_select(cols, select(
        fine.c.kind, literal(BLOCKS, String(1)), fine.c.stage_id, literal(0), fine.c.owner_id,
        fine.c.month, fine.c.bucket, func.sum(fine.c.count), func.sum(fine.c.seconds))
        .where(fine.c.grain == HOURS)
        .group_by(fine.c.kind, fine.c.stage_id, fine.c.owner_id, fine.c.month, fine.c.bucket)))
    every = U.alias("every")
    conn.execute(insert(U).from_select(cols, select(
        every.c.kind, every.c.grain, every.c.stage_id, every.c.bucket, literal(EVERYONE),
        every.c.month, every.c.value, func.sum(every.c.count), func.sum(every.c.seconds))
        .where(every.c.owner_id != EVERYONE)
        .group_by(every.c.kind, every.c.grain, every.c.stage_id, every.c.bucket,
                  every.c.month, every.c.value)))
    return int(conn.scalar(select(func.count()).select_from(U)) or 0)


# --- read -----------------------------------------------------------------------------------


@dataclass
class Histogram:
    """Durations of one selection: how many, their whole seconds, counts per block; the hours
    of the blocks a percentile needs are added by :func:`percentiles`."""

    n: int = 0
    seconds: int = 0
    blocks: dict[int, int] = field(default_factory=dict)
    hours: dict[int, dict[int, int]] = field(default_factory=dict)  # block -> hour -> count
    edge_hours: dict[int, int] = field(default_factory=dict)  # from the history (partial months)

    def add(self, hours: int, count: int, seconds: int) -> None:
        self.n += count
        self.seconds += seconds
        block = block_of(hours)
        self.blocks[block] = self.blocks.get(block, 0) + count
        self.edge_hours[hours] = self.edge_hours.get(hours, 0) + count


@dataclass
class Figures:
    n: int
    mean_days: float
    percentiles: dict[float, float]  # fraction -> days


def whole_months(period: Period) -> tuple[date, date]:
    """The period's whole calendar months ``[first, last)`` (first == last when none)."""
    first = period.start if period.start.day == 1 else add_months(month_start(period.start), 1)
    last = month_start(period.end)
    return (first, last) if first < last else (first, first)


def _owner_params(owners: list[int] | None) -> dict[str, Any]:
    return {} if owners is None else {"owners": list(owners)}


def _selected(everyone: bool) -> list[Any]:
    """The selected owners' rows (or everyone's) in the selected months, as bound parameters."""
    owner = (U.c.owner_id == EVERYONE if everyone
             else U.c.owner_id.in_(bindparam("owners", expanding=True)))
    return [owner, U.c.month >= bindparam("first", type_=Date()),
            U.c.month < bindparam("last", type_=Date())]


_BUILT: dict[tuple[Any, ...], Any] = {}


def _blocks_query(everyone: bool) -> Any:
    """Per stage and block: durations and their seconds (built once, parameters bound)."""
    key = ("blocks", everyone)
    if key not in _BUILT:
        _BUILT[key] = (
            select(U.c.stage_id, U.c.value, func.sum(U.c.count), func.sum(U.c.seconds))
            .where(U.c.kind == bindparam("kind"), U.c.grain == BLOCKS,
                   U.c.stage_id.in_(bindparam("stages", expanding=True)), U.c.bucket == 0,
                   *_selected(everyone))
            .group_by(U.c.stage_id, U.c.value))
    return _BUILT[key]


def _hours_query(everyone: bool, parts: int) -> Any:
    """Per wanted (stages, block), numbered ``i``: durations per hour of that block."""
    key = ("hours", everyone, parts)
    if key not in _BUILT:
        selects = [select(literal(i).label("i"), U.c.value, func.sum(U.c.count).label("n"))
                   .where(U.c.kind == bindparam("kind"), U.c.grain == HOURS,
                          U.c.stage_id.in_(bindparam(f"s{i}", expanding=True)),
                          U.c.bucket == bindparam(f"b{i}"), *_selected(everyone))
                   .group_by(U.c.value)
                   for i in range(parts)]
        _BUILT[key] = selects[0] if parts == 1 else union_all(*selects)
    return _BUILT[key]


def figures(kind: str, groups: dict[Any, list[int]], owners: list[int] | None, period: Period,
            fractions: tuple[float, ...], edges: Any) -> dict[Any, Figures]:
    """Percentiles (in days), count and mean of the durations of each group of stages.

    ``edges(start, end)`` gives ``(stage_id, hours, count, seconds)`` rows for durations that
    ended in ``[start, end)`` from the history itself: used for the days outside whole months.
    Two statements over the summary (blocks, then the hours of the blocks the ranks fall in)."""
    stage_group = {sid: key for key, sids in groups.items() for sid in sids}
    hist: dict[Any, Histogram] = {key: Histogram() for key in groups}
    first, last = whole_months(period)
    if first < last and stage_group:
        for sid, block, count, seconds in db.session.execute(
                _blocks_query(owners is None), {**_owner_params(owners), "kind": kind,
                                                "stages": list(stage_group), "first": first,
                                                "last": last}):
            h = hist[stage_group[sid]]
            h.n += int(count)
            h.seconds += int(seconds)
            h.blocks[int(block)] = h.blocks.get(int(block), 0) + int(count)
    outside = []
    if first < last:
        if period.start < first:
            outside.append((period.start, first))
        if last < period.end:
            outside.append((last, period.end))
    else:
        outside.append((period.start, period.end))
    for start, end in outside:
        for sid, hours, count, seconds in edges(_at(start), _at(end)):
            if sid in stage_group:
                hist[stage_group[sid]].add(int(hours), int(count), int(seconds))
    wanted: dict[Any, dict[float, tuple[int, int, float]]] = {}
    need: set[tuple[Any, int]] = set()
    for key, h in hist.items():
        if not h.n:
            continue
        ranks: dict[float, tuple[int, int, int, int]] = {}
        for f in fractions:
            num, den = FRACTIONS[f]
            lo = (h.n - 1) * num // den  # 0-based
            rest = (h.n - 1) * num % den  # the rank's fraction is rest / den, exactly
            hi = min(lo + 1, h.n - 1)
            ranks[f] = (lo, hi, rest, den)
            for rank in (lo, hi):
                need.add((key, _block_at(h.blocks, rank)))
        wanted[key] = ranks
    if need and first < last:
        order = sorted(need, key=repr)
        params = {**_owner_params(owners), "kind": kind, "first": first, "last": last}
        for i, (key, block) in enumerate(order):
            params[f"s{i}"], params[f"b{i}"] = groups[key], block
        for i, hours, count in db.session.execute(_hours_query(owners is None, len(order)),
                                                  params):
            key, block = order[i]
            per = hist[key].hours.setdefault(block, {})
            per[int(hours)] = per.get(int(hours), 0) + int(count)
    out: dict[Any, Figures] = {}
    for key, ranks in wanted.items():
        h = hist[key]
        for hours, count in h.edge_hours.items():
            per = h.hours.setdefault(block_of(hours), {})
            per[hours] = per.get(hours, 0) + count
        values = {}
        for f, (lo, hi, rest, den) in ranks.items():
            v_lo, v_hi = _hours_at(h, lo), _hours_at(h, hi)
            # One division of integers, rounded once: at a tie of the shown decimal (27.85
            # days) a float interpolation could fall either side of it.
            values[f] = (v_lo * den + (v_hi - v_lo) * rest) / (den * 24)
        out[key] = Figures(h.n, h.seconds / h.n / 86400, values)
    return out


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _block_at(blocks: dict[int, int], rank: int) -> int:
    """The block holding the ``rank``-th duration (0-based, in order)."""
    seen = 0
    for block in sorted(blocks):
        seen += blocks[block]
        if rank < seen:
            return block
    raise ValueError("rank beyond the histogram")


def _hours_at(h: Histogram, rank: int) -> int:
    seen = 0
    for block in sorted(h.blocks):
        if rank < seen + h.blocks[block]:
            per = h.hours.get(block, {})
            for hours in sorted(per):
                seen += per[hours]
                if rank < seen:
                    return hours
            raise ValueError(f"summary blocks and hours disagree {block} {h.hours}")
        seen += h.blocks[block]
    raise ValueError("rank beyond the histogram")


def grouped_by_hour(key: Any, start: Any, end: Any, where: list[Any], src: Any) -> Any:
    """``SELECT key, hours, count, seconds`` of durations ``end - start`` (timestamps) in
    ``src``, grouped by key and whole hours: the days of a period outside whole months."""
    dialect = db.engine.dialect.name
    secs = (seconds_sql(dialect, end) - seconds_sql(dialect, start)).label("secs")
    inner = select(key.label("key"), secs).select_from(src).where(*where).subquery()
    hours = inner.c.secs // HOUR
    return (select(inner.c.key, hours, func.count(), func.sum(inner.c.secs))
            .group_by(inner.c.key, hours))
