"""Running a search: one statement per kind the user may see, limited by the kind's record
rules — the same ``scope`` its list applies — whatever the number of rows or hits."""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask import current_app, g, has_request_context
from sqlalchemy import (
    Join,
    Select,
    String,
    bindparam,
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
from .index import SearchIndex, negated_rowids, stored_document
from .kinds import SearchHit, SearchKind, all_kinds
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


def _current_layout(index: SearchIndex) -> bool:
    """Whether ``index`` has the current layout, looked up once per app and index: SQLite,
    its FTS5 table keyed by the negated ids (``negated_rowids``); PostgreSQL, the document
    stored (``stored_document``). A plugin's index made before either change is still read."""
    known = current_app.extensions.setdefault("conveyor_search_layout", {})
    current = known.get(index.name)
    if current is None:
        connection = db.session.connection()
        current = (negated_rowids if connection.dialect.name == "sqlite"
                   else stored_document)(connection, index)
        if current is None:  # no index yet (a test's tables being made): ask again next time
            return True
        known[index.name] = current
    return current


def search_params(terms: Terms, dialect: str, lead: int = 0) -> dict[str, str]:
    """The bind parameters of :func:`match_ids`' statement for ``terms`` (SQLite: led by the
    ``lead``-th of :func:`~.terms.lead_keys`)."""
    plan = index_plan(terms, lead) if dialect == "sqlite" else trigram_plan(terms)
    params = {f"search_short_{i}_0": like_pattern(s) for i, s in enumerate(terms.short)}
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


def kind_statement(kind: SearchKind, terms: Terms, user: Any, rows: int,
                   dialect: str, lead: int = 0) -> Select[Any]:
    """The newest ``rows`` visible matches of ``kind``, with what their hits show; kept per
    user and query shape (``scoped_statement``) — building it costs as much as running it."""
    def build() -> Select[Any]:
        ids = match_ids(kind, terms, user, rows, dialect, lead)
        return kind.rows(ids).order_by(kind.model.id.desc())  # type: ignore[attr-defined]

    return scoped_statement(kind.model, user, ("search", kind.name, kind.permission, rows,
                                               dialect, _current_layout(kind.index),
                                               terms_shape(terms, dialect, lead)),
                            build)


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
    ("20+" beyond); ``count_up_to=0``: no count (the suggestions)."""
    from ..web.listing import plain_rows

    dialect = db.session.get_bind().dialect.name
    top = max(per_kind, count_up_to)
    kinds = visible_kinds(user, only)
    leads = index_leads(terms, kinds) if dialect == "sqlite" else {}
    results = []
    for kind in kinds:
        if terms.phone and not kind.numbers:
            results.append(KindResult(kind, [], 0, None))
            continue
        lead = leads.get(kind.name, 0)
        found = plain_rows(kind_statement(kind, terms, user, top + 1, dialect, lead),
                           search_params(terms, dialect, lead))
        over = len(found) > top
        count = min(len(found), top) if count_up_to else len(found)
        results.append(KindResult(kind, [kind.hit(r) for r in found[:per_kind]], count,
                                  top if over and count_up_to else None))
    return results
