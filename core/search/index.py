"""The search index of one kind of record: which columns it covers and the SQL that builds it.

One *document* per row: its text columns joined by spaces, then its phone columns reduced to
digits (a number is found however it was typed). The same expression is indexed and queried:

* SQLite: an FTS5 table ``search_<name>`` with the ``trigram`` tokenizer (substring matches, any
  script — Chinese has no spaces to split words on), external content read from a view
  ``search_<name>_source``, kept in step with the table by three triggers. Its rowid is the
  row's id negated (:data:`FTS_KEY`): a search wants the newest matches, and FTS5 reads a
  doclist forwards 4–5× faster than backwards (0.1 ms instead of 0.55 ms for the 21 newest
  deals with "Software" at 1M deals), so the newest come first in the cheap direction.
* PostgreSQL: the document lower-cased in a stored generated column ``search_doc_<name>`` with a
  GIN trigram index (``pg_trgm``), ``ix_search_<name>``; the database keeps both with the rows,
  ``LIKE '%…%'`` uses the index. Stored, a candidate costs one ``LIKE`` on a plain string
  (~0.15 µs) instead of the expression and ``ILIKE`` (~1.8 µs with the phone's
  ``regexp_replace``): a seller's search reading the 6,500 newest contacts for 21 of their own
  with "Kuznetsov" at 1M deals took 12 ms computed, 1.3 ms stored. An index a plugin made before
  (on the expression itself, :func:`stored_document` false) is still searched, with ``ILIKE``.

Beside it, both databases keep the pairs of each row's words, and every indexed word in a shared
vocabulary (:mod:`.pairs`): SQLite an FTS5 table ``search_<name>_pairs`` (read from its own view,
kept by the same three triggers); PostgreSQL a stored column ``search_pairs_<name>`` with a GIN
index, and a trigger adding a written row's words to the vocabulary.

Migrations call :func:`create_search_index` / :func:`drop_search_index` with the index spelled
out (a core one and the leads plugin's are examples).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .pairs import (
    PAIRS_FUNCTION,
    TOKENS_FUNCTION,
    WORDS_FUNCTION,
    WORDS_TABLE,
    add_words_sql,
    vocabulary_statements,
)

# Characters people type inside phone numbers; SQLite has no regexp_replace, so the digits of a
# stored number are what is left once these are gone.
PHONE_PUNCTUATION = (" ", "-", "(", ")", "+", ".", "/", "\t")
FTS_KEY = "fts_key"  # the source view's column holding -id: the FTS5 table's rowid
PG_INDEX_PREFIX = "ix_search_"  # no model declares these: the migrations' drift check skips them
PG_COLUMN_PREFIX = "search_doc_"  # nor these columns
PG_PAIRS_PREFIX = "search_pairs_"  # nor these


class SearchSetupError(RuntimeError):
    """The database can't hold the search index (PostgreSQL without ``pg_trgm``)."""


@dataclass(frozen=True)
class SearchIndex:
    """``name`` names the index objects; ``table`` is indexed on its ``columns`` (text) and
    ``phones`` (kept as digits). Rows are identified by the integer primary key ``id``."""

    name: str
    table: str
    columns: tuple[str, ...]
    phones: tuple[str, ...] = ()

    @property
    def fts_table(self) -> str:
        return f"search_{self.name}"

    @property
    def source_view(self) -> str:
        return f"search_{self.name}_source"

    @property
    def pg_index(self) -> str:
        return f"{PG_INDEX_PREFIX}{self.name}"

    @property
    def pg_column(self) -> str:
        return f"{PG_COLUMN_PREFIX}{self.name}"

    @property
    def pairs_table(self) -> str:
        """SQLite: the FTS5 table of the rows' word pairs (:mod:`.pairs`)."""
        return f"search_{self.name}_pairs"

    @property
    def pairs_view(self) -> str:
        return f"search_{self.name}_pairs_source"

    @property
    def pg_pairs_column(self) -> str:
        """PostgreSQL: the stored column of the row's word pairs, GIN-indexed."""
        return f"{PG_PAIRS_PREFIX}{self.name}"

    @property
    def pg_pairs_index(self) -> str:
        return f"{PG_INDEX_PREFIX}pairs_{self.name}"

    def document(self, dialect: str, prefix: str | None = None) -> str:
        """The SQL of the row's document; columns qualified by ``prefix`` (``new.``, ``old.``;
        default the table's name)."""
        prefix = f"{self.table}." if prefix is None else prefix
        parts = [f"coalesce({prefix}{c}, '')" for c in self.columns]
        for column in self.phones:
            value = f"coalesce({prefix}{column}, '')"
            if dialect == "postgresql":
                parts.append(f"regexp_replace({value}, '[^0-9]', '', 'g')")
            else:
                for ch in PHONE_PUNCTUATION:
                    literal = "char(9)" if ch == "\t" else f"'{ch}'"
                    value = f"replace({value}, {literal}, '')"
                parts.append(value)
        return "(" + " || ' ' || ".join(parts) + ")"

    def create_statements(self, dialect: str) -> list[str]:
        """DDL creating the index — the trigram index and the word pairs' — and filling it
        from the rows already there."""
        if dialect == "postgresql":
            document = self.document(dialect, "")
            return [f"ALTER TABLE {self.table} ADD COLUMN IF NOT EXISTS {self.pg_column} text "
                    f"COLLATE \"C\" GENERATED ALWAYS AS (lower({document})) STORED",
                    f"CREATE INDEX IF NOT EXISTS {self.pg_index} ON {self.table} "
                    f"USING gin ({self.pg_column} gin_trgm_ops)",
                    *self.pairs_statements(dialect)]
        fts = self.fts_table
        return [
            f"DROP VIEW IF EXISTS {self.source_view}",
            f"CREATE VIEW {self.source_view} AS SELECT -id AS {FTS_KEY}, "
            f"{self.document(dialect)} AS doc FROM {self.table}",
            f"CREATE VIRTUAL TABLE {fts} USING fts5(doc, content='{self.source_view}', "
            f"content_rowid='{FTS_KEY}', tokenize='trigram')",
            *self.trigger_statements(),
            f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
            optimize_statement(fts),
            *self.pairs_statements(dialect),
        ]

    def pairs_statements(self, dialect: str, function: str = TOKENS_FUNCTION) -> list[str]:
        """DDL of the word pairs' index alone (:mod:`.pairs`: each record's pairs and bigrams,
        listed by ``function``; :data:`~.pairs.PAIRS_FUNCTION` for the pairs of ASCII words
        alone, as before 2026-12-05) and the shared vocabulary, filled from the rows already there. SQLite's
        triggers keeping it are :meth:`trigger_statements` (they keep the trigram index too)."""
        vocabulary = vocabulary_statements(dialect)
        if dialect == "postgresql":
            document = self.document(dialect, "")
            return [*vocabulary,
                    f"ALTER TABLE {self.table} ADD COLUMN IF NOT EXISTS {self.pg_pairs_column} "
                    f"text[] GENERATED ALWAYS AS ({function}({document})) STORED",
                    f"CREATE INDEX IF NOT EXISTS {self.pg_pairs_index} ON {self.table} "
                    f"USING gin ({self.pg_pairs_column})",
                    f"CREATE OR REPLACE TRIGGER {self.pg_words_trigger} AFTER INSERT OR UPDATE "
                    f"OF {self.watched} ON {self.table} FOR EACH ROW EXECUTE FUNCTION "
                    f"conveyor_search_words_kept('{self.pg_column}')",
                    self.fill_vocabulary_sql(dialect)]
        pairs = self.pairs_table
        return [*vocabulary,
                f"DROP VIEW IF EXISTS {self.pairs_view}",
                f"CREATE VIEW {self.pairs_view} AS SELECT -id AS {FTS_KEY}, "
                f"{function}({self.document(dialect)}) AS doc FROM {self.table}",
                f"CREATE VIRTUAL TABLE {pairs} USING fts5(doc, content='{self.pairs_view}', "
                f"content_rowid='{FTS_KEY}', tokenize=\"unicode61 tokenchars '_'\", "
                f"detail='none')",
                f"INSERT INTO {pairs}({pairs}) VALUES ('rebuild')",
                optimize_statement(pairs),
                self.fill_vocabulary_sql(dialect)]

    def fill_vocabulary_sql(self, dialect: str) -> str:
        """The statement adding every row's words to the vocabulary (after a bulk load)."""
        if dialect == "postgresql":
            return (f"INSERT INTO {WORDS_TABLE}(word) SELECT DISTINCT w FROM {self.table}, "
                    f"unnest({WORDS_FUNCTION}({self.pg_column})) AS w ON CONFLICT DO NOTHING")
        return add_words_sql(self.document(dialect), self.table)

    @property
    def pg_words_trigger(self) -> str:
        return f"search_words_{self.name}"

    @property
    def watched(self) -> str:
        """The columns whose change changes the document."""
        return ", ".join((*self.columns, *self.phones))

    def trigger_statements(self, with_pairs: bool = True,
                           function: str = TOKENS_FUNCTION) -> list[str]:
        """SQLite: the three triggers keeping the trigram index — and the pairs (listed by
        ``function``, as :meth:`pairs_statements`) and the vocabulary, ``with_pairs`` — in step
        with the table's rows (a bulk load drops them, fills, rebuilds, re-creates)."""
        fts, pairs = self.fts_table, self.pairs_table
        new, old = self.document("sqlite", "new."), self.document("sqlite", "old.")
        insert = f"INSERT INTO {fts}(rowid, doc) VALUES (-new.id, {new});"
        delete = f"INSERT INTO {fts}({fts}, rowid, doc) VALUES ('delete', -old.id, {old});"
        if with_pairs:
            insert += (f" INSERT INTO {pairs}(rowid, doc) VALUES (-new.id, "
                       f"{function}({new})); {add_words_sql(new)};")
            delete += (f" INSERT INTO {pairs}({pairs}, rowid, doc) VALUES ('delete', -old.id, "
                       f"{function}({old}));")
        return [
            f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {self.table} BEGIN {insert} END",
            f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {self.table} BEGIN {delete} END",
            f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {self.watched} ON {self.table} "
            f"BEGIN {delete} {insert} END",
        ]

    def drop_statements(self, dialect: str) -> list[str]:
        """DDL dropping the index (the shared vocabulary stays: other indexes' words are in
        it, and a word no record holds only widens a search by a pair that finds nothing)."""
        if dialect == "postgresql":
            return [f"DROP TRIGGER IF EXISTS {self.pg_words_trigger} ON {self.table}",
                    f"DROP INDEX IF EXISTS {self.pg_pairs_index}",
                    f"ALTER TABLE {self.table} DROP COLUMN IF EXISTS {self.pg_pairs_column}",
                    f"DROP INDEX IF EXISTS {self.pg_index}",
                    f"ALTER TABLE {self.table} DROP COLUMN IF EXISTS {self.pg_column}"]
        fts = self.fts_table
        return [f"DROP TRIGGER IF EXISTS {fts}_{t}" for t in ("ai", "ad", "au")] + [
            f"DROP TABLE IF EXISTS {fts}", f"DROP VIEW IF EXISTS {self.source_view}",
            f"DROP TABLE IF EXISTS {self.pairs_table}", f"DROP VIEW IF EXISTS {self.pairs_view}"]


def optimize_statement(fts: str) -> str:
    """SQLite: merge ``fts``'s segments into one. A 'rebuild' (or rows added one transaction at
    a time) leaves several — 8 to 19 at 1M deals — and every lookup seeks each of its trigrams
    in each segment: merged, a seller's search reading ~500 candidates to find 21 of their own
    spent 0.3–0.55 ms less in SQL at 1M deals, the admin's 0.15–0.25 ms (same rows)."""
    return f"INSERT INTO {fts}({fts}) VALUES ('optimize')"


def fts_segments(connection: Any, fts: str) -> int:
    """SQLite: how many segments ``fts`` holds (read from FTS5's structure record, id 10:
    a 4-byte cookie, then varints for the levels, the segments, …)."""
    block = connection.exec_driver_sql(f"SELECT block FROM {fts}_data WHERE id = 10").scalar()
    values, at = [], 4
    while len(values) < 2:
        value = 0
        for i in range(9):
            byte = block[at]
            at += 1
            if i == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        values.append(value)
    return values[1]


def sqlite_fts_tables(connection: Any) -> list[str]:
    """SQLite: the search indexes' FTS5 tables in the database."""
    return list(connection.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'search\\_%' "
        "ESCAPE '\\' AND sql LIKE 'CREATE VIRTUAL TABLE%fts5%'").scalars())


def optimize_indexes(connection: Any) -> list[tuple[str, int, int]]:
    """SQLite: merge each search index's segments into one; (table, segments before, after)
    for each. PostgreSQL's trigram indexes need nothing of the kind: an empty list."""
    if connection.dialect.name != "sqlite":
        return []
    done = []
    for fts in sqlite_fts_tables(connection):
        before = fts_segments(connection, fts)
        connection.exec_driver_sql(optimize_statement(fts))
        done.append((fts, before, fts_segments(connection, fts)))
    return done


def negated_rowids(connection: Any, index: SearchIndex) -> bool | None:
    """SQLite: whether ``index``'s FTS5 table is keyed by the negated id (:data:`FTS_KEY`, made
    by :meth:`SearchIndex.create_statements` since 2026-12-03) rather than the id itself (an
    index a plugin's migration built before, until it is made again); None: no such table."""
    sql = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
        (index.fts_table,)).scalar()
    return None if sql is None else f"content_rowid='{FTS_KEY}'" in sql


def rebuild_with_negated_rowids(op: Any, index: SearchIndex) -> None:
    """In a migration: make ``index``'s SQLite table again, keyed by the negated id, unless it
    already is (a database made after this change). PostgreSQL's index is left alone."""
    connection = op.get_bind()
    if connection.dialect.name != "sqlite" or negated_rowids(connection, index):
        return
    for statement in index.drop_statements("sqlite") + index.create_statements("sqlite"):
        op.execute(statement)


def stored_document(connection: Any, index: SearchIndex) -> bool | None:
    """PostgreSQL: whether ``index`` is the stored lower-cased document (:attr:`SearchIndex.
    pg_column`, made by :meth:`SearchIndex.create_statements` since 2026-12-04) rather than an
    index on the expression (one a plugin's migration built before, until it is made again);
    None: no such index."""
    from sqlalchemy import text

    found = connection.execute(text(
        "SELECT (SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = "
        ":index), (SELECT 1 FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = :table AND column_name = :column)"),
        {"index": index.pg_index, "table": index.table, "column": index.pg_column}).one()
    return None if found[0] is None else found[1] is not None


def has_pairs(connection: Any, index: SearchIndex) -> bool:
    """Whether ``index`` has its word pairs (:mod:`.pairs`, made by
    :meth:`SearchIndex.create_statements` since 2026-12-04, or :func:`add_word_pairs`)."""
    if connection.dialect.name == "sqlite":
        return connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
            (index.pairs_table,)).scalar() is not None
    from sqlalchemy import text

    return connection.execute(text(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND "
        "table_name = :table AND column_name = :column"),
        {"table": index.table, "column": index.pg_pairs_column}).scalar() is not None


def has_tokens(connection: Any, index: SearchIndex) -> bool:
    """Whether ``index`` lists :data:`~.pairs.TOKENS_FUNCTION`'s tokens — the pairs of Latin
    and Russian words and the Chinese bigrams — rather than the pairs of ASCII words alone
    (made since 2026-12-05, or by :func:`add_tokens`); False without pairs."""
    if connection.dialect.name == "sqlite":
        # The insert trigger, not the pairs' view: a migration run sets the views aside
        # (conveyor.search.migrations), and the trigger calls the same function.
        sql = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
            (f"{index.fts_table}_ai",)).scalar()
    else:
        from sqlalchemy import text

        sql = connection.execute(text(
            "SELECT generation_expression FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = :table AND column_name = :column"),
            {"table": index.table, "column": index.pg_pairs_column}).scalar()
    return sql is not None and TOKENS_FUNCTION in sql


def add_word_pairs(op: Any, index: SearchIndex, function: str = TOKENS_FUNCTION) -> None:
    """In a migration: give ``index`` its word pairs (and the vocabulary), unless it has them
    (a database made after this change). SQLite's triggers are made again to keep them;
    PostgreSQL's index is first brought to the stored document, which its words are read from.
    ``function``: as :meth:`SearchIndex.pairs_statements`."""
    connection = op.get_bind()
    dialect = connection.dialect.name
    if has_pairs(connection, index):
        return
    if dialect == "postgresql":
        rebuild_with_stored_document(op, index)
        statements = index.pairs_statements(dialect, function)
    else:
        fts = index.fts_table
        statements = [*index.pairs_statements(dialect, function),
                      *(f"DROP TRIGGER IF EXISTS {fts}_{t}" for t in ("ai", "ad", "au")),
                      *index.trigger_statements(function=function)]
    for statement in statements:
        op.execute(statement)


def add_tokens(op: Any, index: SearchIndex) -> None:
    """In a migration: make ``index``'s word pairs again as :data:`~.pairs.TOKENS_FUNCTION`'s
    tokens (an index made before lists the pairs of ASCII words alone; one without pairs gets
    them)."""
    if has_tokens(op.get_bind(), index):
        return
    drop_word_pairs(op, index)
    add_word_pairs(op, index)


def drop_tokens(op: Any, index: SearchIndex) -> None:
    """In a migration's ``downgrade()``: ``index``'s pairs of ASCII words alone again."""
    if not has_tokens(op.get_bind(), index):
        return
    drop_word_pairs(op, index)
    add_word_pairs(op, index, PAIRS_FUNCTION)


def drop_word_pairs(op: Any, index: SearchIndex) -> None:
    """In a migration's ``downgrade()``: take ``index``'s word pairs away (SQLite's triggers
    back to the trigram index alone); the vocabulary stays."""
    connection = op.get_bind()
    if not has_pairs(connection, index):
        return
    if connection.dialect.name == "postgresql":
        statements = [f"DROP TRIGGER IF EXISTS {index.pg_words_trigger} ON {index.table}",
                      f"DROP INDEX IF EXISTS {index.pg_pairs_index}",
                      f"ALTER TABLE {index.table} DROP COLUMN IF EXISTS {index.pg_pairs_column}"]
    else:
        fts = index.fts_table
        statements = [*(f"DROP TRIGGER IF EXISTS {fts}_{t}" for t in ("ai", "ad", "au")),
                      f"DROP TABLE IF EXISTS {index.pairs_table}",
                      f"DROP VIEW IF EXISTS {index.pairs_view}",
                      *index.trigger_statements(with_pairs=False)]
    for statement in statements:
        op.execute(statement)


def rebuild_with_stored_document(op: Any, index: SearchIndex) -> None:
    """In a migration: make ``index``'s PostgreSQL index again over the stored document,
    unless it already is (a database made after this change). SQLite's is left alone."""
    connection = op.get_bind()
    if connection.dialect.name != "postgresql" or stored_document(connection, index):
        return
    for statement in index.drop_statements("postgresql") + index.create_statements("postgresql"):
        op.execute(statement)


def ensure_pg_trgm(connection: Any) -> None:
    """Create PostgreSQL's ``pg_trgm`` extension unless it is there; a database where it can't
    be created stops the migration with what to do instead of a bare SQL error."""
    from sqlalchemy import text

    if connection.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).scalar():
        return
    available = connection.execute(text(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).scalar()
    if not available:
        raise SearchSetupError(
            "Search needs PostgreSQL's pg_trgm extension, which this server does not have: "
            "install the server's contrib package (Debian: postgresql-contrib) and run the "
            "migration again.")
    try:
        with connection.begin_nested():
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except Exception as exc:  # noqa: BLE001 - any refusal gets the same advice
        database = connection.execute(text("SELECT current_database()")).scalar()
        raise SearchSetupError(
            f"Search needs PostgreSQL's pg_trgm extension and this user may not create it "
            f"({type(exc).__name__}: {str(exc).splitlines()[0]}). Ask the database owner or a "
            f"superuser to run: CREATE EXTENSION pg_trgm; in database {database!r}, then run "
            f"the migration again.") from exc


def create_search_index(op: Any, index: SearchIndex) -> None:
    """In a migration's ``upgrade()``: create ``index`` (and ``pg_trgm`` on PostgreSQL)."""
    connection = op.get_bind()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        ensure_pg_trgm(connection)
    for statement in index.create_statements(dialect):
        op.execute(statement)


def drop_search_index(op: Any, index: SearchIndex) -> None:
    """In a migration's ``downgrade()``: drop ``index`` (the extension stays)."""
    for statement in index.drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
