"""Search index (SQLite): keyed by the negated id, so FTS5 reads the newest matches first.

Revision ID: a9f3c1e7b2d4
Revises: d41a6e8c2f57
Create Date: 2026-12-03 12:00:00

A search shows the newest matches; FTS5 reads a term's list of rows forwards 4–5× faster than
backwards, so with the id negated as the FTS5 rowid the newest come first in the cheap
direction (the 21 newest deals with "Software" at 1M deals: 0.1 ms instead of 0.55 ms). Each
SQLite index is made again and refilled from its rows (a database made after this change
already has them so and is left alone); PostgreSQL's trigram indexes are untouched.
Downgrade leaves the tables as they are: the search reads both layouts.
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from conveyor.search.index import SearchIndex, rebuild_with_negated_rowids

revision: str = "a9f3c1e7b2d4"
down_revision: str | Sequence[str] | None = "d41a6e8c2f57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    SearchIndex("customers", "customers", ("name", "tax_id")),
    SearchIndex("contacts", "contacts", ("name", "email"), ("phone",)),
    SearchIndex("deals", "deals", ("title",)),
)


def upgrade() -> None:
    for index in INDEXES:
        rebuild_with_negated_rowids(op, index)


def downgrade() -> None:
    pass  # the search reads an index keyed either way (conveyor.search.index.negated_rowids)
