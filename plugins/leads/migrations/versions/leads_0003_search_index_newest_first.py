"""leads: the search index (SQLite) keyed by the negated id, newest first in FTS5's cheap
direction (see the core's revision a9f3c1e7b2d4).

Revision ID: leads_0003
Revises: leads_0002
Create Date: 2026-12-03
"""
from __future__ import annotations

from alembic import op

from conveyor.search.index import SearchIndex, rebuild_with_negated_rowids

revision = "leads_0003"
down_revision = "leads_0002"
branch_labels = None
depends_on = None

INDEX = SearchIndex("leads", "leads_lead", ("company", "name", "email", "tax_id"), ("phone",))


def upgrade() -> None:
    rebuild_with_negated_rowids(op, INDEX)


def downgrade() -> None:
    pass  # the search reads an index keyed either way
