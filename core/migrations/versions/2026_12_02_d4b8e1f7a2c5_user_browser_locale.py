"""Users gain ``browser_locale``: the language their browser asked for when they last signed in.

Revision ID: d4b8e1f7a2c5
Revises: c7e2a9f41b36
Create Date: 2026-12-02 21:10:00

Notifications and e-mails are written while the recipient is away; someone who never chose a
language in their settings should still get them in the language they read the site in.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d4b8e1f7a2c5"
down_revision: str | Sequence[str] | None = "c7e2a9f41b36"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("browser_locale", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("browser_locale")
