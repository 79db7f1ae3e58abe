"""The current relationship type of each customer and the append-only log of its changes."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from conveyor import db
from conveyor.i18n import _l, pgettext
from conveyor.types import UTCDateTime, utcnow

TYPES = ("cold", "potential", "current", "regular", "lapsed")
TYPE_LENGTH = 12
CAUSE_LENGTH = 60


class RelationshipState(db.Model):
    """One row per customer: the type shown and the one the data gives (``computed_type``).

    They differ only while a manual override holds (``override``).
    """

    __tablename__ = "relationships_state"
    __table_args__ = (Index("ix_relationships_state_type_customer", "type", "customer_id"),)

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(TYPE_LENGTH))
    computed_type: Mapped[str] = mapped_column(String(TYPE_LENGTH))
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cause: Mapped[str] = mapped_column(String(CAUSE_LENGTH), default="")
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    override: Mapped[bool] = mapped_column(Boolean, default=False)
    override_reason: Mapped[str] = mapped_column(String(500), default="")
    override_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    override_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RelationshipTransition(db.Model):
    """Append-only: each change of a customer's type, why, and whose customer it was then."""

    __tablename__ = "relationships_transition"
    __table_args__ = (
        Index("ix_relationships_transition_customer_at", "customer_id", "at"),
        Index("ix_relationships_transition_at_owner", "at", "owner_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    from_type: Mapped[str | None] = mapped_column(String(TYPE_LENGTH))
    to_type: Mapped[str] = mapped_column(String(TYPE_LENGTH))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cause: Mapped[str] = mapped_column(String(CAUSE_LENGTH))
    # Who acted and whose customer it was, as they were: no keys to users, so nothing (not even
    # deleting a user) rewrites the append-only log.
    by_id: Mapped[int | None] = mapped_column(Integer)
    owner_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500), default="")


class AppendOnlyError(RuntimeError):
    pass


@event.listens_for(RelationshipTransition, "before_update")
@event.listens_for(RelationshipTransition, "before_delete")
def _refuse_rewrite(mapper, connection, target) -> None:  # type: ignore[no-untyped-def]
    raise AppendOnlyError("relationship history is append-only")


def type_labels() -> dict[str, Any]:
    """Translated names of the types, for screens (the API uses the bare codes). In their own
    context: "Current" or "Potential" alone mean other things elsewhere."""
    return {"cold": pgettext("relationship type", "Cold"),
            "potential": pgettext("relationship type", "Potential"),
            "current": pgettext("relationship type", "Current"),
            "regular": pgettext("relationship type", "Regular"),
            "lapsed": pgettext("relationship type", "Lapsed")}


def cause_label(cause: str) -> Any:
    """Why a type changed, in words; unknown causes (other plugins' events) show as named."""
    return {
        "CustomerCreated": _l("customer created"), "DealCreated": _l("deal created"),
        "DealWon": _l("deal won"), "DealLost": _l("deal lost"),
        "DealReopened": _l("deal reopened"), "DealUpdated": _l("deal changed"),
        "DealDeleted": _l("deal deleted"), "LeadCaptured": _l("lead captured"),
        "LeadConverted": _l("lead converted"), "LeadStatusChanged": _l("lead status changed"),
        "CallLogged": _l("call logged"), "recompute": _l("recomputed from the data"),
        "override": _l("manual override"), "override_cleared": _l("override cleared"),
    }.get(cause, cause)
