"""Groups (segments) of customers or leads, manual members, unsubscribes and webhook pushes."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from conveyor import db
from conveyor.types import UTCDateTime, utcnow

KINDS = ("customers", "leads")
MODES = ("filter", "manual")
PUSH_STATUSES = ("queued", "running", "ok", "failed")


class Group(db.Model):
    """A segment: members chosen by a saved filter (evaluated in SQL when used) or by hand."""

    __audit__ = "groups_group"  # changes recorded in the audit trail (conveyor.audit)
    __tablename__ = "groups_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="customers")
    mode: Mapped[str] = mapped_column(String(10), default="filter")
    # {"industry": "Retail", "has_open_deal": true, "created_from": "2026-01-01", ...}
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    webhook_url: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @classmethod
    def __record_rule__(cls, owner_ids: Any, user: Any) -> ColumnElement[bool]:
        """A group belongs to whoever made it: own / team / all by the role's scope."""
        return cls.created_by_id.in_(owner_ids)

    def __repr__(self) -> str:
        return f"<Group {self.id} {self.name!r}>"


class GroupMember(db.Model):
    """A hand-picked member of a manual group. ``lead_id`` has no foreign key: the leads
    plugin is optional, and its table may not exist."""

    __tablename__ = "groups_member"
    __table_args__ = (
        UniqueConstraint("group_id", "customer_id", name="uq_groups_member_group_customer"),
        UniqueConstraint("group_id", "lead_id", name="uq_groups_member_group_lead"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups_group.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    lead_id: Mapped[int | None] = mapped_column(Integer, index=True)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Unsubscribe(db.Model):
    """An address that must never be exported or pushed: email lower-cased, phone E.164."""

    __tablename__ = "groups_unsubscribe"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class GroupPush(db.Model):
    """One push of a group to its webhook: shown on the group, failures with their error."""

    __tablename__ = "groups_push"
    __table_args__ = (Index("ix_groups_push_group_requested", "group_id", "requested_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups_group.id", ondelete="CASCADE"))
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    url: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), default="queued")
    sent: Mapped[int] = mapped_column(Integer, default=0)
    batches: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
