"""Stages gain ``gates``: the named stage gates an admin switched on for the stage.

Revision ID: a3f19c6d2e47
Revises: e4f1a7c3b9d2
Create Date: 2026-12-02 15:00:00

A stage gate (``register_stage_gates``) is a plugin's condition for entering or passing a stage
("the contract is approved"). Which gates apply is per stage, so it lives on the stage row and
rides along the pipelines snapshot: a move checks it without a statement of its own.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a3f19c6d2e47"
down_revision: str | Sequence[str] | None = "e4f1a7c3b9d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stages") as batch:
        batch.add_column(sa.Column("gates", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("stages") as batch:
        batch.drop_column("gates")
