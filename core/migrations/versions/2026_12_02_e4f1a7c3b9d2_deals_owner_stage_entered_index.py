"""Indexes on deals (owner_id, stage_id, stage_entered_at) and (stage_id, stage_entered_at) for
analytics whose cost follows the selection.

Revision ID: e4f1a7c3b9d2
Revises: f2c8d4e6a9b1
Create Date: 2026-12-02 14:40:00

The funnel's figures for some sellers and a period ask "which of these sellers' deals moved since
T" (history of the period, state at a past moment) and "which closed in the period" (a closed deal's
``closed_at`` is the moment it entered its closed stage). With this index the database reads those
sellers' deals that moved since T, stage by stage, instead of every deal of the company or every
deal the sellers ever had; a stalled-deals list reads each stage's oldest entries the same way.
The second index answers the same questions for the whole company (no owner condition).
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "e4f1a7c3b9d2"
down_revision: str | Sequence[str] | None = "f2c8d4e6a9b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_deals_owner_stage_entered", "deals",
                    ["owner_id", "stage_id", "stage_entered_at"])
    op.create_index("ix_deals_stage_entered", "deals", ["stage_id", "stage_entered_at"])


def downgrade() -> None:
    op.drop_index("ix_deals_stage_entered", table_name="deals")
    op.drop_index("ix_deals_owner_stage_entered", table_name="deals")
