"""SQLAlchemy's dialect modules, imported when a statement first needs one.

``sqlalchemy.dialects.postgresql`` costs a worker ~2 MB; one on SQLite never needs it (and
the other way round), so upserts look their dialect up here instead of importing both, and
partial indexes (``partial_index``) name their PostgreSQL ``WHERE`` without making SQLAlchemy load
the dialect to validate it.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from sqlalchemy import Index, Table, bindparam, text

UPSERT_DIALECTS = ("sqlite", "postgresql")


def dialect_module(name: str) -> ModuleType | None:
    """``sqlalchemy.dialects.<name>`` for the dialects with ``INSERT … ON CONFLICT``, else None."""
    if name not in UPSERT_DIALECTS:
        return None
    return importlib.import_module(f"sqlalchemy.dialects.{name}")


class _PartialIndex(Index):
    """An ``Index`` whose ``postgresql_where`` is filled in when PostgreSQL's options are first
    read (its DDL, a migration's comparison), not validated when the model is defined."""

    def __init__(self, name: str, *columns: Any, where: str, **kw: Any) -> None:
        self._where_sql = where
        super().__init__(name, *columns, sqlite_where=text(where), **kw)

    def _kw_reg_for_dialect_cls(self, dialect_name: str) -> Any:  # type: ignore[override]
        options = Index._kw_reg_for_dialect_cls(dialect_name)
        if dialect_name == "postgresql":
            options["where"] = text(self._where_sql)
        return options


def partial_index(name: str, *columns: Any, where: str, **kw: Any) -> Index:
    """``Index(name, *columns, sqlite_where=text(where), postgresql_where=text(where))``, the
    same index on both databases, without importing ``sqlalchemy.dialects.postgresql``
    (~2.5 MB) into a process on SQLite: ``Index`` loads a dialect's module to validate the
    options named after it."""
    return _PartialIndex(name, *columns, where=where, **kw)


_ADDING: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], Any] = {}


def adding_upsert(dialect_name: str, table: Table, keys: tuple[str, ...],
                  values: tuple[str, ...]) -> Any:
    """``INSERT … ON CONFLICT (keys) DO UPDATE SET v = v + excluded.v`` for each of ``values``,
    with a bind parameter per column: built once per process, dialect and table, and executed
    with a list of rows (one statement for a summary's keys).

    A summary kept on every write used to build this construct, and compile it, on each flush
    (its multi-row VALUES made a new statement every time): that cost more than running it.
    ``None`` where the dialect has no upsert."""
    cache_key = (dialect_name, table.name, keys, values)
    found = _ADDING.get(cache_key)
    if found is not None:
        return found
    dialect = dialect_module(dialect_name)
    if dialect is None:
        return None
    stmt = dialect.insert(table).values(
        {name: bindparam(name, type_=table.c[name].type) for name in keys + values})
    found = stmt.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={v: table.c[v] + stmt.excluded[v] for v in values})
    _ADDING[cache_key] = found
    return found
