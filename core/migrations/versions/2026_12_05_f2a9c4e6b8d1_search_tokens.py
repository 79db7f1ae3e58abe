"""Search index: the pairs of Russian words, and the two-character pieces of Chinese text.

Revision ID: f2a9c4e6b8d1
Revises: e7b3f9a1c5d2
Create Date: 2026-12-05 00:30:00

The word pairs (``d4a7c2e9f1b3``) were of ASCII words only: two Russian words common apart
("ООО Ромашка") were intersected in the trigram index. And a Chinese word is mostly two
characters ("华为", "北京"), too short for a trigram: a search for one read every record (0.3–0.45 s
at 1M deals). Each record's pairs index now lists ``conveyor_search_tokens``: the pairs of its
Latin and Russian words, and every two-character piece of its runs of Chinese characters
(``conveyor.search.pairs``; SQLite: the FTS5 table ``search_<name>_pairs``; PostgreSQL: the
stored column ``search_pairs_<name>``, computed again for every row — a table rewrite, minutes
at millions of rows); the vocabulary gets the Russian words. Downgrade lists the pairs of ASCII
words alone again.
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from conveyor.search.index import SearchIndex, add_tokens, drop_tokens

revision: str = "f2a9c4e6b8d1"
down_revision: str | Sequence[str] | None = "e7b3f9a1c5d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    SearchIndex("customers", "customers", ("name", "tax_id")),
    SearchIndex("contacts", "contacts", ("name", "email"), ("phone",)),
    SearchIndex("deals", "deals", ("title",)),
)


def upgrade() -> None:
    for index in INDEXES:
        add_tokens(op, index)


def downgrade() -> None:
    for index in INDEXES:
        drop_tokens(op, index)
