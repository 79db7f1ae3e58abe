"""activities: the reminder index holds only the reminders still to send (partial index)

Clearing a queued reminder then deletes its entry instead of moving it among the NULL ones of
every closed or past activity (a write to a random page of a large index per reminder).

Revision ID: activities_0003
Revises: activities_0002
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "activities_0003"
down_revision = "activities_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_activities_activity_remind_at", table_name="activities_activity")
    op.create_index("ix_activities_activity_remind_at", "activities_activity", ["remind_at"],
                    sqlite_where=sa.text("remind_at IS NOT NULL"),
                    postgresql_where=sa.text("remind_at IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_activities_activity_remind_at", table_name="activities_activity")
    op.create_index("ix_activities_activity_remind_at", "activities_activity", ["remind_at"])
