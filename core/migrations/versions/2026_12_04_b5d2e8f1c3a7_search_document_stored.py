"""Search index (PostgreSQL): the document stored, lower-cased, and indexed as a column.

Revision ID: b5d2e8f1c3a7
Revises: a9f3c1e7b2d4
Create Date: 2026-12-04 12:00:00

The trigram index was on the document's expression, so every candidate a search tested computed
it again (the contact's phone through ``regexp_replace``) and matched it with ``ILIKE``: ~1.8 µs
a row, 12 ms for a seller's search reading the 6,500 newest contacts for 21 of their own at 1M
deals. Stored in a generated column ``search_doc_<name>`` (collation "C": the ``LIKE`` on it is a
plain byte match, the text already lower-cased), a candidate costs ~0.15 µs. Each PostgreSQL
index is made again over its column (a database made after this change already has it so and is
left alone); SQLite's FTS5 tables are untouched. Downgrade leaves the indexes as they are: the
search reads both layouts.
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from conveyor.search.index import SearchIndex, rebuild_with_stored_document

revision: str = "b5d2e8f1c3a7"
down_revision: str | Sequence[str] | None = "a9f3c1e7b2d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    SearchIndex("customers", "customers", ("name", "tax_id")),
    SearchIndex("contacts", "contacts", ("name", "email"), ("phone",)),
    SearchIndex("deals", "deals", ("title",)),
)


def upgrade() -> None:
    for index in INDEXES:
        rebuild_with_stored_document(op, index)


def downgrade() -> None:
    pass  # the search reads an index on the expression too (conveyor.search.index.stored_document)
