"""Sales targets: volume and margin per seller or team for a month, quarter or year."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from conveyor import db
from conveyor.types import UTCDateTime, utcnow

PERIOD_KINDS = ("month", "quarter", "year")


class FunnelTarget(db.Model):
    """One target. Exactly one of ``user_id`` / ``team_id`` is set.

    A member's share of a team target points at it through ``parent_id``; the shares of one
    team target always add up to it (checked by the service that writes them).
    """

    __tablename__ = "funnel_target"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)", name="one_subject"),
        CheckConstraint("period_kind IN ('month', 'quarter', 'year')", name="period_kind"),
        Index("ix_funnel_target_user_period", "user_id", "period_start"),
        Index("ix_funnel_target_team_period", "team_id", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("funnel_target.id", ondelete="CASCADE"), index=True)
    period_kind: Mapped[str] = mapped_column(String(10))
    period_start: Mapped[date] = mapped_column(Date)
    volume: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    margin: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def subject(self) -> tuple[str, int]:
        return ("team", self.team_id) if self.team_id else ("user", self.user_id)  # type: ignore[return-value]


# --- Summaries kept in the transaction of every deal change (summaries.py) ------------------
# ``owner_id`` 0 stands for "no owner" (a primary-key column can't be NULL), as in the core's
# deal_stage_totals. ``conveyor funnel rebuild`` recomputes all three from deals and history.

TOTAL = Numeric(20, 2)


class FunnelClosedTotal(db.Model):
    """Closed deals as they are now, by owner, closed stage, closing day, currency and lost
    reason: count, amount and margin. Won/lost in a period, signed volume and lost reasons
    read a few rows per owner and day instead of every deal."""

    __tablename__ = "funnel_closed_totals"
    # Won (or lost) in a period per owner: the rows of those stages only, not every closed
    # stage and lost reason of each owner's days in between (funnel_0004).
    __table_args__ = (Index("ix_funnel_closed_totals_stage_owner_day", "stage_id", "owner_id",
                            "day"),)

    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id", ondelete="CASCADE"),
                                          primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    lost_reason: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[Decimal] = mapped_column(TOTAL, default=Decimal("0"))
    margin: Mapped[Decimal] = mapped_column(TOTAL, default=Decimal("0"))


NO_MONTH = date(1, 1, 1)  # "no earlier month" in funnel_reached.prev_month (a key column)


class FunnelReached(db.Model):
    """Deals that had a history row at or past ``stage_id`` (by position, lost stages left out)
    in ``month``, by owner and by the deal's latest earlier month with such a row
    (``prev_month``, :data:`NO_MONTH` for none). A deal reached the stage in a run of whole
    months when one of its months lies in the run and that month's ``prev_month`` before it:
    each deal counts once, at its first month in the run."""

    __tablename__ = "funnel_reached"

    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id", ondelete="CASCADE"),
                                          primary_key=True)
    prev_month: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class FunnelStageMove(db.Model):
    """Stage moves per owner, stage, currency and day (``grain`` "d") or month ("m", ``day``
    its first day): deals (and their amounts) that entered the stage minus those that left it.
    The deals in a stage at a past midnight are the ones there now (deal_stage_totals) minus
    the moves since: whole months from the month rows, the rest from the day rows."""

    __tablename__ = "funnel_stage_moves"
    __table_args__ = (Index("ix_funnel_stage_moves_day", "grain", "day", "owner_id"),)

    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    grain: Mapped[str] = mapped_column(String(1), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id", ondelete="CASCADE"),
                                          primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[Decimal] = mapped_column(TOTAL, default=Decimal("0"))


class FunnelDuration(db.Model):
    """Histograms of durations in whole hours, per owner, stage and month: ``kind`` "s" for
    stays in a stage (by the month the stay ended), "c" for the sales cycle of won deals
    (created → closed, by the month they closed, ``stage_id`` the won stage). Two grains in one
    table: ``grain`` "c" rows count the durations per block of :data:`BLOCK_HOURS` hours
    (``bucket`` 0, ``value`` the block), "f" rows per hour (``bucket`` the block, ``value`` the
    hours), so a percentile walks the blocks first and then reads only the hours of the block
    it falls in. ``owner_id`` 0 is no owner, :data:`EVERYONE` the sum over all owners.
    ``seconds`` sums the durations in whole seconds (the mean)."""

    __tablename__ = "funnel_durations"
    __table_args__ = {"sqlite_with_rowid": False}  # rows stored in key order: one range a read

    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    grain: Mapped[str] = mapped_column(String(1), primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id", ondelete="CASCADE"),
                                          primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)


BLOCK_HOURS = 64  # hours per "c" row of funnel_durations
EVERYONE = -1  # owner_id of the rows summed over every owner
