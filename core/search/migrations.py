"""Keeping SQLite's search index through migrations that rebuild its tables.

Alembic's batch mode changes a SQLite table by copying it to ``_alembic_tmp_<table>``, dropping the
original and renaming the copy. With a search index on the table (``conveyor.search.index``) that
goes wrong twice: the rename is refused, since the index's source view names the dropped table
("error in view search_deals_source: no such table: main.deals"), and the drop takes the three
triggers that keep the index in step with writes with it — new records would never be found.

The shared Alembic env runs every history (the core's and each plugin's) between
:meth:`SearchIndexKeeper.pause` and :meth:`SearchIndexKeeper.restore`: the source views are set
aside for the run (after each revision too, should it create an index), then put back with any
trigger a rebuilt table lost, and the index of every rebuilt table is filled again from its rows.
Nothing changes on PostgreSQL: its search indexes are ordinary indexes, which ``ALTER TABLE``
keeps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .index import optimize_statement

_VIEW_SUFFIX = "_source"
_TRIGGER_SUFFIXES = ("_ai", "_ad", "_au")


def _fts_tables(connection: Any) -> set[str]:
    """The search index's FTS5 tables (``search_<name>``, not their shadow tables)."""
    return {name for name, sql in connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name LIKE 'search\\_%' "
        "ESCAPE '\\'").all() if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")}


def _owner(name: str, fts: set[str]) -> str | None:
    """The FTS table a view or trigger named ``name`` belongs to, if it is one of the index's."""
    for suffix in (_VIEW_SUFFIX, *_TRIGGER_SUFFIXES):
        if name.endswith(suffix) and name[:-len(suffix)] in fts:
            return name[:-len(suffix)]
    return None


@dataclass
class SearchIndexKeeper:
    """Set the search index's views aside during a migration run and repair it afterwards."""

    connection: Any
    views: dict[str, tuple[str, str]] = field(default_factory=dict)  # name → (fts, sql)
    triggers: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # → (fts, table, sql)
    pages: dict[str, int] = field(default_factory=dict)  # indexed table → its root page

    @property
    def active(self) -> bool:
        return self.connection.dialect.name == "sqlite"

    def _set_aside(self) -> None:
        """Note the index's views and triggers as they are now (newest definition wins), and
        where each indexed table lives; drop the views."""
        fts = _fts_tables(self.connection)
        rows = self.connection.exec_driver_sql(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('view', "
            "'trigger') AND name LIKE 'search\\_%' ESCAPE '\\'").all()
        for kind, name, table, sql in rows:
            owner = _owner(name, fts)
            if owner is None or not sql:
                continue
            if kind == "view":
                self.views[name] = (owner, sql)
                self.connection.exec_driver_sql(f'DROP VIEW "{name}"')
            else:
                self.triggers[name] = (owner, table, sql)
                self.pages.setdefault(table, self._root_page(table))

    def _root_page(self, table: str) -> int:
        return int(self.connection.exec_driver_sql(
            "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?",
            (table,)).scalar() or 0)

    def pause(self) -> None:
        """Before the first revision runs."""
        if self.active:
            self._set_aside()

    def step_applied(self, *args: Any, **kwargs: Any) -> None:
        """Alembic's ``on_version_apply``: a revision may have created an index (and its view)."""
        if self.active:
            self._set_aside()

    def restore(self) -> list[str]:
        """After the last revision: the views back, lost triggers re-created, the index of each
        rebuilt table filled again. Returns the FTS tables that were refilled."""
        if not self.active:
            return []
        fts = _fts_tables(self.connection)
        present = {name for (name,) in self.connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type IN ('view', 'trigger')").all()}
        for name, (owner, sql) in self.views.items():
            if owner in fts and name not in present:
                self.connection.exec_driver_sql(sql)
        refill: set[str] = set()
        for name, (owner, table, sql) in self.triggers.items():
            if owner not in fts or self._root_page(table) == 0:
                continue  # the index or its table was dropped by a revision
            if name not in present:
                self.connection.exec_driver_sql(sql)
            if self._root_page(table) != self.pages.get(table):
                refill.add(owner)  # copied, dropped and renamed: rows may have changed
        # The word pairs' table (kept by the same triggers) is filled again with its index.
        refill |= {f"{owner}_pairs" for owner in refill if f"{owner}_pairs" in fts}
        for owner in sorted(refill):
            self.connection.exec_driver_sql(f"INSERT INTO {owner}({owner}) VALUES ('rebuild')")
            self.connection.exec_driver_sql(optimize_statement(owner))
        return sorted(refill)
