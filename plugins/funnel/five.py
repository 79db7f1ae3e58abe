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
from sqlalchemy import case, func, select

from conveyor import db, setting
from conveyor.types import utcnow

from .periods import Period
from .sqlparts import D, H, PipelineInfo, is_postgres, money, owner_filter

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

    def add(self, other: Figures) -> None:
        for name, value in vars(other).items():
            if value is None:
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
    return (select(D.c.owner_id, func.count(), func.sum(D.c.amount))
            .where(D.c.pipeline_id == pipe.id, owner_filter(D.c.owner_id, owners),
                   D.c.stage_id.in_(pipe.ids_where(won=True)),
                   D.c.closed_at >= period.start_dt, D.c.closed_at < period.end_dt)
            .group_by(D.c.owner_id))


def _distinct_on(query: Any, column: Any) -> Any:
    try:  # SQLAlchemy 2.1
        from sqlalchemy.dialects.postgresql import distinct_on
    except ImportError:  # 2.0
        return query.distinct(column)
    return query.ext(distinct_on(column))


def open_by_owner(pipe: PipelineInfo, at: datetime, owners: list[int] | None,
                  committed_percent: int, now: datetime) -> Any:
    """Open deals per owner at the moment ``at``: the deals table itself when ``at`` is now or
    later, otherwise each deal's last stage-history row before ``at``."""
    committed_ids = [s.id for s in pipe.open_stages if s.percent >= committed_percent]
    open_ids = pipe.ids_where(open_=True)
    if at >= now:
        stage_col, source, where = D.c.stage_id, D, [D.c.pipeline_id == pipe.id]
    else:
        # Each deal's last row before ``at``. No stage filter in here: it would trade the
        # (deal_id, at) index order for a sort of the whole history.
        if is_postgres():  # DISTINCT ON beats a window there
            last = (_distinct_on(select(H.c.deal_id, H.c.to_stage_id).where(H.c.at < at),
                                 H.c.deal_id)
                    .order_by(H.c.deal_id, H.c.at.desc(), H.c.id.desc()).subquery())
            where = []
        else:
            last = (select(H.c.deal_id, H.c.to_stage_id, func.row_number().over(
                partition_by=H.c.deal_id, order_by=(H.c.at.desc(), H.c.id.desc())).label("rn"))
                .where(H.c.at < at).subquery())
            where = [last.c.rn == 1]
        stage_col = last.c.to_stage_id
        source = last.join(D, D.c.id == last.c.deal_id)
    is_committed = stage_col.in_(committed_ids) if committed_ids else None
    committed_n = (func.sum(case((is_committed, 1), else_=0)) if is_committed is not None
                   else func.sum(0))
    committed_amount = (func.sum(case((is_committed, D.c.amount), else_=0))
                        if is_committed is not None else func.sum(0))
    return (select(D.c.owner_id, func.count(), func.sum(D.c.amount), committed_n,
                   committed_amount)
            .select_from(source)
            .where(*where, stage_col.in_(open_ids), owner_filter(D.c.owner_id, owners))
            .group_by(D.c.owner_id))


def figures_for(pipe: PipelineInfo, period: Period, owners: list[int] | None,
                now: datetime) -> dict[int | None, Figures]:
    out: dict[int | None, Figures] = {}
    for owner, n, total in db.session.execute(won_by_owner(pipe, period, owners)):
        out.setdefault(owner, Figures()).closed, out[owner].closed_amount = int(n), money(total)
    committed_percent = int(setting("funnel.committed_percent"))
    for owner, n, total, c_n, c_total in db.session.execute(
            open_by_owner(pipe, period.end_dt, owners, committed_percent, now)):
        figures = out.setdefault(owner, Figures())
        figures.opportunities, figures.opportunities_amount = int(n), money(total)
        figures.committed, figures.committed_amount = int(c_n or 0), money(c_total)
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
