"""The stage funnel, conversion between stages, win rate, sales cycle and lost reasons.

Every figure is one GROUP BY (plus window functions) in the database; Python only puts the
aggregated rows of at most a few dozen stages side by side. Definitions: docs/plugins/funnel.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select

from conveyor import db

from .periods import Period
from .sqlparts import (
    D,
    H,
    PipelineInfo,
    S,
    StageInfo,
    money,
    owner_filter,
    percentile_select,
    seconds_between,
    weighted,
)

DAY = 86400.0


@dataclass
class FunnelRow:
    stage: StageInfo
    count: int = 0  # open stages: deals in it now; won/lost: deals closed there in the period
    amount: Decimal = Decimal("0.00")
    weighted_amount: Decimal = Decimal("0.00")
    reached: int = 0  # deals that reached this stage (or a later one) in the period


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
    stage whose position is ≥ S's (a skip counts as passing). One scan plus a window sum."""
    forward = pipe.funnel_stages
    position = case({s.id: s.position for s in forward}, value=H.c.to_stage_id)
    per_deal = (select(H.c.deal_id, func.max(position).label("pos"))
                .where(H.c.to_stage_id.in_([s.id for s in forward]),
                       H.c.at >= period.start_dt, H.c.at < period.end_dt))
    if owners is not None:
        per_deal = per_deal.join(D, D.c.id == H.c.deal_id).where(owner_filter(D.c.owner_id, owners))
    per_deal = per_deal.group_by(H.c.deal_id).subquery()
    per_pos = (select(per_deal.c.pos, func.count().label("n"))
               .group_by(per_deal.c.pos).subquery())
    cumulative = func.sum(func.coalesce(per_pos.c.n, 0)).over(order_by=S.c.position.desc())
    query = (select(S.c.id, cumulative.label("reached"))
             .select_from(S.outerjoin(per_pos, per_pos.c.pos == S.c.position))
             .where(S.c.id.in_([s.id for s in forward])))
    return {sid: int(n or 0) for sid, n in db.session.execute(query)}


def stage_totals(pipe: PipelineInfo, period: Period, owners: list[int] | None,
                 ) -> dict[int, tuple[int, Decimal]]:
    """Deals now in each open stage, and deals that closed (won or lost) in the period."""
    closed_ids = pipe.ids_where(open_=False)
    query = (select(D.c.stage_id, func.count(), func.sum(D.c.amount))
             .where(D.c.pipeline_id == pipe.id, owner_filter(D.c.owner_id, owners),
                    or_(D.c.stage_id.in_(pipe.ids_where(open_=True)),
                        and_(D.c.stage_id.in_(closed_ids), D.c.closed_at >= period.start_dt,
                             D.c.closed_at < period.end_dt)))
             .group_by(D.c.stage_id))
    return {sid: (int(n), money(total)) for sid, n, total in db.session.execute(query)}


def funnel(pipe: PipelineInfo, period: Period, owners: list[int] | None) -> FunnelResult:
    totals = stage_totals(pipe, period, owners)
    reached = reached_counts(pipe, period, owners)

    def row(stage: StageInfo) -> FunnelRow:
        count, amount = totals.get(stage.id, (0, Decimal("0.00")))
        return FunnelRow(stage, count, amount, weighted(amount, stage.percent),
                         reached.get(stage.id, 0))

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
class Outcomes:
    won: int
    lost: int
    won_amount: Decimal
    lost_amount: Decimal
    cycle_median_days: float | None
    cycle_mean_days: float | None
    lost_reasons: list[tuple[str, int, Decimal]]

    @property
    def win_rate(self) -> float | None:
        closed = self.won + self.lost
        return self.won / closed if closed else None


def outcomes(pipe: PipelineInfo, period: Period, owners: list[int] | None) -> Outcomes:
    """Deals closed in the period: win rate, sales cycle of the won (created → closed), and
    the lost ones by reason. Three GROUP BY queries."""
    won_ids, lost_ids = pipe.ids_where(won=True), pipe.ids_where(lost=True)
    closed_in_period = [D.c.pipeline_id == pipe.id, owner_filter(D.c.owner_id, owners),
                        D.c.closed_at >= period.start_dt, D.c.closed_at < period.end_dt]
    is_won = D.c.stage_id.in_(won_ids)
    won = lost = 0
    won_amount = lost_amount = Decimal("0.00")
    for flag, n, total in db.session.execute(
            select(is_won.label("won"), func.count(), func.sum(D.c.amount))
            .where(*closed_in_period, D.c.stage_id.in_(won_ids + lost_ids)).group_by(is_won)):
        if flag:
            won, won_amount = int(n), money(total)
        else:
            lost, lost_amount = int(n), money(total)
    cycle = db.session.execute(percentile_select(
        None, seconds_between(D.c.closed_at, D.c.created_at),
        [*closed_in_period, is_won], fractions=(0.5,), from_=D)).first()
    median = mean = None
    if cycle is not None and cycle.n:
        median, mean = cycle.p0 / DAY, float(cycle.mean) / DAY
    reasons = [(reason or "", int(n), money(total)) for reason, n, total in db.session.execute(
        select(D.c.lost_reason, func.count(), func.sum(D.c.amount))
        .where(*closed_in_period, D.c.stage_id.in_(lost_ids))
        .group_by(D.c.lost_reason).order_by(func.count().desc(), D.c.lost_reason))]
    return Outcomes(won, lost, won_amount, lost_amount, median, mean, reasons)
