"""leads: the search index (company, person, e-mail, tax id, phone digits).

Revision ID: leads_0002
Revises: leads_0001
Create Date: 2026-12-02

SQLite: an FTS5 trigram table kept by triggers; PostgreSQL: a pg_trgm GIN index (see
conveyor.search.index).
"""
from __future__ import annotations

from alembic import op

from conveyor import SearchIndex, create_search_index, drop_search_index

revision = "leads_0002"
down_revision = "leads_0001"
branch_labels = None
depends_on = None

INDEX = SearchIndex("leads", "leads_lead", ("company", "name", "email", "tax_id"), ("phone",))


def upgrade() -> None:
    create_search_index(op, INDEX)


def downgrade() -> None:
    drop_search_index(op, INDEX)
