"""Change stamps: a token renewed with every pipeline or stage change.

Revision ID: b41e7c2a9d05
Revises: 5c2f0d9a7b13
Create Date: 2026-11-24 06:00:00

Each process keeps the pipelines and their stages in memory and checks this token with the
signed-in user's statement (conveyor.pipelines). The row starts with a fresh token, so a
database rebuilt under a running process is never mistaken for the one it cached.
"""
from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b41e7c2a9d05"
down_revision: str | Sequence[str] | None = "5c2f0d9a7b13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    stamps = op.create_table(
        "change_stamps",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_change_stamps")),
    )
    op.bulk_insert(stamps, [{"name": "pipelines", "token": secrets.token_hex(16)}])


def downgrade() -> None:
    op.drop_table("change_stamps")
