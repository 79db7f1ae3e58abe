"""Approval requests, their append-only history, and deals' discounts."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from conveyor import db
from conveyor.dialects import partial_index
from conveyor.types import UTCDateTime, utcnow

PENDING, APPROVED, CHANGES, WITHDRAWN = "pending", "approved", "changes_requested", "withdrawn"
STATUSES = (PENDING, APPROVED, CHANGES, WITHDRAWN)
OPEN = (PENDING, CHANGES)  # a record has at most one open request
# Approver rules: a role ("any lawyer"), a named user, or the requester's manager (a holder of
# the manager role in one of the requester's teams).
ROLE, USER, MANAGER = "role", "user", "manager"
RULES = (ROLE, USER, MANAGER)
# History steps.
REQUESTED, RESUBMITTED, ESCALATED = "requested", "resubmitted", "escalated"
ACTIONS = (REQUESTED, RESUBMITTED, APPROVED, CHANGES, WITHDRAWN, ESCALATED)
_OPEN_SQL = "status IN ('pending', 'changes_requested')"


class ApprovalRequest(db.Model):
    """A request to approve one version of one record (``resource`` + ``record_id``).

    ``version`` is what the approval binds to (a file's sha256, a deal's terms): a record whose
    version changed after approval needs approving again. ``title`` and ``url`` are copied from
    the record when requested, so queues list requests without loading every record."""

    __tablename__ = "approvals_request"
    __table_args__ = (
        # The approvers' queues, oldest first: by role, by named user.
        Index("ix_approvals_request_queue_role", "status", "rule", "approver_role", "id"),
        Index("ix_approvals_request_queue_user", "approver_id", "status", "id"),
        Index("ix_approvals_request_requester", "requested_by_id", "id"),
        Index("ix_approvals_request_deal", "deal_id", "resource", "id"),
        Index("ix_approvals_request_decider", "decided_by_id", "status", "decided_at"),
        Index("ix_approvals_request_record", "resource", "record_id", "id"),
        # One open request per record, even with two requesters at the same moment.
        partial_index("uq_approvals_request_open", "resource", "record_id", unique=True,
                      where=_OPEN_SQL),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource: Mapped[str] = mapped_column(String(60))
    record_id: Mapped[int] = mapped_column(Integer)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(200), default="")
    url: Mapped[str] = mapped_column(String(500), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    rule: Mapped[str] = mapped_column(String(10))
    approver_role: Mapped[str | None] = mapped_column(String(40))
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When it last went to the approvers (request or resubmission): the age in the queue.
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<ApprovalRequest {self.id} {self.resource}:{self.record_id} {self.status}>"


class ApprovalStep(db.Model):
    """One step of a request's history, with who and when. Append-only: rows are never changed
    or deleted (they go only with their request, when its deal is deleted)."""

    __tablename__ = "approvals_step"
    __table_args__ = (Index("ix_approvals_step_request", "request_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("approvals_request.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(20))
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[str] = mapped_column(String(128), default="")
    comment: Mapped[str] = mapped_column(Text, default="")


@event.listens_for(ApprovalStep, "before_update")
@event.listens_for(ApprovalStep, "before_delete")
def _append_only(mapper: object, connection: object, target: ApprovalStep) -> None:
    raise ValueError("approval history is append-only")


class DealDiscount(db.Model):
    """The discount granted on a deal, in percent of its list price. Above the owner's limit
    (setting ``approvals.discount_limits``) the deal needs its manager's approval."""

    __tablename__ = "approvals_deal_discount"

    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"),
                                         primary_key=True)
    percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


MODELS = [ApprovalRequest, ApprovalStep, DealDiscount]
