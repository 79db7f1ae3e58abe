"""SQL-building helpers shared by the web pages and the API."""
from __future__ import annotations

from typing import Any

from sqlalchemy import literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.visitors import InternalTraversal


def written_limit(rows: int) -> Any:
    """``.limit(written_limit(10))`` writes ``LIMIT 10`` into the SQL instead of binding it.

    Why: psycopg prepares a statement run five times on a connection, and PostgreSQL then plans
    it once for any bound value. With the LIMIT unknown, that plan reads every matching row
    and sorts (1.2 ms for the board's cards at 100k deals) instead of stopping after the first
    rows of an index (0.6 ms). A written number keeps the plan for "the newest ten". Only for
    limits fixed in code or config: each distinct number is a distinct statement."""
    return literal_column(str(int(rows)))


class Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) <statement>`` (PostgreSQL) as a statement SQLAlchemy compiles
    once and keeps in its cache like any other. Compiling the inner statement by hand on every
    request, to prefix the text, cost 1.5 ms for a team's deals list (its scope's CTE)."""

    inherit_cache = True
    _traverse_internals = [("statement", InternalTraversal.dp_clauseelement)]

    def __init__(self, statement: Any) -> None:
        self.statement = statement

    @property
    def _all_selected_columns(self) -> Any:  # read when a cached compilation is reused
        return self.statement._all_selected_columns


@compiles(Explain)
def _explain(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN " + compiler.process(element.statement, **kw)  # SQLite: its program


@compiles(Explain, "postgresql")
def _explain_postgresql(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


__all__ = ["Explain", "written_limit"]
