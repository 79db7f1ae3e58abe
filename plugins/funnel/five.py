"""The five numbers a sales manager asks every seller for, per seller and in total, against
the previous period: closed, committed, opportunities, leads, client visits.

Closed: deals won in the period. Opportunities: deals open at the end of the period (now, for a
period not over yet). Committed: those opportunities in a stage at or past
``funnel.committed_percent``. Leads and visits come from other plugins through hooks and are
hidden (``None``) when no plugin answers.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import and_, case, cast, func, or_, select

from conveyor import Total, db, setting
from conveyor.types import utcnow

from . import fx
from .periods import Period, add_months
from .sqlparts import PipelineInfo, T, totals_owner
from .summaries import C, M, summary_owner

NUMBERS = ("closed", "committed", "opportunities", "leads", "visits")


@dataclass
class Figures:
    closed: int = 0
    closed_amount: Decimal = Decimal("0.00")
    committed: int = 0
    committed_amount: Decimal = Decimal("0.00")
    opportunities: int = 0
    opportunities_amount: Decimal = Decimal("0.00")
    leads: int | None = None
    visits_first: int | None = None
    visits_follow_up: int | None = None
    # Amounts are in the company currency; these currencies had no rate and are left out.
    missing_currencies: tuple[str, ...] = ()

    def add(self, other: Figures) -> None:
        for name, value in vars(other).items():
            if value is None:
                continue
            if name == "missing_currencies":
                self.missing_currencies = tuple(sorted(set(self.missing_currencies) | set(value)))
                continue
            mine = getattr(self, name)
            setattr(self, name, value if mine is None else mine + value)


@dataclass
class FiveNumbers:
    period: Period
    previous: Period
    current: dict[int | None, Figures] = field(default_factory=dict)
    before: dict[int | None, Figures] = field(default_factory=dict)
    leads_available: bool = False
    visits_available: bool = False

    def total(self, which: str = "current") -> Figures:
        out = Figures()
        if self.leads_available:
            out.leads = 0
        if self.visits_available:
            out.visits_first = out.visits_follow_up = 0
        for figures in getattr(self, which).values():
            out.add(figures)
        return out

    @property
    def owner_ids(self) -> list[int | None]:
        ids = set(self.current) | set(self.before)
        return sorted(ids, key=lambda i: (i is None, i or 0))


def won_by_owner(pipe: PipelineInfo, period: Period, owners: list[int] | None,
                 by_day: bool = False, starts: list[date] | None = None) -> Any:
    """Deals won in the period per owner, currency and day, from the summary of closed deals
    (``funnel_closed_totals``), amounts in whole cents. The company currency's rows are summed
    into one unless ``by_day`` (a trend puts each row into its own period) — or into one per
    period beginning on ``starts``."""
    if starts:
        day = fx.period_day(C, starts)
    else:
        day = C.c.day if by_day else fx.rate_day(C, period.start)
    return (select(C.c.owner_id, C.c.currency, fx.raw_day(day), func.sum(C.c.count),
                   fx.cents(func.sum(C.c.amount)))
            .where(C.c.day >= period.start, C.c.day < period.end,
                   C.c.stage_id.in_(pipe.ids_where(won=True)), summary_owner(C, owners))
            .group_by(C.c.owner_id, C.c.currency, day))


# [deals, cents by currency, committed deals, committed cents by currency]: open deals count
# at today's rate, so their amounts need no day.
OpenFigures = list[Any]


def _month_after(day: date) -> date:
    """The first of the month from which whole months of moves are summed (``day`` itself when
    it is a first of the month)."""
    return day if day.day == 1 else add_months(day, 1)


def _every_owner(table: Any) -> Any:
    """Every owner of a summary table (users and 0 for nobody) as an IN list its primary key
    can be sought by, owner by owner: without it, a read of the company's recent rows of a
    table keyed (owner, grain, day, …) scans every owner's whole history."""
    from sqlalchemy import literal, union_all

    from conveyor.models import User

    return table.c.owner_id.in_(union_all(select(User.id), select(literal(0))).scalar_subquery())


def open_by_owner_at(pipe: PipelineInfo, moments: Sequence[datetime], owners: list[int] | None,
                     committed_percent: int, now: datetime) -> list[dict[int | None, OpenFigures]]:
    """Open deals per owner at each of ``moments`` (count and amount, all and committed), in two
    statements whatever the number of moments.

    The state now comes from ``deal_stage_totals`` (kept with every deal change). For a past
    midnight (periods end at one) the moves made since are undone: ``funnel_stage_moves`` holds,
    per owner, stage, currency and day, the deals that entered a stage minus those that left it.
    One grouped read covers every moment — whole days up to the end of each moment's month,
    whole months after it, summed in SQL into one column pair per moment — and returns a row
    per owner, stage and currency. What is read grows with the selected owners and the days
    since the earliest moment."""
    committed = {s.id for s in pipe.open_stages if s.percent >= committed_percent}
    open_ids = pipe.ids_where(open_=True)
    outs: list[dict[int | None, OpenFigures]] = [{} for _m in moments]

    def add(out: dict[int | None, OpenFigures], owner: int | None, stage_id: int, currency: str,
            n: int, amount: int) -> None:
        f = out.setdefault(owner, [0, {}, 0, {}])
        f[0] += n
        f[1][currency] = f[1].get(currency, 0) + amount
        if stage_id in committed:
            f[2] += n
            f[3][currency] = f[3].get(currency, 0) + amount

    for owner, stage_id, currency, n, amount in db.session.execute(
            select(T.c.owner_id, T.c.stage_id, T.c.currency, T.c.count, fx.cents(T.c.amount))
            .where(T.c.stage_id.in_(open_ids), totals_owner(owners))):
        for out in outs:
            add(out, owner or None, stage_id, currency, int(n), int(amount))
    past = sorted({m.date() for m in moments if m < now})
    if past:
        # Undo the moves made since each moment: at a midnight, so whole days of
        # ``funnel_stage_moves``, the days to the end of its month and whole months after that.
        def since_day(d: date) -> Any:
            month = _month_after(d)
            whole = and_(M.c.grain == "m", M.c.day >= month)
            return whole if d == month else or_(
                and_(M.c.grain == "d", M.c.day >= d, M.c.day < month), whole)

        days = [and_(M.c.grain == "d", M.c.day >= d, M.c.day < _month_after(d)) for d in past
                if d != _month_after(d)]
        since = or_(*days, and_(M.c.grain == "m", M.c.day >= _month_after(past[0])))
        columns = []
        for d in past:
            columns += [func.sum(case((since_day(d), M.c.count), else_=0)),
                        fx.cents(func.sum(case((since_day(d), M.c.amount), else_=0)))]
        who = _every_owner(M) if owners is None else summary_owner(M, owners)
        rows = db.session.execute(
            select(M.c.owner_id, M.c.stage_id, M.c.currency, *columns)
            .where(since, M.c.stage_id.in_(open_ids), who)
            .group_by(M.c.owner_id, M.c.stage_id, M.c.currency)).all()
        for out, moment in zip(outs, moments):
            if moment >= now:
                continue
            i = 3 + 2 * past.index(moment.date())
            for row in rows:
                n, amount = int(row[i] or 0), int(row[i + 1] or 0)
                if n or amount:
                    add(out, row[0] or None, row[1], row[2], -n, -amount)
    return [{owner: f for owner, f in out.items() if f[0]} for out in outs]


def open_by_owner(pipe: PipelineInfo, at: datetime, owners: list[int] | None,
                  committed_percent: int, now: datetime) -> dict[int | None, OpenFigures]:
    """Open deals per owner at the moment ``at`` (see :func:`open_by_owner_at`)."""
    return open_by_owner_at(pipe, [at], owners, committed_percent, now)[0]


def won_converted(pipe: PipelineInfo, periods: Sequence[Period], owners: list[int] | None
                  ) -> list[dict[int | None, tuple[int, Total]]] | None:
    """Deals won in each of ``periods`` per owner, converted in the statement (SQLite): each
    ``funnel_closed_totals`` row at its currency's rate in force on its day
    (:func:`fx.rate_units_at`), cents × rate units added as integers (:func:`fx.unit_parts`),
    a row per owner — instead of ~30,000 (owner, currency, day) rows converted in Python for
    the company's year. None when a sum is not an exact integer (an overflow): the caller then
    converts in Python."""
    from sqlalchemy import Integer, distinct, exc

    from conveyor.queries import written_limit

    first = min(p.start for p in periods)
    last = max(p.end for p in periods)
    cents = cast(func.round(C.c.amount * 100), Integer())
    which = case(*[(and_(C.c.day >= p.start, C.c.day < p.end), i)
                   for i, p in enumerate(periods)])
    # LIMIT -1 keeps the rows a subquery of their own: flattened into the sums below, the
    # rate's correlated seek would run once for every sum that names it.
    rows = (select(C.c.owner_id, which.label("period"), C.c.count, C.c.currency,
                   cents.label("cents"), fx.rate_units_at(C).label("rate"))
            .where(C.c.day >= first, C.c.day < last,
                   C.c.stage_id.in_(pipe.ids_where(won=True)), summary_owner(C, owners))
            .limit(written_limit(-1)).subquery())
    missing = case((and_(rows.c.rate.is_(None), rows.c.cents != 0), rows.c.currency))
    statement = (select(rows.c.owner_id, rows.c.period, func.sum(rows.c.count),
                        *[func.sum(part) for part in fx.unit_parts(rows.c.cents, rows.c.rate)],
                        func.group_concat(distinct(missing)))
                 .where(rows.c.period.is_not(None))
                 .group_by(rows.c.owner_id, rows.c.period))
    try:
        found = db.session.execute(statement).all()
    except exc.OperationalError as error:  # SQLite's sum() refuses to overflow
        if "overflow" in str(error.orig):
            return None
        raise
    out: list[dict[int | None, tuple[int, Total]]] = [{} for _p in periods]
    for owner, i, n, a, b, c, gaps in found:
        units = fx.units_of((a, b, c))
        if units is None:
            return None
        out[i][owner or None] = (int(n), fx.total_of(units, gaps.split(",") if gaps else ()))
    return out


def _won_in_python(pipe: PipelineInfo, periods: Sequence[Period], owners: list[int] | None,
                   won_rows: Sequence[Any], rate: fx.RateInts
                   ) -> list[dict[int | None, tuple[int, Total]]]:
    """As :func:`won_converted`, from the (owner, currency, day) rows of :func:`won_by_owner`
    converted in Python, as integers (:class:`fx.Exact`)."""
    starts = [p.start for p in periods]
    closed: list[dict[int | None, int]] = [{} for _p in periods]
    where: dict[Any, int] = {}  # the day as returned -> its period (-1: none)

    def keyed() -> Any:
        for owner, currency, on, n, amount in won_rows:
            i = where.get(on)
            if i is None:
                day = fx.as_day(on)
                i = bisect_right(starts, day) - 1
                if i >= 0 and not periods[i].start <= day < periods[i].end:
                    i = -1
                where[on] = i
            if i < 0:
                continue
            counts = closed[i]
            counts[owner or None] = counts.get(owner or None, 0) + int(n)
            yield (i, owner or None), currency, on, int(amount)

    amounts: dict[tuple[int, int | None], fx.Exact] = {}
    fx.add_rows(amounts, keyed(), rate)
    return [{owner: (n, amounts[(i, owner)].total()) for owner, n in counts.items()}
            for i, counts in enumerate(closed)]


def figures_over(pipe: PipelineInfo, periods: Sequence[Period], owners: list[int] | None,
                 now: datetime) -> list[dict[int | None, Figures]]:
    """Closed (won in the period, amounts at each closing day's rate), opportunities and
    committed (open at the period's end, amounts at today's rate), per owner, in the company
    currency, for each of consecutive ``periods`` — in the same four statements (won deals, open
    deals now, moves since, rates) for one period as for twelve. Amounts are added as exact
    integers: on SQLite in the statement (:func:`won_converted`); on PostgreSQL, whose server
    does the reading, the (owner, currency, day) rows in Python (:class:`fx.Exact`)."""
    first = min(p.start for p in periods)
    last = max(p.end for p in periods)
    starts = [p.start for p in periods]
    won = None
    if db.session.get_bind().dialect.name == "sqlite":
        won = won_converted(pipe, periods, owners)
    won_rows: list[Any] = []
    if won is None:
        won_rows = db.session.execute(
            won_by_owner(pipe, Period(first, last), owners, starts=starts)).all()
    committed_percent = int(setting("funnel.committed_percent"))
    opened = open_by_owner_at(pipe, [p.end_dt for p in periods], owners, committed_percent, now)
    today = now.date()
    currencies = {r[1] for r in won_rows} | {c for o in opened for f in o.values()
                                              for c in f[1]}
    if won is None:
        rate = fx.RateInts(fx.RateBook(currencies, min(first, today), max(last, today)))
        won = _won_in_python(pipe, periods, owners, won_rows, rate)
    else:  # open deals count at today's rate only
        rate = fx.RateInts(fx.RateBook(currencies, today, today))
    result: list[dict[int | None, Figures]] = []
    for won_in, opened_at in zip(won, opened):
        out: dict[int | None, Figures] = {}
        for owner, (n, total) in won_in.items():
            out[owner] = Figures(closed=n, closed_amount=total.amount,
                                 missing_currencies=total.missing)
        for owner, (n, sums, c_n, c_sums) in opened_at.items():
            figures = out.setdefault(owner, Figures())
            all_, part = fx.Exact(), fx.Exact()
            for currency, amount in sums.items():
                all_.add(currency, amount, rate(currency, today))
            for currency, amount in c_sums.items():
                part.add(currency, amount, rate(currency, today))
            total, c_total = all_.total(), part.total()
            figures.opportunities, figures.opportunities_amount = n, total.amount
            figures.committed, figures.committed_amount = c_n, c_total.amount
            figures.missing_currencies = tuple(sorted(set(figures.missing_currencies)
                                                      | set(total.missing)))
        result.append(out)
    return result


def figures_for(pipe: PipelineInfo, period: Period, owners: list[int] | None,
                now: datetime) -> dict[int | None, Figures]:
    """The figures of one period (see :func:`figures_over`)."""
    return figures_over(pipe, [period], owners, now)[0]


TREND_PERIODS = 6


def trend_periods(period: Period, count: int = TREND_PERIODS) -> list[Period]:
    """``period`` and the ``count - 1`` periods of the same kind before it, oldest first."""
    out = [period]
    while len(out) < count:
        out.insert(0, out[0].previous())
    return out


def five_trend(pipe: PipelineInfo, period: Period, owners: list[int] | None,
               now: datetime | None = None, count: int = TREND_PERIODS
               ) -> list[tuple[Period, Figures]]:
    """The five numbers in total over ``period`` and the periods of the same kind before it,
    oldest first: closed, committed and opportunities by the code :func:`five_numbers` uses, in
    one grouped read per figure whatever ``count`` is; leads and visits from the plugins that
    answer ``funnel_lead_counts_by_period`` / ``funnel_client_visits_by_period`` (one grouped
    statement each; ``None`` when no plugin does)."""
    periods = trend_periods(period, count)
    out = []
    for p, by_owner in zip(periods, figures_over(pipe, periods, owners, now or utcnow())):
        total = Figures()
        for figures in by_owner.values():
            total.add(figures)
        out.append((p, total))
    hook = current_app.extensions["conveyor"].hook
    bounds = [p.start_dt for p in periods] + [periods[-1].end_dt]
    mine = (lambda owner: owners is None or owner in owners)  # noqa: E731
    if _hooks("funnel_lead_counts_by_period"):
        for _p, total in out:
            total.leads = 0
        for answer in hook.funnel_lead_counts_by_period(bounds=bounds, owner_ids=owners):
            for (_p, total), counts in zip(out, answer or []):
                total.leads = (total.leads or 0) + sum(int(n) for o, n in counts.items()
                                                       if mine(o))
    if _hooks("funnel_client_visits_by_period"):
        for _p, total in out:
            total.visits_first = total.visits_follow_up = 0
        for answer in hook.funnel_client_visits_by_period(bounds=bounds, owner_ids=owners):
            for (_p, total), visits in zip(out, answer or []):
                for o, kinds in visits.items():
                    if mine(o):
                        total.visits_first = (total.visits_first or 0) + int(kinds.get("first", 0))
                        total.visits_follow_up = ((total.visits_follow_up or 0)
                                                  + int(kinds.get("follow_up", 0)))
    return out


def _hooks(name: str) -> bool:
    return bool(getattr(current_app.extensions["conveyor"].hook, name).get_hookimpls())


def add_hook_figures(out: dict[int | None, Figures], period: Period,
                     owners: list[int] | None) -> tuple[bool, bool]:
    hook = current_app.extensions["conveyor"].hook
    leads = _hooks("funnel_lead_counts")
    visits = _hooks("funnel_client_visits")
    for figures in out.values():
        if leads:
            figures.leads = 0
        if visits:
            figures.visits_first = figures.visits_follow_up = 0
    kwargs = {"start": period.start_dt, "end": period.end_dt, "owner_ids": owners}
    if leads:
        for answer in hook.funnel_lead_counts(**kwargs):
            for owner, n in (answer or {}).items():
                if owners is None or owner in owners:
                    figures = out.setdefault(owner, Figures(leads=0))
                    figures.leads = (figures.leads or 0) + int(n)
    if visits:
        for answer in hook.funnel_client_visits(**kwargs):
            for owner, counts in (answer or {}).items():
                if owners is None or owner in owners:
                    figures = out.setdefault(owner, Figures(visits_first=0, visits_follow_up=0))
                    figures.visits_first = (figures.visits_first or 0) + int(counts.get("first", 0))
                    figures.visits_follow_up = ((figures.visits_follow_up or 0)
                                                + int(counts.get("follow_up", 0)))
    for figures in out.values():  # rows that came only from SQL before a hook added owners
        if leads and figures.leads is None:
            figures.leads = 0
        if visits and figures.visits_first is None:
            figures.visits_first = figures.visits_follow_up = 0
    return leads, visits


def five_numbers(pipe: PipelineInfo, period: Period, owners: list[int] | None,
                 now: datetime | None = None) -> FiveNumbers:
    now = now or utcnow()
    previous = period.previous()
    result = FiveNumbers(period, previous)
    result.before, result.current = figures_over(pipe, [previous, period], owners, now)
    result.leads_available, result.visits_available = add_hook_figures(result.current, period,
                                                                       owners)
    add_hook_figures(result.before, previous, owners)
    return result
