"""leads: the search index's Chinese bigrams (see the core's revision f2a9c4e6b8d1).

Revision ID: leads_0006
Revises: leads_0005
Create Date: 2026-12-05
"""
from __future__ import annotations

from alembic import op

from conveyor.search.index import SearchIndex, add_bigrams, drop_bigrams

revision = "leads_0006"
down_revision = "leads_0005"
branch_labels = None
depends_on = None

INDEX = SearchIndex("leads", "leads_lead", ("company", "name", "email", "tax_id"), ("phone",))


def upgrade() -> None:
    add_bigrams(op, INDEX)


def downgrade() -> None:
    drop_bigrams(op, INDEX)
