"""Calls logged by telemarketers and their call queues."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from conveyor import db
from conveyor.types import UTCDateTime, utcnow

RESULTS = ("no_answer", "call_back", "interested", "not_interested")


class Call(db.Model):
    """One call: to a customer (and maybe one of its contacts) or to someone not yet a customer.

    ``lead_id`` has no foreign key on purpose: leads may merge duplicates, and the calls table
    must not block that; the id is the lead ``create_lead`` returned.
    """

    __tablename__ = "calls_call"
    __table_args__ = (
        Index("ix_calls_call_owner_created", "owner_id", "created_at"),
        Index("ix_calls_call_customer_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    # The callee when they are not a customer yet (or to note who answered).
    name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    company: Mapped[str] = mapped_column(String(200), default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    result: Mapped[str] = mapped_column(String(20))
    call_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    interested: Mapped[bool] = mapped_column(Boolean, default=False)
    products: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    lead_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Call {self.id} {self.result}>"


class QueueItem(db.Model):
    """Someone a telemarketer is to call: a customer, or a name/phone/company."""

    __tablename__ = "calls_queue_item"
    __table_args__ = (Index("ix_calls_queue_item_owner_open", "owner_id", "done_at", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    company: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls_call.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def label(self) -> str:
        return self.company or self.name or self.phone

    def as_prefill(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "name": self.name, "phone": self.phone,
                "company": self.company, "queue_item_id": self.id}
