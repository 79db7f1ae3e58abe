"""What happened to a customer or a deal, posted by the core and by plugins."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from .deals import Deal
    from .users import User


class TimelineEntry(db.Model):
    __tablename__ = "timeline"
    __table_args__ = (
        Index("ix_timeline_customer_at", "customer_id", "at"),
        Index("ix_timeline_deal_at", "deal_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(60))
    message: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    by: Mapped[User | None] = relationship()
    # Lets an entry about a new deal go in the flush that inserts the deal.
    deal: Mapped[Deal | None] = relationship()
