"""funnel: closed totals also indexed by (stage, owner, day), so that won in a period reads the
won rows only (the primary key, by owner and day, walks every closed stage and lost reason)

Revision ID: funnel_0004
Revises: funnel_0003
"""
from __future__ import annotations

from alembic import op

revision = "funnel_0004"
down_revision = "funnel_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_funnel_closed_totals_stage_owner_day", "funnel_closed_totals",
                    ["stage_id", "owner_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_funnel_closed_totals_stage_owner_day", table_name="funnel_closed_totals")
