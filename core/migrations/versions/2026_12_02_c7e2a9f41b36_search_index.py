"""Search: customers (name, tax id), contacts (name, e-mail, phone digits) and deals (title).

Revision ID: c7e2a9f41b36
Revises: b7d2e9f4c1a6
Create Date: 2026-12-02 18:00:00

SQLite: FTS5 tables with the trigram tokenizer over views of the rows, kept by triggers.
PostgreSQL: the pg_trgm extension (created here; a database where it can't be is stopped with
what to ask its owner) and GIN trigram indexes on the same expressions. See conveyor.search.index.
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from conveyor.search.index import SearchIndex, create_search_index, drop_search_index

revision: str = "c7e2a9f41b36"
down_revision: str | Sequence[str] | None = "b7d2e9f4c1a6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out here (not imported from conveyor.search.kinds): this revision keeps building
# what it built even if the kinds change later.
INDEXES = (
    SearchIndex("customers", "customers", ("name", "tax_id")),
    SearchIndex("contacts", "contacts", ("name", "email"), ("phone",)),
    SearchIndex("deals", "deals", ("title",)),
)


def upgrade() -> None:
    for index in INDEXES:
        create_search_index(op, index)


def downgrade() -> None:
    for index in reversed(INDEXES):
        drop_search_index(op, index)
