"""The stage funnel, conversion between stages, win rate, sales cycle and lost reasons.

Every figure is one GROUP BY (plus window functions) in the database; Python only puts the
aggregated rows of at most a few dozen stages side by side. Definitions: docs/plugins/funnel.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select

from conveyor import Total, db

from . import fx
from .durations import CYCLE, figures, grouped_by_hour
from .periods import Period, add_months
from .periods import month_start as month_of
from .sqlparts import (
    D,
    H,
    PipelineInfo,
    StageInfo,
    T,
    entered_since,
    money,
    totals_owner,
)
from .summaries import C, R, summary_owner

DAY = 86400.0


@dataclass
class FunnelRow:
    """Amounts are in the company currency (open deals at today's rate, closed ones at the rate
    of the day they closed); ``total`` / ``weighted_total`` also name the currencies summed and
    those without a rate."""

    stage: StageInfo
    count: int = 0  # open stages: deals in it now; won/lost: deals closed there in the period
    amount: Decimal = Decimal("0.00")
    weighted_amount: Decimal = Decimal("0.00")
    reached: int = 0  # deals that reached this stage (or a later one) in the period
    total: Total = field(default_factory=fx.empty)
    weighted_total: Total = field(default_factory=fx.empty)


@dataclass
class FunnelResult:
    rows: list[FunnelRow]  # open stages and won, in position order
    lost: list[FunnelRow]  # lost stages: deals lost in the period
    problems: list[tuple[StageInfo, StageInfo, int, int]] = field(default_factory=list)

    @property
    def worst_problem(self) -> tuple[StageInfo, StageInfo, int, int] | None:
        """The step where the later stage outgrows the earlier one the most."""
        return max(self.problems, key=lambda p: p[3] - p[2], default=None)


def reached_counts(pipe: PipelineInfo, period: Period, owners: list[int] | None) -> dict[int, int]:
    """Per forward stage S: distinct deals with a history row, in the period, into a non-lost
    stage whose position is ≥ S's (a skip counts as passing).

    Each deal's furthest position in the period, counted per position, then summed from the
    last stage back. For a run of whole months the counts are kept per owner, stage and month
    (``funnel_reached``, summaries.py): a few rows per owner and month. For other periods: For some owners the deals come first (their deals that moved since the
    period began, ``entered_since``) and each one's rows of the period are one probe of
    ``ix_stage_history_deal_at``; for everyone the period's rows are read through
    ``ix_stage_history_to_at``. Neither reads history from before the period."""
    forward = pipe.funnel_stages
    if period.start.day == 1 and period.end.day == 1:  # whole months: the kept summary
        found = dict(db.session.execute(
            select(R.c.stage_id, func.sum(R.c.count))
            .where(R.c.month >= period.start, R.c.month < period.end,
                   R.c.prev_month < period.start, R.c.stage_id.in_([s.id for s in forward]),
                   summary_owner(R, owners))
            .group_by(R.c.stage_id)).all())
        return {s.id: int(found.get(s.id, 0) or 0) for s in forward}
    position = case({s.id: s.position for s in forward}, value=H.c.to_stage_id)
    in_period = [H.c.at >= period.start_dt, H.c.at < period.end_dt]
    if owners is None:
        per_deal = (select(func.max(position).label("pos"))
                    .where(H.c.to_stage_id.in_([s.id for s in forward]), *in_period)
                    .group_by(H.c.deal_id).subquery())
    else:
        furthest = (select(func.max(position)).where(H.c.deal_id == D.c.id, *in_period)
                    .correlate(D).scalar_subquery())
        # MATERIALIZED: one probe per deal (inlined, PostgreSQL ran it for the filter and the
        # grouping alike).
        per_deal = (entered_since(select(furthest.label("pos")), pipe, owners, period.start_dt)
                    .cte("per_deal").prefix_with("MATERIALIZED"))
    per_pos = dict(db.session.execute(
        select(per_deal.c.pos, func.count()).where(per_deal.c.pos.is_not(None))
        .group_by(per_deal.c.pos)).all())
    return _cumulative(forward, per_pos)


def _cumulative(forward: list[StageInfo], per_pos: dict[int, int]) -> dict[int, int]:
    """Deals whose furthest position is each stage's → deals at or past each stage."""
    out: dict[int, int] = {}
    running = 0
    for stage in sorted(forward, key=lambda s: -s.position):
        running += int(per_pos.get(stage.position, 0))
        out[stage.id] = running
    return out


def stage_totals(pipe: PipelineInfo, period: Period, owners: list[int] | None,
                 ) -> dict[int, tuple[int, fx.Sums]]:
    """Deals now in each open stage (from ``deal_stage_totals``, kept with every deal change;
    amounts per currency, dated today), and deals that closed (won or lost) in the period (the
    summary of closed deals by owner, day, stage and currency, ``funnel_closed_totals``)."""
    out: dict[int, tuple[int, fx.Sums]] = {}
    today = fx.today()
    for sid, currency, n, total in db.session.execute(
            select(T.c.stage_id, T.c.currency, T.c.count, T.c.amount)
            .where(T.c.stage_id.in_(pipe.ids_where(open_=True)), totals_owner(owners))):
        count, sums = out.get(sid, (0, {}))
        fx.add(sums, currency, today, money(total))
        out[sid] = (count + int(n), sums)
    day = fx.rate_day(C, period.start)
    closed = (select(C.c.stage_id, C.c.currency, day, func.sum(C.c.count),
                     func.sum(C.c.amount))
              .where(*closed_rows(period, owners, pipe.ids_where(open_=False)))
              .group_by(C.c.stage_id, C.c.currency, day))
    for sid, currency, on, n, total in db.session.execute(closed):
        count, sums = out.get(sid, (0, {}))
        fx.add(sums, currency, fx.as_day(on), money(total))
        out[sid] = (count + int(n), sums)
    return {sid: v for sid, v in out.items() if v[0]}


def closed_rows(period: Period, owners: list[int] | None, stage_ids: list[int]) -> list[Any]:
    """Conditions on ``funnel_closed_totals``: the owners' deals closed in ``stage_ids`` in the
    period (by closing day: periods are whole UTC days)."""
    return [C.c.day >= period.start, C.c.day < period.end, C.c.stage_id.in_(stage_ids),
            summary_owner(C, owners, everyone=True)]


def funnel(pipe: PipelineInfo, period: Period, owners: list[int] | None) -> FunnelResult:
    totals = stage_totals(pipe, period, owners)
    reached = reached_counts(pipe, period, owners)
    book = fx.book_for(*(sums for _n, sums in totals.values()))

    def row(stage: StageInfo) -> FunnelRow:
        count, sums = totals.get(stage.id, (0, {}))
        total = fx.convert(sums, book)
        weighted_total = fx.scaled(total, stage.percent)
        return FunnelRow(stage, count, total.amount, weighted_total.amount,
                         reached.get(stage.id, 0), total, weighted_total)

    rows = [row(s) for s in pipe.funnel_stages]
    lost = [row(s) for s in pipe.stages if s.is_lost]
    open_rows = [r for r in rows if r.stage.is_open]
    problems = [(a.stage, b.stage, a.count, b.count)
                for a, b in zip(open_rows, open_rows[1:]) if b.count > a.count]
    return FunnelResult(rows, lost, problems)


@dataclass
class Step:
    source: StageInfo
    target: StageInfo
    entered: int  # reached the source stage in the period
    passed: int  # of those, reached the target stage (or beyond) in the period

    @property
    def dropped(self) -> int:
        return self.entered - self.passed

    @property
    def rate(self) -> float | None:
        return self.passed / self.entered if self.entered else None


@dataclass
class Conversion:
    steps: list[Step]
    overall: Step | None  # first stage -> won

    @property
    def worst(self) -> Step | None:
        """The step that loses the most deals (the earliest such step on a tie)."""
        losing = [s for s in self.steps if s.dropped > 0]
        return max(losing, key=lambda s: s.dropped, default=None)


def conversion_from(pipe: PipelineInfo, reached: dict[int, int]) -> Conversion:
    forward = pipe.funnel_stages
    steps = [Step(a, b, reached.get(a.id, 0), reached.get(b.id, 0))
             for a, b in zip(forward, forward[1:])]
    won = [s for s in forward if s.is_won]
    overall = (Step(forward[0], won[0], reached.get(forward[0].id, 0), reached.get(won[0].id, 0))
               if forward and won else None)
    return Conversion(steps, overall)


def conversion(pipe: PipelineInfo, period: Period, owners: list[int] | None) -> Conversion:
    return conversion_from(pipe, reached_counts(pipe, period, owners))


@dataclass
class MonthOutcome:
    """Deals won and lost in one calendar month of the period (the first and last month cut to
    the period), amounts in the company currency at each closing day's rate."""

    month: date  # its first day
    won: int = 0
    lost: int = 0
    won_total: Total = field(default_factory=fx.empty)
    lost_total: Total = field(default_factory=fx.empty)


@dataclass
class Outcomes:
    """Won and lost in the period; amounts in the company currency at each deal's closing day's
    rate (``lost_reasons``: reason, deals, converted total)."""

    won: int
    lost: int
    won_total: Total
    lost_total: Total
    cycle_median_days: float | None
    cycle_mean_days: float | None
    lost_reasons: list[tuple[str, int, Total]]
    months: list[MonthOutcome] = field(default_factory=list)

    @property
    def won_amount(self) -> Decimal:
        return self.won_total.amount

    @property
    def lost_amount(self) -> Decimal:
        return self.lost_total.amount

    @property
    def win_rate(self) -> float | None:
        closed = self.won + self.lost
        return self.won / closed if closed else None


def outcomes(pipe: PipelineInfo, period: Period, owners: list[int] | None) -> Outcomes:
    """Deals closed in the period: win rate, sales cycle of the won (created → closed), and
    the lost ones by reason. Counts and amounts from the summary of closed deals (one GROUP BY
    over a few rows per owner and day); the cycle's median and mean (whole hours, whole
    seconds) from the kept histograms of durations (durations.py)."""
    won_ids, lost_ids = pipe.ids_where(won=True), pipe.ids_where(lost=True)
    won_set = set(won_ids)
    # The month chart needs each row's month. Days come as the driver returns them and sums
    # as whole cents: ~2,000 rows for a team's quarter, each added as integers into
    # {(currency, day): cents} per figure, converted once per key (fx.convert_cents).
    day = fx.raw_day(fx.rate_day(C, period.start, by_month=True))
    counts = {True: 0, False: 0}
    sums: dict[bool, dict[tuple[str, Any], int]] = {True: {}, False: {}}
    by_reason: dict[str, list[Any]] = {}  # reason -> [deals, {(currency, day): cents}]
    # The same rows by month (won/lost by month): no statement of their own.
    monthly: dict[date, tuple[list[int], list[dict[tuple[str, Any], int]]]] = {}
    month = month_of(period.start)
    while month < period.end:
        monthly[month] = ([0, 0], [{}, {}])
        month = add_months(month, 1)
    month_by_day: dict[Any, date] = {}
    currencies: set[str] = set()
    for sid, reason, currency, on, n, amount in db.session.execute(
            select(C.c.stage_id, C.c.lost_reason, C.c.currency, day, func.sum(C.c.count),
                   fx.cents(func.sum(C.c.amount)))
            .where(*closed_rows(period, owners, won_ids + lost_ids))
            .group_by(C.c.stage_id, C.c.lost_reason, C.c.currency, day)).all():
        flag = sid in won_set
        n = int(n)
        key = (currency, on)
        currencies.add(currency)
        counts[flag] += n
        flagged = sums[flag]
        flagged[key] = flagged.get(key, 0) + amount
        m = month_by_day.get(on)
        if m is None:
            m = month_by_day[on] = month_of(fx.as_day(on))
        m_counts, m_sums = monthly[m]
        i = 0 if flag else 1
        m_counts[i] += n
        m_sums[i][key] = m_sums[i].get(key, 0) + amount
        if not flag:
            entry = by_reason.get(reason or "")
            if entry is None:
                entry = by_reason[reason or ""] = [0, {}]
            entry[0] += n
            entry[1][key] = entry[1].get(key, 0) + amount

    def edges(start: datetime, end: datetime) -> Any:
        src = entered_since(select(D.c.stage_id, D.c.closed_at, D.c.created_at)
                            .where(D.c.closed_at >= start, D.c.closed_at < end),
                            pipe, owners, start, end, won_ids).subquery()
        return db.session.execute(grouped_by_hour(src.c.stage_id, src.c.created_at,
                                                  src.c.closed_at, [], src))

    cycle = figures(CYCLE, {"won": won_ids}, owners, period, (0.5,), edges).get("won")
    median = mean = None
    if cycle is not None:
        median, mean = cycle.percentiles[0.5], cycle.mean_days
    days = [fx.as_day(on) for on in month_by_day]
    first, last = (min(days), max(days)) if days else (fx.today(), fx.today())
    rate = fx.RateInts(fx.RateBook(currencies, first, last))
    reasons = sorted(((r, n, fx.convert_cents(v, rate)) for r, (n, v) in by_reason.items()),
                     key=lambda x: (-x[1], x[0]))
    months = [MonthOutcome(m, c[0], c[1], fx.convert_cents(s[0], rate),
                           fx.convert_cents(s[1], rate))
              for m, (c, s) in monthly.items()]
    return Outcomes(counts[True], counts[False], fx.convert_cents(sums[True], rate),
                    fx.convert_cents(sums[False], rate), median, mean, reasons, months)
