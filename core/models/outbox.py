"""The transactional outbox: work that must follow a committed change, written in the same
transaction as the change and delivered from there (see :mod:`conveyor.jobs`)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..types import UTCDateTime, utcnow

# BIGINT on PostgreSQL (a busy outbox outlives 2^31 rows); SQLite's rowid is an INTEGER key.
BigId = BigInteger().with_variant(Integer, "sqlite")

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"


class OutboxMessage(db.Model):
    """One unit of deferred work: a registered job's name and its JSON keyword arguments.

    ``key`` makes enqueueing idempotent (a second row with the same key is not written);
    ``order_key`` delivers rows sharing it one at a time, in id order."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_run_at", "status", "run_at"),
        Index("ix_outbox_order_key_id", "order_key", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job: Mapped[str] = mapped_column(String(120))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    order_key: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    last_error: Mapped[str] = mapped_column(Text, default="")
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
