"""Keyset pagination: page N costs the same as page 1, whatever the table's size; and how many
rows a list has, counted exactly up to a cap and estimated beyond it ("1–50 of about 40,000")."""
from __future__ import annotations

import time
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask import current_app, request
from sqlalchemy import Select, bindparam, func, select

from ..extensions import db
from ..permissions import plugin_filters, scope_of, scoped_statement
from ..queries import Explain, written_limit

MAX_ID = 2**31 - 1  # ids are 32-bit integers


@dataclass
class Page:
    items: list[Any]
    next_before: int | None  # pass as ?before= for the next page
    is_first: bool


def keyset_page(query: Select[Any], id_column: Any, before: int | None = None,
                size: int | None = None) -> Page:
    """Rows newest first; ``before`` is the last id of the previous page."""
    size = size or current_app.config["CONVEYOR"]["page_size"]
    if before is not None:
        query = query.where(id_column <= _upto(before))
    rows = list(db.session.scalars(query.order_by(id_column.desc())
                                   .limit(written_limit(size + 1))))
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, rows[-1].id if more and rows else None, before is None)


def built(query: Select[Any] | Callable[[], Select[Any]]) -> Select[Any]:
    """``query``, or what a function building it returns: :func:`keyset_rows` and
    :func:`count_rows` take either, so a list whose statements are kept (``unfiltered`` /
    ``cache``) builds its filtered query only when a statement is built (~0.1–0.3 ms of
    SQLAlchemy on each request otherwise)."""
    return query() if callable(query) else query


def before_arg() -> int | None:
    raw = request.args.get("before", "")
    return int(raw) if raw.isdigit() and len(raw) < 18 else None


def keyset_rows(query: Select[Any] | Callable[[], Select[Any]], id_column: Any, before: int | None = None,
                size: int | None = None, *, rows: Callable[[Any], Select[Any]],
                unfiltered: tuple[type, Any, str] | None = None) -> Page:
    """:func:`keyset_page` returning plain rows (each with an ``id``), not ORM objects.

    The page is cut on ``query`` alone (the filtered ``select(Model)``): its ids, newest first,
    become a subquery that ``rows(ids)`` turns into the statement of what the page shows (joins
    for names and labels). One statement, and the database plans the filter as if the joins
    weren't there: joined in directly, SQLite sorted a team's 25k deals to show 50.

    ``unfiltered=(model, user, name)`` says ``query`` is only the user's record scope (no filter
    from the request): the statement is then kept per user (``scoped_statement``), with the page
    boundary and size as bind parameters — the list's everyday first and next pages."""
    size = size or current_app.config["CONVEYOR"]["page_size"]

    def build() -> Select[Any]:
        ids = (built(query).where(id_column <= bindparam("upto")).with_only_columns(id_column)
               .order_by(id_column.desc()).limit(written_limit(size + 1)))
        return rows(ids).order_by(id_column.desc())

    statement = build() if unfiltered is None else scoped_statement(
        unfiltered[0], unfiltered[1], ("keyset", unfiltered[2], size), build)
    found = plain_rows(statement, {"upto": _upto(before)})
    more = len(found) > size
    found = found[:size]
    return Page(found, found[-1].id if more and found else None, before is None)


def _upto(before: int | None) -> int:
    """The last id a page may show: below ``before``, within the 32-bit id column (a huge
    ``?before=`` must not overflow the database's integer)."""
    return MAX_ID if before is None else min(before - 1, MAX_ID)


def only_paging() -> bool:
    """The request asks for nothing but a page of the list (no search, no filter)."""
    return not (request.args.keys() - {"before", "from"})


def position_arg() -> int:
    """``?from=``: the 1-based position of the page's first row, carried by the "next" link
    (keyset pages don't know their offset otherwise). Only shown, never used to query."""
    raw = request.args.get("from", "")
    return int(raw) if raw.isdigit() and len(raw) < 10 and int(raw) > 0 else 1


COUNT_CAP = 250  # rows counted exactly (twice that on SQLite); beyond, an estimate (count_rows)


@dataclass(frozen=True)
class RowCount:
    """How many rows a list has: exact up to the cap, else an estimate (``exact`` False)."""

    value: int
    exact: bool


def count_rows(query: Select[Any] | Callable[[], Select[Any]], id_column: Any, cap: int = COUNT_CAP,
               cache: tuple[type, Any, str] | None = None) -> RowCount:
    """The rows ``query`` (a filtered ``select(Model)``) would list, counted up to ``cap`` and
    estimated beyond it, so the count costs the same at a thousand rows as at a million.

    Exact: ``count(*)`` over the newest ``cap + 1`` ids (an index walk that stops there).
    Beyond the cap, PostgreSQL's planner estimate for the query (``EXPLAIN``, from the table's
    statistics: ``reltuples`` and the columns' histograms). SQLite has no such estimate for an
    arbitrary filter, so it walks ``cap + 1`` more matching rows from the oldest end (exact if
    that reaches the newest walk) and interpolates between the two ends' densities (matches
    per id) over the ids in between: old deals are mostly closed, new ones mostly open, and a
    density taken at one end alone would be off by half. Never less than what was counted.

    ``cache=(model, user, name)``: keep the statements per user (``scoped_statement``) — only
    for a query that is the user's record scope plus fixed filters (no request values); with
    it, an estimate is kept a minute (``ESTIMATE_TTL``) for that list and user: "about 40,000"
    a minute old is as true, and counting it was two of the list's five statements (a team's
    deals on PostgreSQL: 1.1 ms). An exact count is never kept."""
    key = None
    if cache is not None and not plugin_filters(cache[0], cache[1]):
        key = (cache[0], cache[2], cap, getattr(cache[1], "id", None), scope_of(cache[1]))
        kept = _estimates().get(key)
        if kept is not None and kept[0] >= time.monotonic():
            return RowCount(kept[1], False)
    counted = _count_rows(query, id_column, cap, cache)
    if key is not None and not counted.exact:
        kept_now = _estimates()
        if len(kept_now) >= ESTIMATES_KEPT:
            kept_now.clear()
        kept_now[key] = (time.monotonic() + ESTIMATE_TTL, counted.value)
    return counted


ESTIMATE_TTL = 60.0
ESTIMATES_KEPT = 2000


def _estimates() -> dict[tuple[Any, ...], tuple[float, int]]:
    """The app's kept estimates: (list, user) -> (expiry, value)."""
    return current_app.extensions.setdefault(  # type: ignore[no-any-return]
        "conveyor_estimates", {})


def forget_estimates() -> None:
    """Drop the app's kept estimates (the bench times a first view with it)."""
    _estimates().clear()


def _count_rows(query: Select[Any] | Callable[[], Select[Any]], id_column: Any, cap: int,
                cache: tuple[type, Any, str] | None) -> RowCount:
    def build() -> Select[Any]:
        # "id <= MAX_ID" (always true) plans the walk as the keyset page's: down the ids (or an
        # (owner, id) index). Without a range on the id, SQLite read a team's 250k deals through
        # another owner index and sorted them all for 251 ids (150 ms at 1M deals).
        newest = (built(query).where(id_column <= MAX_ID).with_only_columns(id_column)
                  .order_by(id_column.desc()).limit(written_limit(cap + 1)).subquery())
        table_min = select(func.min(id_column)).scalar_subquery()
        return select(func.count(), func.min(newest.c[0]), func.max(newest.c[0]), table_min)

    statement = build() if cache is None else scoped_statement(
        cache[0], cache[1], ("count", cache[2], cap), build)
    db.session.flush()
    connection = db.session.connection()
    found, lowest, highest, table_min = connection.execute(statement).one()
    if found <= cap:
        return RowCount(int(found), True)
    if connection.dialect.name == "postgresql":
        def build_estimate() -> Explain:
            return Explain(built(query).with_only_columns(id_column).order_by(None))

        explain = build_estimate() if cache is None else scoped_statement(
            cache[0], cache[1], ("estimate", cache[2]), build_estimate)
        return RowCount(max(_planner_rows(connection, explain), found), False)

    def build_oldest() -> Select[Any]:
        oldest = (built(query).with_only_columns(id_column).where(id_column < bindparam("lowest"))
                  .order_by(id_column.asc()).limit(written_limit(cap + 1)).subquery())
        return select(func.count(), func.min(oldest.c[0]), func.max(oldest.c[0]))

    statement = build_oldest() if cache is None else scoped_statement(
        cache[0], cache[1], ("count-oldest", cache[2], cap), build_oldest)
    old_found, old_lowest, old_highest = connection.execute(
        statement, {"lowest": int(lowest)}).one()
    if old_found <= cap:  # everything below the newest walk was counted too
        return RowCount(int(found + old_found), True)
    density_new = found / max(int(highest) - int(lowest) + 1, 1)
    density_old = old_found / max(int(old_highest) - int(old_lowest) + 1, 1)
    between = max(int(lowest) - int(old_highest) - 1, 0)
    estimate = found + old_found + round(between * (density_new + density_old) / 2)
    return RowCount(int(estimate), False)


def _planner_rows(connection: Any, explain: Explain) -> int:
    """PostgreSQL's estimate of the rows a statement returns (``EXPLAIN``: planning only)."""
    plan = connection.execute(explain).scalar()
    if isinstance(plan, str):
        import json

        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def plain_rows(statement: Select[Any], params: dict[str, Any] | None = None) -> list[Any]:
    """``statement``'s rows (columns, no ORM entities) as named tuples: every field of every row
    is read by attribute, and a named tuple answers in about a tenth of a SQLAlchemy ``Row``'s
    time. It runs on the session's connection (after a flush, as the session would): with no
    ORM objects to build, the ORM's execution layer would add only its own cost."""
    db.session.flush()
    result = db.session.connection().execute(statement, params)
    rows = result.all()
    if not rows:
        return []
    make = _row_type(tuple(result.keys()))._make
    return [make(row) for row in rows]


@lru_cache(maxsize=256)
def _row_type(fields: tuple[str, ...]) -> Any:
    return namedtuple("PageRow", fields, rename=True)  # type: ignore[misc]
