"""Activities (tasks, calls, meetings, visits), their recurring series and calendar feed tokens.

Times are stored in UTC (``UTCDateTime``); the local time a user typed is kept only for a series,
whose occurrences are computed in its zone so a daylight-saving change never shifts them.
"""
from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column

from conveyor import db
from conveyor.dialects import partial_index
from conveyor.types import UTCDateTime, utcnow

BUILTIN_KINDS = ("call", "email", "meeting", "todo", "visit")
STATUSES = ("planned", "done", "cancelled")
VISIT_KINDS = ("FSI", "FUA")
FREQUENCIES = ("days", "weeks", "weekdays", "monthly")
KIND_LENGTH = 30
TITLE_LENGTH = 200


class Activity(db.Model):
    """One task, call, meeting or visit, due at a moment, done or cancelled with a result.

    ``lead_id`` has no foreign key on purpose (leads may be merged, and the leads plugin may be
    off). ``remind_at`` is the moment its reminder is due and is cleared once the reminder is
    queued, so the sweep reads only a thin slice of one index.
    """

    __tablename__ = "activities_activity"
    __table_args__ = (
        # My day (overdue and today's planned ones of one assignee).
        Index("ix_activities_activity_assignee_status_due", "assignee_id", "status", "due_at"),
        # Calendar ranges of one or several assignees, whatever the status.
        Index("ix_activities_activity_assignee_due", "assignee_id", "due_at"),
        # The next step of a deal; the panel of a customer.
        Index("ix_activities_activity_deal_status_due", "deal_id", "status", "due_at"),
        Index("ix_activities_activity_customer_due", "customer_id", "due_at"),
        # The reminder sweep: remind_at <= now. Partial: only the reminders still to send are
        # in it (NULL once queued, and for every closed or past activity), so clearing one
        # deletes its entry instead of moving it among a million NULL ones.
        partial_index("ix_activities_activity_remind_at", "remind_at",
                      where="remind_at IS NOT NULL"),
        # Visits held per period (funnel) and activities per period (relationships).
        Index("ix_activities_activity_status_due_kind", "status", "due_at", "kind"),
        Index("ix_activities_activity_series", "series_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    notes: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=30)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"))
    # active_history: the next-step summary (``next_steps``) needs what a change replaced.
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"),
                                                active_history=True)
    lead_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="planned", active_history=True)
    result: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    visit_kind: Mapped[str | None] = mapped_column(String(3))
    progress: Mapped[int | None] = mapped_column(Integer)
    reminder_minutes: Mapped[int | None] = mapped_column(Integer)
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("activities_series.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @classmethod
    def __record_rule__(cls, owner_ids: Any, user: Any) -> Any:
        """Visible: assigned to someone within the user's record scope, or created by the user
        (a seller sees what they handed to the team's assistant)."""
        if isinstance(owner_ids, list) and len(owner_ids) == 1:
            mine = cls.assignee_id == owner_ids[0]
        else:
            mine = cls.assignee_id.in_(owner_ids)
        return or_(mine, cls.creator_id == user.id)

    @property
    def is_open(self) -> bool:
        return self.status == "planned"

    def __repr__(self) -> str:
        return f"<Activity {self.id} {self.kind} {self.status}>"


class Series(db.Model):
    """A recurring task: the rule, the local time in its zone, and the template of each
    occurrence. Occurrences are ordinary activities (``series_id``) made up to a horizon."""

    __tablename__ = "activities_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    frequency: Mapped[str] = mapped_column(String(10))
    interval: Mapped[int] = mapped_column(Integer, default=1)
    start_date: Mapped[date] = mapped_column(Date)
    until: Mapped[date | None] = mapped_column(Date)
    local_time: Mapped[time] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    notes: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int] = mapped_column(Integer, default=30)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    visit_kind: Mapped[str | None] = mapped_column(String(3))
    reminder_minutes: Mapped[int | None] = mapped_column(Integer)
    generated_until: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DealSteps(db.Model):
    """Each open deal with how many planned activities it has, kept in the transaction of every
    change to activities and deals (``next_steps``): "deals without a next step" are the rows
    with ``planned = 0``, which a partial index keeps by owner and deal, so a seller's count
    and first rows are one range of it, whatever their open deals and activities. A closed
    deal has no row; a deleted one loses it with the deal (foreign key cascade)."""

    __tablename__ = "activities_deal_steps"
    __table_args__ = (
        partial_index("ix_activities_deal_steps_lacking", "owner_id", "deal_id",
                      where="planned = 0"),
    )

    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"),
                                         primary_key=True, autoincrement=False)
    owner_id: Mapped[int | None] = mapped_column(Integer)
    planned: Mapped[int] = mapped_column(Integer, default=0)


class FeedToken(db.Model):
    """A user's secret calendar feed address: only its SHA-256 is kept, so a leaked database
    does not leak the feeds; renewing replaces it and the old address stops working."""

    __tablename__ = "activities_feed_token"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True, autoincrement=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
