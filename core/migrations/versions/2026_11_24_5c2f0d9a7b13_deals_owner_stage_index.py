"""An index on deals (owner_id, stage_id, id) for the board's newest cards per stage.

Revision ID: 5c2f0d9a7b13
Revises: 9e8b86e94c45
Create Date: 2026-11-24 04:10:00

A seller's board asks each stage for the newest ten of their own deals. With (stage_id, id)
alone the database walks the stage's deals newest first and skips everyone else's — at 1M deals
about 24 rows read per card shown; with (owner_id, stage_id, id) it reads the ten it shows.
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "5c2f0d9a7b13"
down_revision: str | Sequence[str] | None = "9e8b86e94c45"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_deals_owner_stage_id", "deals", ["owner_id", "stage_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_deals_owner_stage_id", table_name="deals")
