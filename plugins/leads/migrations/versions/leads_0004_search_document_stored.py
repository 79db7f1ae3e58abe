"""leads: the search index (PostgreSQL) over the stored, lower-cased document (see the core's
revision b5d2e8f1c3a7).

Revision ID: leads_0004
Revises: leads_0003
Create Date: 2026-12-04
"""
from __future__ import annotations

from alembic import op

from conveyor.search.index import SearchIndex, rebuild_with_stored_document

revision = "leads_0004"
down_revision = "leads_0003"
branch_labels = None
depends_on = None

INDEX = SearchIndex("leads", "leads_lead", ("company", "name", "email", "tax_id"), ("phone",))


def upgrade() -> None:
    rebuild_with_stored_document(op, INDEX)


def downgrade() -> None:
    pass  # the search reads an index on the expression too
