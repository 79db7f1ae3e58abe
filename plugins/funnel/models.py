"""Sales targets: volume and margin per seller or team for a month, quarter or year."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Numeric, String
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
