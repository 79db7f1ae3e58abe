"""Running a search: one statement per kind the user may see, limited by the kind's record
rules — the same ``scope`` its list applies — whatever the number of rows or hits."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, bindparam, column, literal_column, or_, select, table

from ..extensions import db
from ..permissions import can, scope
from ..queries import written_limit
from .kinds import SearchHit, SearchKind, all_kinds
from .terms import Terms, fts_match, like_pattern

COUNT_UP_TO = 100  # counts above this read "100+": counting a million matches costs a scan


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
    """The kinds whose permission ``user`` holds (and named ``only``, when given)."""
    return [k for k in all_kinds() if can(user, k.permission) and only in (None, k.name)]


def match_criteria(kind: SearchKind, terms: Terms, dialect: str) -> Any:
    """SQL criteria on ``kind.model`` for ``terms`` — through the FTS5 table (SQLite) or the
    trigram-indexed document expression (PostgreSQL)."""
    model, index = kind.model, kind.index
    document = literal_column(index.document(dialect))
    parts: list[Any] = []
    if dialect == "sqlite":
        if terms.groups:
            fts = table(index.fts_table, column("rowid"))
            parts.append(model.id.in_(  # type: ignore[attr-defined]
                select(fts.c.rowid).where(literal_column(index.fts_table).op("MATCH")(
                    bindparam("search_match", fts_match(terms))))))
        parts += [document.like(like_pattern(s), escape="\\") for s in terms.short]
    else:
        parts += [or_(*(document.ilike(like_pattern(a), escape="\\") for a in group))
                  for group in terms.groups]
        parts += [document.ilike(like_pattern(s), escape="\\") for s in terms.short]
    return and_(*parts)


def kind_statement(kind: SearchKind, terms: Terms, user: Any, rows: int,
                   dialect: str) -> Select[Any]:
    """The newest ``rows`` visible matches of ``kind``, with what their hits show."""
    model = kind.model
    ids = (select(model.id).where(match_criteria(kind, terms, dialect))  # type: ignore[attr-defined]
           .where(scope(model, user, kind.permission))
           .order_by(model.id.desc()).limit(written_limit(rows)))  # type: ignore[attr-defined]
    return kind.rows(ids).order_by(model.id.desc())  # type: ignore[attr-defined]


def search(terms: Terms, user: Any, per_kind: int = 10, count_up_to: int = COUNT_UP_TO,
           only: str | None = None) -> list[KindResult]:
    """Hits grouped by kind (kinds the user may not see are left out), each group with up to
    ``per_kind`` hits and a count of up to ``count_up_to`` ("100+" beyond)."""
    from ..web.listing import plain_rows

    dialect = db.session.get_bind().dialect.name
    fetch = max(per_kind, count_up_to) + 1
    results = []
    for kind in visible_kinds(user, only):
        found = plain_rows(kind_statement(kind, terms, user, fetch, dialect))
        over = len(found) > max(per_kind, count_up_to)
        count = min(len(found), count_up_to) if count_up_to else len(found)
        results.append(KindResult(kind, [kind.hit(r) for r in found[:per_kind]], count,
                                  count_up_to if over and count_up_to else None))
    return results
