"""Search index: the pairs of each record's words, and the vocabulary of every indexed word.

Revision ID: d4a7c2e9f1b3
Revises: c8e1f4a2d6b9
Create Date: 2026-12-04 21:00:00

Two words common apart and rare together ("Software training": 100,000 deals hold each word at
1M deals, none both) cost a search the intersection of two long lists: 30–90 ms. Each record's
document now also lists the pairs of its words, indexed (SQLite: an FTS5 table
``search_<name>_pairs`` kept by the index's triggers; PostgreSQL: a stored column
``search_pairs_<name>`` with a GIN index), and every indexed word is in a vocabulary with its
own trigram index (``search_words``), through which a query's words are widened to the words
containing them before their pairs are looked up (``conveyor.search.pairs``). Downgrade takes
the pairs away (the vocabulary stays, unused).
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from conveyor.search.index import SearchIndex, add_word_pairs, drop_word_pairs

revision: str = "d4a7c2e9f1b3"
down_revision: str | Sequence[str] | None = "c8e1f4a2d6b9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    SearchIndex("customers", "customers", ("name", "tax_id")),
    SearchIndex("contacts", "contacts", ("name", "email"), ("phone",)),
    SearchIndex("deals", "deals", ("title",)),
)


def upgrade() -> None:
    for index in INDEXES:
        add_word_pairs(op, index)


def downgrade() -> None:
    for index in INDEXES:
        drop_word_pairs(op, index)
