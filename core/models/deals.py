"""Deals, the pipeline of percentage stages they move through, and its history."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from .customers import Customer
    from .users import User

MONEY = Numeric(14, 2)
TOTAL = Numeric(20, 2)  # a sum of many MONEY values


class Pipeline(db.Model):
    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    stages: Mapped[list[Stage]] = relationship(
        back_populates="pipeline", order_by="Stage.position", cascade="all, delete-orphan"
    )


class Stage(db.Model):
    """A step of a pipeline named by how far the sale has got (100 % = done)."""

    __tablename__ = "stages"

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    percent: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    is_won: Mapped[bool] = mapped_column(Boolean, default=False)
    is_lost: Mapped[bool] = mapped_column(Boolean, default=False)
    # Names of the stage gates (``register_stage_gates``) a deal must pass to enter or pass this
    # stage; an admin picks them. Names of gates no enabled plugin declares are ignored.
    gates: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")

    pipeline: Mapped[Pipeline] = relationship(back_populates="stages")

    @property
    def is_closed(self) -> bool:
        return self.is_won or self.is_lost

    def __repr__(self) -> str:
        return f"<Stage {self.percent}% {self.name!r}>"


class Deal(db.Model):
    __tablename__ = "deals"
    __table_args__ = (
        # A user's newest deals, the stage beside each id: the open deals (the lists' default)
        # are picked in the index as it is walked — on PostgreSQL an index-only walk of ~300
        # entries where (owner_id, id) had the planner read all 40k of a seller's deals and sort
        # them (7.8 → 0.2 ms for the list's count at 1M deals).
        Index("ix_deals_owner_id_id_stage", "owner_id", "id", "stage_id"),
        # A stage's newest deals; owner_id rides along so a team's board checks it in the index.
        Index("ix_deals_stage_id_owner", "stage_id", "id", "owner_id"),
        Index("ix_deals_owner_stage_id", "owner_id", "stage_id", "id"),  # a seller's board
        # Analytics: some sellers' (or the company's) deals that moved or closed since a moment,
        # stage by stage (conveyor.plugins.funnel.sqlparts.entered_since).
        Index("ix_deals_owner_stage_entered", "owner_id", "stage_id", "stage_entered_at"),
        # A user's open deals by expected close (the home page): ten per open stage, merged.
        Index("ix_deals_owner_stage_close", "owner_id", "stage_id", "expected_close", "id"),
        Index("ix_deals_stage_entered", "stage_id", "stage_entered_at"),
        Index("ix_deals_customer_id", "customer_id"),
        # Covers the board's GROUP BY when a plugin narrows deals and the summary table can't
        # answer (index-only scan: no table rows read).
        Index("ix_deals_stage_owner_currency_amount", "stage_id", "owner_id", "currency", "amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    # active_history: a change loads the old value first, so the totals know what to subtract.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), active_history=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"), active_history=True)
    title: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"), active_history=True)
    margin: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"), active_history=True)
    currency: Mapped[str] = mapped_column(String(3), default="USD", active_history=True)
    expected_close: Mapped[date | None] = mapped_column(Date)
    lost_reason: Mapped[str] = mapped_column(String(200), default="", active_history=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    stage_entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # active_history: summaries kept by plugins (deal_rows_flushed) know what a change replaced.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, active_history=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    customer: Mapped[Customer] = relationship(back_populates="deals")
    owner: Mapped[User | None] = relationship()
    stage: Mapped[Stage] = relationship()
    pipeline: Mapped[Pipeline] = relationship()

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_open(self) -> bool:
        return not self.stage.is_closed

    @property
    def stage_info(self) -> Any:
        """The deal's stage from the per-process snapshot (``conveyor.pipelines``): no statement
        and no ORM object for what the API prints of it; the ORM stage when the snapshot lacks
        it (a stage added in this very transaction)."""
        info = _current_pipelines()().stages.get(self.stage_id)
        return info if info is not None else self.stage

    def __repr__(self) -> str:
        return f"<Deal {self.id} {self.title!r}>"


@lru_cache(maxsize=1)
def _current_pipelines() -> Any:
    """``conveyor.pipelines.current_pipelines``, imported once (that module imports the models):
    an import statement in ``stage_info`` cost 1 µs of each of a list's 100 calls."""
    from ..pipelines import current_pipelines

    return current_pipelines


class DealStageTotal(db.Model):
    """Count and amount of deals per (stage, owner, currency), kept by ``conveyor.crm`` in the
    same transaction as every deal change. The board and the pipeline summary read their totals
    here: a few hundred rows instead of a GROUP BY over every visible deal (1–2 s at 1M deals).
    ``owner_id`` 0 stands for "no owner" (a primary key column can't be NULL), so no foreign key.
    ``crm.rebuild_deal_totals()`` recomputes it from ``deals`` (after a bulk load)."""

    __tablename__ = "deal_stage_totals"
    # The board sums a stage's rows per currency over the owners the user may see: in this
    # order, read from the index alone and already grouped (SQLite summed the admin's 1,320 rows
    # through a temporary B-tree: 0.43 ms, 0.16 ms with it).
    __table_args__ = (
        Index("ix_deal_stage_totals_stage_currency", "stage_id", "currency", "owner_id", "count",
              "amount"),
    )

    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id", ondelete="CASCADE"),
                                          primary_key=True)
    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[Decimal] = mapped_column(TOTAL, default=Decimal("0"))


class StageHistory(db.Model):
    """Append-only: each stage a deal entered, when and by whom. Analytics read it."""

    __tablename__ = "stage_history"
    __table_args__ = (
        Index("ix_stage_history_deal_at", "deal_id", "at"),
        Index("ix_stage_history_to_at", "to_stage_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    from_stage_id: Mapped[int | None] = mapped_column(ForeignKey("stages.id"))
    to_stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    from_stage: Mapped[Stage | None] = relationship(foreign_keys=[from_stage_id])
    to_stage: Mapped[Stage] = relationship(foreign_keys=[to_stage_id])
    by: Mapped[User | None] = relationship()
    # Lets a new deal and its first row go in one flush (the row follows the deal's INSERT).
    deal: Mapped[Deal] = relationship()


class AppendOnlyError(RuntimeError):
    pass


@event.listens_for(StageHistory, "before_update")
@event.listens_for(StageHistory, "before_delete")
def _refuse_rewrite(mapper, connection, target) -> None:  # type: ignore[no-untyped-def]
    raise AppendOnlyError("stage history is append-only")
