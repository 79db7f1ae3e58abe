"""SQL building blocks shared by every figure: the pipeline's stages (from the core's snapshot),
the owner filter, durations in seconds and percentiles, written once for SQLite and
PostgreSQL."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    case,
    cast,
    func,
    literal_column,
    select,
    true,
)

from conveyor import StageInfo, current_pipelines, db
from conveyor.models import Deal, DealStageTotal, Stage, StageHistory

D = Deal.__table__
S = Stage.__table__
H = StageHistory.__table__
T = DealStageTotal.__table__
CENT = Decimal("0.01")


def money(value: Any) -> Decimal:
    """A sum from the database as an exact two-place Decimal (0 for an empty group)."""
    if value is None:
        return Decimal("0.00")
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def weighted(amount: Decimal, percent: int) -> Decimal:
    return (amount * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PipelineInfo:
    id: int
    name: str
    stages: tuple[StageInfo, ...]

    @property
    def open_stages(self) -> list[StageInfo]:
        return [s for s in self.stages if s.is_open]

    @property
    def funnel_stages(self) -> list[StageInfo]:
        """Stages a deal moves forward through: the open ones and won, in position order."""
        return [s for s in self.stages if not s.is_lost]

    @property
    def ids(self) -> list[int]:
        return [s.id for s in self.stages]

    def ids_where(self, *, won: bool | None = None, lost: bool | None = None,
                  open_: bool | None = None) -> list[int]:
        return [s.id for s in self.stages
                if (won is None or s.is_won == won) and (lost is None or s.is_lost == lost)
                and (open_ is None or s.is_open == open_)]

    def stage(self, stage_id: int) -> StageInfo | None:
        return next((s for s in self.stages if s.id == stage_id), None)


def load_pipeline(pipeline_id: int | None = None) -> PipelineInfo:
    """The pipeline asked for, or the default one, from the core's snapshot (no query);
    LookupError when there is none."""
    info = current_pipelines().get(pipeline_id)
    if info is None:
        raise LookupError("pipeline")
    return PipelineInfo(info.id, info.name, info.stages)


def pipelines() -> list[tuple[int, str]]:
    return [(p.id, p.name) for p in current_pipelines().pipelines]


def owner_filter(column: Any, owner_ids: list[int] | tuple[int, ...] | None) -> ColumnElement[bool]:
    return true() if owner_ids is None else column.in_(list(owner_ids))


def entered_since(query: Select[Any], pipe: PipelineInfo | None, owner_ids: list[int] | None,
                  since: datetime, until: datetime | None = None,
                  stage_ids: list[int] | None = None) -> Select[Any]:
    """``query`` narrowed to the selected owners' deals of ``pipe`` (or in ``stage_ids``) that
    entered their current stage at or after ``since`` (and before ``until``), read through
    ``ix_deals_owner_stage_entered``: owner × stage × a range of moments.

    A deal's ``stage_entered_at`` is the moment of its last stage-history row, and a closed
    deal's ``closed_at`` is that same moment (``conveyor.crm`` writes both in one move), so
    "had a history row since T" and "closed since T" both imply "entered since T". SQLite is
    told the index (its planner, without statistics, prefers (owner_id, stage_id, id) and then
    reads every deal the owner ever had)."""
    if stage_ids is None:
        assert pipe is not None, "give a pipeline or the stages"
        stage_ids = pipe.ids
    where = [owner_filter(D.c.owner_id, owner_ids), D.c.stage_id.in_(stage_ids),
             D.c.stage_entered_at >= since]
    if until is not None:
        where.append(D.c.stage_entered_at < until)
    return query.where(*where)


def totals_owner(owner_ids: list[int] | tuple[int, ...] | None) -> ColumnElement[bool]:
    """The selected owners in ``deal_stage_totals`` (where 0 stands for no owner)."""
    if owner_ids is None:
        return true()
    return T.c.owner_id.in_(list(owner_ids))


def is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def seconds_between(later: Any, earlier: Any) -> ColumnElement[float]:
    """``later - earlier`` in seconds as a float, on either database."""
    if is_postgres():
        return cast(func.extract("epoch", later - earlier), Float)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


# Percentiles as fractions of integers, so the rank arithmetic is exact on SQLite.
FRACTIONS = {0.5: (1, 2), 0.9: (9, 10)}


def percentile_select(key: Any, value: Any, src_where: list[Any] | None = None,
                      fractions: tuple[float, ...] = (0.5, 0.9), from_: Any = None) -> Any:
    """``SELECT key, n, mean, p0, p1…`` per key (or overall when ``key`` is None):
    percentile_cont on PostgreSQL; on SQLite the same interpolation (rank ``1 + p·(n−1)``)
    from row_number/count windows, in one pass. ``from_`` is the source (a subquery)."""
    where = src_where or []
    key_col = key if key is not None else literal_column("0")
    if is_postgres():
        cols = [func.percentile_cont(f).within_group(value) for f in fractions]
        query = (select(key_col.label("key"), func.count().label("n"),
                        func.avg(value).label("mean"),
                        *[c.label(f"p{i}") for i, c in enumerate(cols)])
                 .select_from(from_).where(*where))
        return query.group_by(key) if key is not None else query
    over = {"partition_by": key} if key is not None else {}
    ranked = (select(key_col.label("key"), value.label("v"),
                     func.row_number().over(order_by=value, **over).label("rn"),
                     func.count().over(**over).label("n"))
              .select_from(from_).where(*where).subquery())
    cols = []
    for f in fractions:
        num, den = FRACTIONS[f]
        lo = (ranked.c.n - 1) * num // den + 1
        frac = cast((ranked.c.n - 1) * num % den, Float) / den
        cols.append(func.sum(case((ranked.c.rn == lo, ranked.c.v * (1 - frac)),
                                  (ranked.c.rn == lo + 1, ranked.c.v * frac), else_=0.0)))
    query = select(ranked.c.key, func.max(ranked.c.n).label("n"),
                   func.avg(ranked.c.v).label("mean"),
                   *[c.label(f"p{i}") for i, c in enumerate(cols)])
    return query.group_by(ranked.c.key) if key is not None else query


def deals_in_period(pipe: PipelineInfo, owner_ids: list[int] | None, start: datetime,
                    end: datetime) -> Any:
    """Subquery (``deal_id``) of deals that may have a stage-history row in ``[start, end)``:
    for some owners, their deals that moved since ``start`` (a deal's last row is when it
    entered its stage); for everyone, the deals of the period's history rows, read through
    ``ix_stage_history_to_at``. Either way what is read grows with the selection, not with
    the history before the period."""
    if owner_ids is None:
        return (select(H.c.deal_id).where(H.c.to_stage_id.in_(pipe.ids), H.c.at >= start,
                                          H.c.at < end).distinct().subquery())
    return entered_since(select(D.c.id.label("deal_id")), pipe, owner_ids, start).subquery()
