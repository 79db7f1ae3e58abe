"""Word pairs: two words common apart and rare together, found at once.

The trigram index finds each word of a query; the records holding both are the intersection of
two long lists. "Software training" at 1M deals: 100,000 deals hold each word and none holds
both — reading the candidates of one for the other took 90 ms, intersecting the trigram lists
in the index ~30 ms, a word index ~3 ms. So each record's document also lists the pairs of its
words (``licence_software``), indexed, and such a query looks its pairs up: microseconds, however
common the words are.

A *word* here is a maximal run of at least three Latin (ASCII) or Russian letters, lower-cased:
a query word of such letters is in a document (as a substring, ignoring case) exactly when it is
in one of the document's words. (An index made before 2026-12-05 lists the pairs of ASCII words
only: :data:`PAIRS_FUNCTION`; a Russian query word is then searched by its trigrams.) The query's word may be part of a longer one ("train" in "training"), so it
is first widened to the words that contain it, from the vocabulary of every indexed word
(``search_words``, with its own trigram index: a few thousand rows, not millions); the pairs
looked up are those of the widened words. A record with more than :data:`MAX_WORDS` words lists
:data:`MANY` instead of its pairs (a pair list grows with the square of the words), and is a
candidate of every pair search. Every candidate is still tested for every word of the query, as
any search's are, so the pairs only decide what is read, never what is found.

Chinese has no spaces between words, and its words are mostly two characters — a name like
"华为" or "北京" — which no trigram holds: such a query read every record (0.3–0.45 s at 1M
deals). So the index also lists each two-character piece of every run of Chinese characters
in the document (:func:`bigrams`: "华为技术" gives "为技 华为 技术") — as many as the run's
characters, not their square — and a query whose pieces are all too short for the trigrams
looks its two-character ones up there (:func:`query_bigrams`). Both kinds of tokens make one
document (:func:`token_document`).

SQLite computes a document's words and tokens with two functions this module registers on every
connection SQLAlchemy opens (:func:`register_sqlite_functions`; a script opening the database
with ``sqlite3`` and writing to an indexed table must call it too); PostgreSQL, with two SQL
functions of the same definition (:data:`PG_FUNCTIONS`).
"""
from __future__ import annotations

import json
import re
import sqlite3
from itertools import combinations_with_replacement
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

# Latin and Russian letters, written out: PostgreSQL's patterns compare ranges by code point,
# and its lower() of a Russian letter depends on the database's locale — translate() doesn't.
LETTERS = "A-Za-zА-Яа-яЁё"
UPPER_RU, LOWER_RU = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ", "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
WORD = re.compile(f"[{LETTERS}]{{3,}}")
ASCII_WORD = re.compile(r"[A-Za-z]{3,}")  # the words of PAIRS_FUNCTION, before 2026-12-05
MAX_WORDS = 16  # more words than this: the record lists MANY instead of its (137+) pairs
MANY = "0many"  # a token no pair can be: pairs are letters and "_"
JOINER = "_"
WORDS_TABLE = "search_words"
WORDS_INDEX = "search_words_index"  # SQLite: FTS5 (trigram) over the vocabulary
PG_WORDS_INDEX = "ix_search_words"
WORDS_FUNCTION = "conveyor_search_words"  # the functions' names, on both databases
TOKENS_FUNCTION = "conveyor_search_tokens"  # pairs and bigrams: what an index lists
# Pairs alone: what an index made before the bigrams lists (its triggers still call it until
# the migration makes the index again; a downgrade brings it back).
PAIRS_FUNCTION = "conveyor_search_pairs"
FOLD_FUNCTION = "conveyor_search_fold"  # SQLite: lower() in every script (:func:`fold`)
# The characters of Chinese words (CJK ideographs and their extensions: the search's own
# notion, conveyor.search.terms), written out so PostgreSQL's pattern is the same code points.
HAN = "\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
HAN_RUN = re.compile(f"[{HAN}]{{2,}}")
BIGRAM = re.compile(f"[{HAN}]{{2}}")


def words(document: str | None, word: re.Pattern[str] = WORD) -> list[str]:
    """The document's words, lower-cased, each once, in code point order."""
    return sorted({w.lower() for w in word.findall(document or "")})


def pair(a: str, b: str) -> str:
    """The token of two words (either order; a word with itself too: "train soft" is found in
    a record whose one word "trainsoft" holds both)."""
    return f"{a}{JOINER}{b}" if a <= b else f"{b}{JOINER}{a}"


def pair_document(document: str | None, word: re.Pattern[str] = WORD) -> str:
    """What the pair index holds for a record: its words' pairs, space-separated, or
    :data:`MANY` (``word``: :data:`ASCII_WORD` for an index made before Russian words)."""
    found = words(document, word)
    if len(found) > MAX_WORDS:
        return MANY
    return " ".join(pair(a, b) for a, b in combinations_with_replacement(found, 2))


def bigrams(document: str | None) -> list[str]:
    """Every two-character piece of the document's runs of Chinese characters, each once, in
    code point order."""
    return sorted({run[i:i + 2] for run in HAN_RUN.findall(document or "")
                   for i in range(len(run) - 1)})


def token_document(document: str | None) -> str:
    """What the index lists for a record: :func:`pair_document`'s pairs (or :data:`MANY`) and
    :func:`bigrams`, space-separated (a bigram is never a pair: pairs are letters and "_")."""
    return " ".join(filter(None, (pair_document(document), " ".join(bigrams(document)))))


def query_bigrams(short: tuple[str, ...]) -> tuple[str, ...]:
    """The bigrams a query's short pieces (too short for the trigram index) are looked up by:
    the pieces of exactly two Chinese characters (a query of short pieces alone has one)."""
    return tuple(sorted({piece for piece in short if BIGRAM.fullmatch(piece)}))


def is_word(text: str) -> bool:
    """Whether a query's piece can be looked up by its pairs: Latin or Russian letters only,
    three or more (what :data:`WORD` reads from documents)."""
    return WORD.fullmatch(text) is not None


def fold(text: str | None) -> str | None:
    """SQLite: ``text`` lower-cased in every script (its own ``lower()`` and ``LIKE`` fold
    ASCII only) — how a pair search tests a Russian word on its candidates."""
    return None if text is None else text.lower()


def _words_json(document: str | None) -> str:
    return json.dumps(words(document))


def _ascii_pair_document(document: str | None) -> str:
    return pair_document(document, ASCII_WORD)


def register_sqlite_functions(connection: Any) -> None:
    """Define the SQLite functions the index's triggers and views call on a DB-API connection."""
    connection.create_function(WORDS_FUNCTION, 1, _words_json, deterministic=True)
    connection.create_function(TOKENS_FUNCTION, 1, token_document, deterministic=True)
    connection.create_function(PAIRS_FUNCTION, 1, _ascii_pair_document, deterministic=True)
    connection.create_function(FOLD_FUNCTION, 1, fold, deterministic=True)


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        register_sqlite_functions(dbapi_connection)


# PostgreSQL: the same words (maximal runs of three or more Latin or Russian letters,
# lower-cased, each once, ordered byte-wise) and pairs (the legacy function: ASCII words), as immutable SQL functions a generated column may call;
# and the trigger function adding a written row's words to the vocabulary (its argument names
# the row's stored document column).
_PG_LOWER = f"lower(translate(m[1], '{UPPER_RU}', '{LOWER_RU}'))"
HAN_PG = "".join(chr(int(a, 16)) + "-" + chr(int(b, 16)) for a, b in (
    ("3400", "9fff"), ("f900", "faff"), ("20000", "2ffff")))
PG_FUNCTIONS = (
    f"""CREATE OR REPLACE FUNCTION {WORDS_FUNCTION}(doc text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT w ORDER BY w), '{{}}') FROM (
        SELECT {_PG_LOWER} COLLATE "C" AS w
        FROM regexp_matches(coalesce(doc, ''), '([{LETTERS}]{{3,}})', 'g') AS m) AS found $$""",
    # Self-contained (no call to the function above): pg_restore creates the tables with an
    # empty search_path, where a generated column's function finds only built-in ones.
    f"""CREATE OR REPLACE FUNCTION {PAIRS_FUNCTION}(doc text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH found AS (
        SELECT DISTINCT lower(m[1]) COLLATE "C" AS w
        FROM regexp_matches(coalesce(doc, ''), '([A-Za-z]{{3,}})', 'g') AS m)
    SELECT CASE WHEN (SELECT count(*) FROM found) > {MAX_WORDS} THEN ARRAY['{MANY}'] ELSE coalesce(
        (SELECT array_agg(a.w || '{JOINER}' || b.w) FROM found AS a, found AS b
         WHERE a.w <= b.w), '{{}}') END $$""",
    # The pairs as above, then the bigrams; the class of Chinese characters is written out as
    # code point ranges, which PostgreSQL's patterns compare by code point in any locale.
    f"""CREATE OR REPLACE FUNCTION {TOKENS_FUNCTION}(doc text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH found AS (
        SELECT DISTINCT {_PG_LOWER} COLLATE "C" AS w
        FROM regexp_matches(coalesce(doc, ''), '([{LETTERS}]{{3,}})', 'g') AS m),
    runs AS (
        SELECT m[1] AS run FROM regexp_matches(coalesce(doc, ''), '([{HAN_PG}]{{2,}})', 'g') AS m),
    pieces AS (
        SELECT DISTINCT substr(run, i, 2) AS piece FROM runs,
            generate_series(1, char_length(run) - 1) AS i)
    SELECT CASE WHEN (SELECT count(*) FROM found) > {MAX_WORDS} THEN ARRAY['{MANY}'] ELSE coalesce(
        (SELECT array_agg(a.w || '{JOINER}' || b.w) FROM found AS a, found AS b
         WHERE a.w <= b.w), '{{}}') END
        || coalesce((SELECT array_agg(piece) FROM pieces), '{{}}') $$""",
    f"""CREATE OR REPLACE FUNCTION conveyor_search_words_kept() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {WORDS_TABLE}(word)
        SELECT w FROM unnest({WORDS_FUNCTION}(to_jsonb(NEW) ->> TG_ARGV[0])) AS w
        WHERE NOT EXISTS (SELECT 1 FROM {WORDS_TABLE} AS known WHERE known.word = w)
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$""",
)


def vocabulary_statements(dialect: str) -> list[str]:
    """DDL of the vocabulary every index adds its words to (idempotent: each index's creation
    runs it)."""
    if dialect == "postgresql":
        return [f'CREATE TABLE IF NOT EXISTS {WORDS_TABLE} (word text COLLATE "C" PRIMARY KEY)',
                f"CREATE INDEX IF NOT EXISTS {PG_WORDS_INDEX} ON {WORDS_TABLE} "
                f"USING gin (word gin_trgm_ops)", *PG_FUNCTIONS]
    return [f"CREATE TABLE IF NOT EXISTS {WORDS_TABLE} (id INTEGER PRIMARY KEY, "
            f"word TEXT NOT NULL UNIQUE)",
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {WORDS_INDEX} USING fts5(word, "
            f"content='{WORDS_TABLE}', content_rowid='id', tokenize='trigram')",
            f"CREATE TRIGGER IF NOT EXISTS {WORDS_TABLE}_ai AFTER INSERT ON {WORDS_TABLE} "
            f"BEGIN INSERT INTO {WORDS_INDEX}(rowid, word) VALUES (new.id, new.word); END"]


def add_words_sql(document: str, table: str | None = None) -> str:
    """SQLite: the statement adding the words of ``document`` (SQL) to the vocabulary — of
    each row of ``table``, when given (else a trigger's row)."""
    rows = f"{table}, " if table else ""
    return (f"INSERT OR IGNORE INTO {WORDS_TABLE}(word) SELECT words.value FROM {rows}"
            f"json_each({WORDS_FUNCTION}({document})) AS words")


MAX_WIDENED = 16  # words containing a query word, at most, for the pairs to be looked up


def pair_words(groups: tuple[tuple[str, ...], ...], phone: bool) -> tuple[str, str] | None:
    """The two words of a query whose pairs are looked up — the two longest (the rarest, by
    their look), lower-cased — when every group is one word :func:`is_word` and there are two
    or more; else None (a number or an e-mail leads the trigram index better)."""
    if phone or len(groups) < 2 or any(len(g) != 1 or not is_word(g[0]) for g in groups):
        return None
    ranked = sorted((g[0].lower() for g in groups), key=len, reverse=True)
    return (ranked[0], ranked[1]) if ranked[0] != ranked[1] else None


def widened_pairs(first: list[str], second: list[str]) -> tuple[str, ...]:
    """The pair tokens of every word of ``first`` with every word of ``second``, and
    :data:`MANY` (sorted: the same words, the same statement text)."""
    return tuple(sorted({pair(a, b) for a in first for b in second} | {MANY}))


def pairs_param(tokens: tuple[str, ...], dialect: str) -> str:
    """The tokens as the statement's parameter: an FTS5 ``OR`` query (SQLite), an array
    literal (PostgreSQL). Tokens are letters, "_", Chinese
    characters and :data:`MANY`: nothing to escape."""
    if dialect == "postgresql":  # MANY is looked up apart (engine.pair_match_ids)
        return "{" + ",".join(t for t in tokens if t != MANY) + "}"
    return " OR ".join(f'"{t}"' for t in tokens)
