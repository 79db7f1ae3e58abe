"""The five numbers a sales manager asks every seller for, per seller and in total, against
the previous period: closed, committed, opportunities, leads, client visits.

Closed: deals won in the period. Opportunities: deals open at the end of the period (now, for a
period not over yet). Committed: those opportunities in a stage at or past
``funnel.committed_percent``. Leads and visits come from other plugins through hooks and are
hidden (``None``) when no plugin answers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import and_, func, or_, select

from conveyor import db, setting
from conveyor.types import utcnow

from . import fx
from .periods import Period, add_months
from .sqlparts import PipelineInfo, T, money, totals_owner
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


def won_by_owner(pipe: PipelineInfo, period: Period, owners: list[int] | None) -> Any:
    """Deals won in the period per owner, currency and day, from the summary of closed deals
    (``funnel_closed_totals``)."""
    day = fx.rate_day(C, period.start)
    return (select(C.c.owner_id, C.c.currency, day, func.sum(C.c.count), func.sum(C.c.amount))
            .where(C.c.day >= period.start, C.c.day < period.end,
                   C.c.stage_id.in_(pipe.ids_where(won=True)), summary_owner(C, owners))
            .group_by(C.c.owner_id, C.c.currency, day))


# [deals, amounts by currency, committed deals, committed amounts by currency]
OpenFigures = list[Any]


def open_by_owner(pipe: PipelineInfo, at: datetime, owners: list[int] | None,
                  committed_percent: int, now: datetime) -> dict[int | None, OpenFigures]:
    """Open deals per owner at the moment ``at`` (count and amount, all and committed).

    The state now comes from ``deal_stage_totals`` (kept with every deal change). For a past
    midnight (periods end at one) the moves made since are undone: ``funnel_stage_moves`` holds,
    per owner, stage, currency and day, the deals that entered a stage minus those that left it.
    What is read grows with the selected owners and the days since ``at``."""
    committed = {s.id for s in pipe.open_stages if s.percent >= committed_percent}
    open_ids = pipe.ids_where(open_=True)
    out: dict[int | None, OpenFigures] = {}

    today = now.date()

    def add(owner: int | None, stage_id: int, currency: str, n: int, amount: Decimal) -> None:
        f = out.setdefault(owner, [0, {}, 0, {}])
        f[0] += n
        fx.add(f[1], currency, today, amount)
        if stage_id in committed:
            f[2] += n
            fx.add(f[3], currency, today, amount)

    for owner, stage_id, currency, n, amount in db.session.execute(
            select(T.c.owner_id, T.c.stage_id, T.c.currency, T.c.count, T.c.amount)
            .where(T.c.stage_id.in_(open_ids), totals_owner(owners))):
        add(owner or None, stage_id, currency, int(n), money(amount))
    if at < now:
        # Undo the moves made since: at a midnight, so whole days of ``funnel_stage_moves``,
        # the days to the end of its month and whole months after that.
        day = at.date()
        month = day if day.day == 1 else add_months(day, 1)
        since = or_(and_(M.c.grain == "d", M.c.day >= day, M.c.day < month),
                    and_(M.c.grain == "m", M.c.day >= month))
        for owner, stage_id, currency, n, amount in db.session.execute(
                select(M.c.owner_id, M.c.stage_id, M.c.currency, func.sum(M.c.count),
                       func.sum(M.c.amount))
                .where(since, M.c.stage_id.in_(open_ids), summary_owner(M, owners))
                .group_by(M.c.owner_id, M.c.stage_id, M.c.currency)):
            add(owner or None, stage_id, currency, -int(n or 0), -money(amount))
    return {owner: f for owner, f in out.items() if f[0]}


def figures_for(pipe: PipelineInfo, period: Period, owners: list[int] | None,
                now: datetime) -> dict[int | None, Figures]:
    """Closed (won in the period, amounts at each closing day's rate), opportunities and
    committed (open at the period's end, amounts at today's rate), per owner, in the company
    currency."""
    won: dict[int | None, list[Any]] = {}
    for owner, currency, on, n, total in db.session.execute(won_by_owner(pipe, period, owners)):
        owner = owner or None
        entry = won.setdefault(owner, [0, {}])
        entry[0] += int(n)
        fx.add(entry[1], currency, fx.as_day(on), money(total))
    committed_percent = int(setting("funnel.committed_percent"))
    opened = open_by_owner(pipe, period.end_dt, owners, committed_percent, now)
    book = fx.book_for(*(e[1] for e in won.values()), *(f[1] for f in opened.values()),
                       *(f[3] for f in opened.values()))
    out: dict[int | None, Figures] = {}
    for owner, (n, sums) in won.items():
        total = fx.convert(sums, book)
        out[owner] = Figures(closed=n, closed_amount=total.amount,
                             missing_currencies=total.missing)
    for owner, (n, sums, c_n, c_sums) in opened.items():
        figures = out.setdefault(owner, Figures())
        total, c_total = fx.convert(sums, book), fx.convert(c_sums, book)
        figures.opportunities, figures.opportunities_amount = n, total.amount
        figures.committed, figures.committed_amount = c_n, c_total.amount
        figures.missing_currencies = tuple(sorted(set(figures.missing_currencies)
                                                  | set(total.missing)))
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
    result.current = figures_for(pipe, period, owners, now)
    result.before = figures_for(pipe, previous, owners, now)
    result.leads_available, result.visits_available = add_hook_figures(result.current, period,
                                                                       owners)
    add_hook_figures(result.before, previous, owners)
    return result
