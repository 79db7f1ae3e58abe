"""leads: the search index's tokens — Russian words' pairs, Chinese bigrams (see the core's
revision f2a9c4e6b8d1).

Revision ID: leads_0006
Revises: leads_0005
Create Date: 2026-12-05
"""
from __future__ import annotations

from alembic import op

from conveyor.search.index import SearchIndex, add_tokens, drop_tokens

revision = "leads_0006"
down_revision = "leads_0005"
branch_labels = None
depends_on = None

INDEX = SearchIndex("leads", "leads_lead", ("company", "name", "email", "tax_id"), ("phone",))


def upgrade() -> None:
    add_tokens(op, INDEX)


def downgrade() -> None:
    drop_tokens(op, INDEX)
