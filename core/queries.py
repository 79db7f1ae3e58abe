"""SQL-building helpers shared by the web pages and the API."""
from __future__ import annotations

from typing import Any

from sqlalchemy import literal_column


def written_limit(rows: int) -> Any:
    """``.limit(written_limit(10))`` writes ``LIMIT 10`` into the SQL instead of binding it.

    Why: psycopg prepares a statement run five times on a connection, and PostgreSQL then plans
    it once for any bound value. With the LIMIT unknown, that plan reads every matching row
    and sorts (1.2 ms for the board's cards at 100k deals) instead of stopping after the first
    rows of an index (0.6 ms). A written number keeps the plan for "the newest ten". Only for
    limits fixed in code or config: each distinct number is a distinct statement."""
    return literal_column(str(int(rows)))


__all__ = ["written_limit"]
