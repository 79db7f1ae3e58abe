"""leads: the search index's word pairs (see the core's revision d4a7c2e9f1b3).

Revision ID: leads_0005
Revises: leads_0004
Create Date: 2026-12-04
"""
from __future__ import annotations

from alembic import op

from conveyor.search.index import SearchIndex, add_word_pairs, drop_word_pairs

revision = "leads_0005"
down_revision = "leads_0004"
branch_labels = None
depends_on = None

INDEX = SearchIndex("leads", "leads_lead", ("company", "name", "email", "tax_id"), ("phone",))


def upgrade() -> None:
    add_word_pairs(op, INDEX)


def downgrade() -> None:
    drop_word_pairs(op, INDEX)
