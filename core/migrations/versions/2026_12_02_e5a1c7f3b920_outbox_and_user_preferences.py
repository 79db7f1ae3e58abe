"""The transactional outbox; users' time zone and e-mail notification preference.

Revision ID: e5a1c7f3b920
Revises: d7a3c9e1f2b8
Create Date: 2026-12-02 14:40:00

``outbox`` holds work that must follow a committed change (conveyor.jobs). Users gain the time
zone they read times in and whether notifications also reach them by e-mail.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5a1c7f3b920"
down_revision: str | Sequence[str] | None = "d7a3c9e1f2b8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("order_key", sa.String(length=120), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("run_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
    )
    op.create_index("ix_outbox_status_run_at", "outbox", ["status", "run_at"])
    op.create_index("ix_outbox_order_key_id", "outbox", ["order_key", "id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("email_notifications", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email_notifications")
        batch.drop_column("timezone")
    op.drop_index("ix_outbox_order_key_id", table_name="outbox")
    op.drop_index("ix_outbox_status_run_at", table_name="outbox")
    op.drop_table("outbox")
