"""Running a search: one statement per kind the user may see, limited by the kind's record
rules — the same ``scope`` its list applies — whatever the number of rows or hits; read from the
trigram index (:func:`match_ids`) or, for plain words and two-character Chinese words, the
pairs' index (:func:`pair_match_ids`)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask import current_app, g, has_request_context
from sqlalchemy import (
    ARRAY,
    Join,
    Select,
    String,
    Text,
    and_,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.ext.compiler import compiles

from ..extensions import db
from ..permissions import can, scope, scoped_statement
from ..queries import written_limit
from .index import SearchIndex, has_pairs, has_tokens, negated_rowids, stored_document
from .kinds import SearchHit, SearchKind, all_kinds
from .pairs import (
    FOLD_FUNCTION,
    MANY,
    MAX_WIDENED,
    WORDS_INDEX,
    WORDS_TABLE,
    pair_words,
    pairs_param,
    query_bigrams,
    widened_pairs,
)
from .terms import Terms, fts_match, index_plan, lead_keys, like_pattern, trigram_plan

COUNT_UP_TO = 20  # counts above this read "20+": every match counted is a row read and checked


@dataclass
class KindResult:
    kind: SearchKind
    hits: list[SearchHit]
    count: int  # of matching visible records, at most ``more_than`` + 1
    more_than: int | None  # set when there are more than this many

    @property
    def count_label(self) -> str:
        return f"{self.more_than}+" if self.more_than is not None else str(self.count)


def visible_kinds(user: Any, only: str | None = None) -> list[SearchKind]:
    """The kinds whose permission ``user`` holds (and named ``only``, when given); worked out
    once per request (the page and its search both ask)."""
    cache = g.setdefault("conveyor_search_kinds", {}) if has_request_context() else {}
    key = (getattr(user, "id", None), only)
    kinds = cache.get(key)
    if kinds is None:
        kinds = cache[key] = [k for k in all_kinds()
                              if can(user, k.permission) and only in (None, k.name)]
    return kinds


class _OuterFirstJoin(Join):
    """``left CROSS JOIN right ON …``: SQLite never reorders a CROSS JOIN, so the FTS table
    stays the outer loop, read newest first, and the scan stops at the LIMIT. A plain JOIN
    let the planner start from the owner index and collect every match of a common word
    (100k ids for "Software licence" at 1M deals: 0.7 s instead of 5 ms)."""

    inherit_cache = True


@compiles(_OuterFirstJoin, "sqlite")
def _outer_first_join(element: Any, compiler: Any, **kw: Any) -> str:
    return compiler.visit_join(element, **kw).replace(" JOIN ", " CROSS JOIN ", 1)


def _learned(record: str, index: SearchIndex, probe: Any) -> bool:
    """What ``probe(connection, index)`` says of ``index``'s structure, asked once per app and
    index (kept in ``app.extensions[record]``); a None answer — no index yet, a test's tables
    being made — is True for now and asked again next time."""
    known = current_app.extensions.setdefault(record, {})
    found = known.get(index.name)
    if found is None:
        found = probe(db.session.connection(), index)
        if found is None:
            return True
        known[index.name] = found
    return bool(found)


def _current_layout(index: SearchIndex) -> bool:
    """Whether ``index`` has the current layout: SQLite, its FTS5 table keyed by the negated
    ids (``negated_rowids``); PostgreSQL, the document stored (``stored_document``). A
    plugin's index made before either change is still read."""
    return _learned("conveyor_search_layout", index, lambda connection, index: (
        negated_rowids if connection.dialect.name == "sqlite" else stored_document)(
            connection, index))


def _has_pairs(index: SearchIndex) -> bool:
    """Whether ``index`` has its word pairs (:mod:`.pairs`; an index a plugin made before
    them is searched by its trigrams alone)."""
    return _learned("conveyor_search_pairs", index, has_pairs)


def _has_tokens(index: SearchIndex) -> bool:
    """Whether ``index`` lists the current tokens: Russian words' pairs and Chinese bigrams
    (:func:`~.index.has_tokens`)."""
    return _learned("conveyor_search_token_index", index, has_tokens)


def search_params(terms: Terms, dialect: str, lead: int = 0,
                  pairs: tuple[str, ...] | None = None) -> dict[str, str]:
    """The bind parameters of :func:`match_ids`' statement for ``terms`` (SQLite: led by the
    ``lead``-th of :func:`~.terms.lead_keys`), or with ``pairs`` of :func:`pair_match_ids`'."""
    params = {f"search_short_{i}_0": like_pattern(s) for i, s in enumerate(terms.short)}
    if pairs is not None:
        params["search_pairs"] = pairs_param(pairs, dialect)
        # SQLite tests a Russian word on the candidates' folded document (PostgreSQL lowers
        # the pattern itself, as it lowered the stored document).
        params.update({f"search_check_{g}_0": like_pattern(
            group[0].lower() if dialect == "sqlite" else group[0])
            for g, group in enumerate(terms.groups)})
        return params
    plan = index_plan(terms, lead) if dialect == "sqlite" else trigram_plan(terms)
    if dialect == "sqlite":
        if plan.match:
            params["search_match"] = fts_match(plan.match)
    else:
        params.update({f"search_{g}_{a}": like_pattern(alt)
                       for g, group in enumerate(plan.match) for a, alt in enumerate(group)})
    params.update({f"search_check_{g}_{a}": like_pattern(alt)
                   for g, group in enumerate(plan.check) for a, alt in enumerate(group)})
    return params


def terms_shape(terms: Terms, dialect: str, lead: int = 0) -> tuple[Any, ...]:
    """What the statement's text depends on (its values are bind parameters)."""
    plan = index_plan(terms, lead) if dialect == "sqlite" else trigram_plan(terms)
    return (tuple(len(g) for g in plan.match), tuple(len(g) for g in plan.check),
            len(terms.short))


def _any_like(like: Any, prefix: str, groups: Any, written: bool) -> list[Any]:
    """One ``OR`` of ``LIKE`` tests per group, the patterns as bind parameters
    (``{prefix}_{group}_{alternative}``)."""
    return [or_(*(like(bindparam(f"{prefix}_{g}_{a}", type_=String, literal_execute=written),
                       escape="\\")
                  for a in range(len(group))))
            for g, group in enumerate(groups)]


def match_ids(kind: SearchKind, terms: Terms, user: Any, rows: int, dialect: str,
              lead: int = 0) -> Select[Any]:
    """The ids of the newest ``rows`` records of ``kind`` matching ``terms`` that ``user`` may
    see, with the kind's record rules (the ``scope`` its list applies): the ``match`` groups
    looked up in the index — SQLite's FTS5 table (:func:`~.terms.index_plan`), PostgreSQL's
    trigram index on the stored document (:func:`~.terms.trigram_plan`) — the ``check``
    groups tested on the candidates' documents. The values are bind parameters
    (:func:`search_params`, with the same ``lead``)."""
    model, index = kind.model, kind.index
    model_id = model.id  # type: ignore[attr-defined]
    visible = scope(model, user, kind.permission)
    if dialect == "sqlite":
        plan = index_plan(terms, lead)
        document = literal_column(index.document(dialect))
        shorts = _any_like(document.like, "search_short", [(s,) for s in terms.short], False)
        checks = _any_like(document.like, "search_check", plan.check, False)
        if not plan.match:  # only pieces too short for the index (two Chinese characters)
            return (select(model_id).where(visible, *shorts).order_by(model_id.desc())
                    .limit(written_limit(rows)))
        fts = table(index.fts_table, column("rowid"))
        # Newest first: ascending over the negated ids (FTS5's cheap direction), or descending
        # over an index a plugin built before the ids were negated.
        negated = _current_layout(index)
        joined = _OuterFirstJoin(fts, model.__table__,  # type: ignore[attr-defined]
                                 model_id == (-fts.c.rowid if negated else fts.c.rowid))
        return (select(model_id).select_from(joined)
                .where(literal_column(index.fts_table).op("MATCH")(
                    bindparam("search_match", type_=String)), visible, *checks, *shorts)
                .order_by(fts.c.rowid if negated else fts.c.rowid.desc())
                .limit(written_limit(rows)))
    # PostgreSQL: the patterns are written into the SQL at execution (the compiled form is
    # still reused). A prepared statement's generic plan, made for any pattern, read every
    # contact down the primary key, computing each one's document, when a word matched none
    # of them (300 ms at 150k contacts); planned for the patterns themselves, the trigram
    # index answers, and the planner's estimates are its statistics' for these words.
    plan = trigram_plan(terms)
    if _current_layout(index):
        stored = f"{index.table}.{index.pg_column}"
        indexed = literal_column(stored)
        # The whole alternatives, tested on the candidates: in the database's collation the
        # index (collation "C") can't take them — it would read every trigram's list again —
        # but the planner still estimates them from the column's statistics.
        tested = literal_column(f'({stored} COLLATE "default")')

        def like(column: Any) -> Any:
            return lambda pattern, escape: column.like(func.lower(pattern), escape=escape)

        index_like, check_like = like(indexed), like(tested)
    else:  # an index on the expression, from a plugin's migration before the stored column
        document = literal_column(index.document(dialect))
        index_like = check_like = document.ilike
    shorts = _any_like(index_like, "search_short", [(s,) for s in terms.short], True)
    return (select(model_id)
            .where(visible, *_any_like(index_like, "search", plan.match, True),
                   *_any_like(check_like, "search_check", plan.check, True), *shorts)
            .order_by(model_id.desc()).limit(written_limit(rows)))


def pair_match_ids(kind: SearchKind, terms: Terms, user: Any, rows: int,
                   dialect: str, common: bool = True, bigrams: bool = False) -> Select[Any]:
    """As :func:`match_ids`, the candidates read from the word pairs' index (:mod:`.pairs`:
    the ``search_pairs`` parameter, :func:`~.pairs.pairs_param`) newest first, and every group
    and short piece tested on them (each group is one word of ASCII letters: ``LIKE`` tests
    it exactly). PostgreSQL: ``common`` pairs (:func:`pairs_are_common`) are read newest
    first, rare ones all at once. ``bigrams``: the tokens are the query's Chinese bigrams,
    every one listed by each candidate (a record of many words lists its bigrams too)."""
    model, index = kind.model, kind.index
    model_id = model.id  # type: ignore[attr-defined]
    visible = scope(model, user, kind.permission)
    groups, shorts = terms.groups, [(s,) for s in terms.short]
    if dialect == "sqlite":
        document = literal_column(index.document(dialect))
        # SQLite's LIKE folds ASCII letters only: a Russian word is tested on the document
        # lower-cased by Python (a call per candidate; the pairs leave few).
        folded = getattr(func, FOLD_FUNCTION)(document)
        tests = ([(document if group[0].isascii() else folded).like(bindparam(
                    f"search_check_{g}_0", type_=String), escape="\\")
                  for g, group in enumerate(groups)]
                 + _any_like(document.like, "search_short", shorts, False))
        fts = table(index.pairs_table, column("rowid"))
        joined = _OuterFirstJoin(fts, model.__table__,  # type: ignore[attr-defined]
                                 model_id == -fts.c.rowid)
        return (select(model_id).select_from(joined)
                .where(literal_column(index.pairs_table).op("MATCH")(
                    bindparam("search_pairs", type_=String)), visible, *tests)
                .order_by(fts.c.rowid).limit(written_limit(rows)))
    # Tested in the database's collation, as match_ids' checks: the trigram index can't take
    # them, so the planner never intersects the words' (long) lists.
    tested = literal_column(f'({index.table}.{index.pg_column} COLLATE "default")')

    def like(pattern: Any, escape: str) -> Any:
        return tested.like(func.lower(pattern), escape=escape)

    # A record holding one of the pairs holds both words: only a record of MANY words (no
    # pairs listed) is tested for them. Tested on every candidate, the two words' LIKEs would
    # make the planner count a common pair's records 100 times too few (as if the words were
    # independent) and read a bitmap of all of them instead of the newest few.
    in_pair = _pair_groups(terms)
    checks = _any_like(like, "search_check", groups, True)
    listed = literal_column(f"{index.table}.{index.pg_pairs_column}")
    wanted = cast(bindparam("search_pairs", type_=String, literal_execute=True), ARRAY(Text))
    many = and_(listed.op("@>")(literal_column(f"'{{{MANY}}}'::text[]")),
                *(checks[g] for g in in_pair))
    ids = (select(model_id)
           .where(visible, listed.op("@>")(wanted) if bigrams
                  else or_(listed.op("&&")(wanted), many),
                  *(c for g, c in enumerate(checks) if g not in in_pair),
                  *_any_like(like, "search_short", shorts, True)))
    if common:
        return ids.order_by(model_id.desc()).limit(written_limit(rows))
    # A rare pair (none of its tokens among the column's most common elements): every record
    # holding it, through the GIN index, then the newest. Left to plan ORDER BY … LIMIT, the
    # planner estimates a pair it has no statistics for at 0.5 % of the rows and walks the
    # newest records for it — all of them, for a pair no record holds (156 ms at 1M deals).
    fenced = ids.offset(0).subquery()
    return select(fenced.c.id).order_by(fenced.c.id.desc()).limit(written_limit(rows))


PAIR_STATS_SECONDS = 300.0  # how long a process trusts a table's statistics of its pairs
COMMON_PAIR_ROWS = 800  # a pair in more records than this is read newest first (2000 read
# all 1,000 customers of "ООО Ромашка" for the admin: 3.4x the bare route; newest first 2.5x)


def pairs_are_common(index: SearchIndex, pairs: tuple[str, ...]) -> bool:
    """PostgreSQL: whether ``pairs`` are in enough records of ``index``'s table (by the
    column's statistics — its most common elements and their frequencies, from the last
    ``ANALYZE``; kept :data:`PAIR_STATS_SECONDS` per process) for reading the newest records to
    find a page of them soon; a pair the statistics don't list is rarer than any they do."""
    kept = current_app.extensions.setdefault("conveyor_search_pair_stats", {})
    now = time.monotonic()
    known = kept.get(index.name)
    if known is None or known[0] < now:
        found = db.session.execute(text(
            "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples "
            "FROM pg_stats AS s JOIN pg_class AS c ON c.relname = s.tablename AND "
            "c.relnamespace = to_regnamespace(s.schemaname) WHERE s.schemaname = "
            "current_schema() AND s.tablename = :table AND s.attname = :column"),
            {"table": index.table, "column": index.pg_pairs_column}).first()
        frequencies = dict(zip(found[0] or (), found[1] or ())) if found else {}
        known = kept[index.name] = (now + PAIR_STATS_SECONDS, frequencies,
                                    float(found[2]) if found else 0.0)
    _, frequencies, rows = known
    return sum(frequencies.get(p, 0.0) for p in pairs if p != MANY) * rows >= COMMON_PAIR_ROWS


def kind_statement(kind: SearchKind, terms: Terms, user: Any, rows: int,
                   dialect: str, lead: int = 0, by_pairs: bool = False,
                   common: bool = True, bigrams: bool = False) -> Select[Any]:
    """The newest ``rows`` visible matches of ``kind``, with what their hits show; kept per
    user and query shape (``scoped_statement``) — building it costs as much as running it.
    ``by_pairs``: the candidates come from the word pairs (:func:`pair_match_ids`, with
    ``common`` and ``bigrams``)."""
    def build() -> Select[Any]:
        ids = (pair_match_ids(kind, terms, user, rows, dialect, common, bigrams) if by_pairs
               else match_ids(kind, terms, user, rows, dialect, lead))
        return kind.rows(ids).order_by(kind.model.id.desc())  # type: ignore[attr-defined]

    # A pair search's statement tests an ASCII word and a Russian one differently (SQLite).
    shape = ((tuple(g[0].isascii() for g in terms.groups), len(terms.short),
              _pair_groups(terms), common, bigrams)
             if by_pairs else terms_shape(terms, dialect, lead))
    return scoped_statement(kind.model, user, ("search", kind.name, kind.permission, rows,
                                               dialect, _current_layout(kind.index), by_pairs,
                                               shape),
                            build)


def _pair_groups(terms: Terms) -> tuple[int, ...]:
    """The groups of the pair's two words, the first of each (the statement tests them only on
    records of many words)."""
    words = pair_words(terms.groups, terms.phone) or ()
    return tuple(next(g for g, group in enumerate(terms.groups) if group[0].lower() == w)
                 for w in words)


@lru_cache(maxsize=2)
def _widen_statement(dialect: str) -> Any:
    """The vocabulary's words containing each of two query words (:mod:`.pairs`), at most
    ``MAX_WIDENED + 1`` each, tagged 0 and 1: SQLite's trigram index on the vocabulary, or
    PostgreSQL's (the patterns written in, for the planner to use it)."""
    limit = MAX_WIDENED + 1
    if dialect == "sqlite":
        part = (f"SELECT {{i}} AS side, word FROM (SELECT word FROM {WORDS_INDEX} WHERE "
                f"{WORDS_INDEX} MATCH :word_{{i}} LIMIT {limit})")
        return text(" UNION ALL ".join(part.format(i=i) for i in (0, 1)))
    part = (f"SELECT {{i}} AS side, word FROM (SELECT word FROM {WORDS_TABLE} WHERE word LIKE "
            f":word_{{i}} LIMIT {limit}) AS side_{{i}}")
    return text(" UNION ALL ".join(part.format(i=i) for i in (0, 1))).bindparams(
        *(bindparam(f"word_{i}", type_=String, literal_execute=True) for i in (0, 1)))


def widen(words: tuple[str, str], dialect: str) -> tuple[str, ...] | None:
    """The pair tokens to look up for two query words (:func:`~.pairs.widened_pairs`): each
    word widened to the vocabulary's words containing it, in one statement. ``()``: a word is
    in no record of any kind with pairs — nothing to look up; None: a word is in too many
    words (:data:`~.pairs.MAX_WIDENED`) to look their pairs up."""
    if dialect == "sqlite":
        params = {f"word_{i}": fts_match(((w,),)) for i, w in enumerate(words)}
    else:
        params = {f"word_{i}": like_pattern(w) for i, w in enumerate(words)}
    found: tuple[list[str], list[str]] = ([], [])
    for side, word in db.session.execute(_widen_statement(dialect), params):
        found[side].append(word)
    if any(len(side) > MAX_WIDENED for side in found):
        return None
    if not all(found):
        return ()
    return widened_pairs(*found)


LEADS_KEPT_SECONDS = 60.0  # how long a process trusts what an index said it holds
LEADS_KEPT = 1024  # (index, keys) answers kept per process


@lru_cache(maxsize=64)
def _probe_statement(probes: tuple[tuple[str, int], ...]) -> Any:
    """One ``CASE`` per (FTS table, number of keys): the first later key (``:lead_1``, …) the
    table holds no record for, else 0 — SQLite stops at the first ``NOT EXISTS`` that holds."""
    def case(fts: str, keys: int) -> str:
        whens = " ".join(f"WHEN NOT EXISTS (SELECT 1 FROM {fts} WHERE {fts} MATCH :lead_{i}) "
                         f"THEN {i}" for i in range(1, keys))
        return f"CASE {whens} ELSE 0 END"

    return text("SELECT " + ", ".join(case(fts, keys) for fts, keys in probes))


def index_leads(terms: Terms, kinds: list[SearchKind]) -> dict[str, int]:
    """SQLite: which of :func:`~.terms.lead_keys` leads each kind's index (its position; kinds
    left out lead by the first). By the look of the words one key would lead every index —
    digits first — but a word is rare in one index and common in another: "1374" is in one
    customer's name and in 140 contacts' phones, "Silver" in 5,000 customers' names and in no
    contact; "2718" of an e-mail is in 300 deal titles, "t2718" (:func:`~.terms.widened`) in
    none. So each index is asked, in one statement for all, whether it holds any record with
    each later key (``EXISTS`` stops at the first record; an absent key costs 0.01–0.02 ms);
    an index holding none leads by the first such key, which answers its search at once (0.33 →
    0.09 ms for contacts, 0.21 → 0.04 ms for deals at 1M deals). The records found are the
    same whichever key leads, so an answer is kept a minute per process (a record added since
    only makes that search read a few more candidates)."""
    keys = lead_keys(terms)
    if len(keys) < 2:
        return {}
    kept = current_app.extensions.setdefault("conveyor_search_leads", {})
    now = time.monotonic()
    leads: dict[str, int] = {}
    asked: list[tuple[str, str]] = []  # (kind, FTS table)
    for kind in kinds:
        if terms.phone and not kind.numbers:
            continue
        fts = kind.index.fts_table
        known = kept.get((fts, keys))
        if known is not None and known[1] > now:
            leads[kind.name] = known[0]
            continue
        _current_layout(kind.index)  # learns whether the index exists (a test's tables)
        if kind.index.name in current_app.extensions["conveyor_search_layout"]:
            asked.append((kind.name, fts))
    if asked:
        params = {f"lead_{i}": fts_match((key,)) for i, key in enumerate(keys) if i}
        answers = db.session.execute(
            _probe_statement(tuple((fts, len(keys)) for _, fts in asked)), params).one()
        if len(kept) + len(asked) > LEADS_KEPT:
            kept.clear()
        for (name, fts), lead in zip(asked, answers):
            kept[(fts, keys)] = (lead, now + LEADS_KEPT_SECONDS)
            leads[name] = lead
    return {name: lead for name, lead in leads.items() if lead}


def search(terms: Terms, user: Any, per_kind: int = 10, count_up_to: int = COUNT_UP_TO,
           only: str | None = None) -> list[KindResult]:
    """Hits grouped by kind (kinds the user may not see are left out), each group with up to
    ``per_kind`` hits and a count of up to ``count_up_to`` or ``per_kind``, whichever is more
    ("20+" beyond); ``count_up_to=0``: no count (the suggestions).

    A query of two or more plain words (:func:`~.pairs.pair_words`) is answered from the word
    pairs of the kinds whose index has them, after one statement widening its two words through
    the vocabulary (:func:`widen`) — none at all when a word is in no record; a query of pieces
    too short for the trigrams, some of them two Chinese characters, from the bigrams of the
    kinds whose index lists them (:func:`~.pairs.query_bigrams`); other queries, and a word
    inside too many words, go to the trigram index."""
    from ..web.listing import plain_rows

    dialect = db.session.get_bind().dialect.name
    top = max(per_kind, count_up_to)
    kinds = visible_kinds(user, only)
    words = pair_words(terms.groups, terms.phone)
    bigrams = query_bigrams(terms.short) if not terms.groups else ()
    if bigrams:
        paired = {k.name for k in kinds if _has_tokens(k.index)}
        pairs: tuple[str, ...] | None = bigrams
    else:
        # An index made before 2026-12-05 lists the pairs of ASCII words only.
        listed = _has_pairs if words and all(w.isascii() for w in words) else _has_tokens
        paired = {k.name for k in kinds if listed(k.index)} if words else set()
        pairs = widen(words, dialect) if words and paired else None
    if pairs is None:
        paired = set()
    leads = (index_leads(terms, [k for k in kinds if k.name not in paired])
             if dialect == "sqlite" else {})
    results = []
    for kind in kinds:
        if (terms.phone and not kind.numbers) or (kind.name in paired and not pairs):
            results.append(KindResult(kind, [], 0, None))
            continue
        by_pairs = kind.name in paired
        common = (by_pairs and dialect == "postgresql"
                  and pairs_are_common(kind.index, pairs or ()))
        lead = leads.get(kind.name, 0)
        found = plain_rows(kind_statement(kind, terms, user, top + 1, dialect, lead, by_pairs,
                                          common, bool(bigrams)),
                           search_params(terms, dialect, lead, pairs if by_pairs else None))
        over = len(found) > top
        count = min(len(found), top) if count_up_to else len(found)
        results.append(KindResult(kind, [kind.hit(r) for r in found[:per_kind]], count,
                                  top if over and count_up_to else None))
    return results
