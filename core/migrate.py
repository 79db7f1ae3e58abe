"""Alembic with one history per package: the core's and each enabled plugin's.

The scheme of CKAN and Indico. The core's revisions live in ``conveyor/migrations/versions`` and
are recorded in the table ``alembic_version``; a plugin's live in ``<package>/migrations/versions``
and are recorded in ``alembic_version_<plugin>``. One shared env (``conveyor/migrations/env.py``)
runs them all; it learns which history it runs from ``config.attributes`` and compares only that
history's tables, so autogenerate never proposes to touch another plugin's tables. Separate version
tables mean a plugin can be disabled or removed without breaking anyone else's history.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import Connection, MetaData, inspect, text
from sqlalchemy.sql.elements import False_, True_

from .extensions import db
from .schema import core_tables, plugin_tables
from .search.index import PG_COLUMN_PREFIX as SEARCH_COLUMN_PREFIX
from .search.index import PG_INDEX_PREFIX as SEARCH_INDEX_PREFIX
from .search.index import PG_PAIRS_PREFIX as SEARCH_PAIRS_PREFIX
from .types import UTCDateTime

CORE = "core"
CORE_VERSION_TABLE = "alembic_version"
FILE_TEMPLATE = "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s"


class MigrationError(RuntimeError):
    """A migration request that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class History:
    """One line of revisions: the core's or one plugin's."""

    name: str  # "core" or the plugin's name
    versions: Path  # the folder holding the revision files
    version_table: str

    @property
    def is_core(self) -> bool:
        return self.name == CORE

    def has_revisions(self) -> bool:
        return self.versions.is_dir() and any(
            p.suffix == ".py" and p.name != "__init__.py" for p in self.versions.iterdir()
        )


def core_history() -> History:
    versions = Path(str(resources.files("conveyor.migrations").joinpath("versions")))
    return History(CORE, versions, CORE_VERSION_TABLE)


def plugin_versions_dir(module: Any) -> Path | None:
    """``<plugin package>/migrations/versions``, found through importlib.resources.

    A plugin that is a bare module (not inside a package) or an object has no migrations.
    """
    if not isinstance(module, ModuleType):
        return None
    package = module.__name__ if hasattr(module, "__path__") else module.__name__.rpartition(".")[0]
    if not package:
        return None
    try:
        root = resources.files(package)
    except (ModuleNotFoundError, TypeError, ValueError):
        return None
    return Path(str(root.joinpath("migrations", "versions")))


def plugin_history(name: str, module: Any) -> History | None:
    versions = plugin_versions_dir(module)
    if versions is None:
        return None
    return History(name, versions, f"{CORE_VERSION_TABLE}_{name}")


def histories(app: Flask, with_empty: bool = False) -> list[History]:
    """The core, then every enabled plugin in dependency order; plugins without revisions are
    left out unless ``with_empty``."""
    found = [core_history()]
    for plugin in app.extensions["conveyor"].plugins:
        history = plugin_history(plugin.name, plugin.module)
        if history is not None and (with_empty or history.has_revisions()):
            found.append(history)
    return found


def history_of(app: Flask, name: str | None) -> History:
    """The history called ``name`` (``None`` or ``"core"``: the core's) of an enabled plugin."""
    if name in (None, CORE):
        return core_history()
    state = app.extensions["conveyor"]
    for plugin in state.plugins:
        if plugin.name == name:
            history = plugin_history(name, plugin.module)
            if history is None:
                raise MigrationError(f"plugin {name!r} is not a package: it cannot ship migrations")
            return history
    raise MigrationError(
        f"plugin {name!r} is not enabled (enabled: {', '.join(state.plugin_names) or 'none'})"
    )


def unmigrated_plugins(app: Flask) -> list[str]:
    """Enabled plugins that declare tables but ship no revisions: their tables never appear."""
    state = app.extensions["conveyor"]
    names = {h.name for h in histories(app)}
    return [p.name for p in state.plugins if state.models.get(p.name) and p.name not in names]


# --- what the shared env needs -------------------------------------------------------------------


def history_tables(app: Flask, history: History) -> list[Any]:
    return core_tables() if history.is_core else plugin_tables(app, history.name)


def include_object_for(names: set[str]) -> Callable[..., bool]:
    """Alembic's include_object: only this history's tables, and everything on them."""

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool,
                       compare_to: Any) -> bool:
        if type_ == "table":
            return name in names
        if type_ == "index" and (name or "").startswith(SEARCH_INDEX_PREFIX):
            return False  # the search index, made by create_search_index
        if type_ == "column" and (name or "").startswith((SEARCH_COLUMN_PREFIX,
                                                          SEARCH_PAIRS_PREFIX)):
            return False  # the search index's stored document and word pairs, made with it
        table = getattr(obj, "table", None)
        return table is None or table.name in names

    return include_object


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render Conveyor's column types as plain SQLAlchemy ones (revisions import nothing of
    ours), and a boolean default as ``sa.false()``/``sa.true()`` — Alembic would write the
    SQLite form ``sa.text('0')``, which PostgreSQL refuses."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    if type_ == "server_default":
        arg = getattr(obj, "arg", None)
        if isinstance(arg, (False_, True_)):
            return "sa.true()" if isinstance(arg, True_) else "sa.false()"
    return False


def _skip_empty(context: Any, revision: Any, directives: list[Any]) -> None:
    script = directives[0] if directives else None
    if script is not None and context.config.attributes.get("conveyor_autogenerate") and \
            script.upgrade_ops.is_empty():
        directives[:] = []


def env_options(app: Flask, history: History, dialect: str) -> dict[str, Any]:
    """Keyword arguments for ``context.configure`` in the shared env."""
    tables = history_tables(app, history)
    metadatas: list[MetaData] = []
    for table in tables:
        if table.metadata not in metadatas:
            metadatas.append(table.metadata)
    return {
        "target_metadata": metadatas or [db.metadata],
        "include_object": include_object_for({t.name for t in tables}),
        "version_table": history.version_table,
        "render_as_batch": dialect == "sqlite",
        "compare_type": True,
        "render_item": _render_item,
        "process_revision_directives": _skip_empty,
    }


# --- running -------------------------------------------------------------------------------------


def alembic_config(app: Flask, history: History, connection: Connection | None = None) -> Config:
    """An in-memory Alembic config: the shared env, this history's folder and version table."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("conveyor.migrations")))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(history.versions))
    cfg.set_main_option("file_template", FILE_TEMPLATE)
    cfg.attributes["conveyor_app"] = app
    cfg.attributes["conveyor_history"] = history
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@contextmanager
def connection(app: Flask) -> Iterator[Connection]:
    """A connection for migrations. On SQLite foreign keys are off meanwhile: batch mode rebuilds
    tables by copy-drop-rename, and dropping a referenced table would cascade-delete its rows."""
    with app.app_context():
        engine = db.engine
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # outside any transaction, or SQLite ignores it: straight to the driver
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            yield conn
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")


def current_heads(conn: Connection, history: History) -> tuple[str, ...]:
    ctx = MigrationContext.configure(conn, opts={"version_table": history.version_table})
    return tuple(ctx.get_current_heads())


def script_heads(app: Flask, history: History) -> tuple[str, ...]:
    if not history.has_revisions():
        return ()
    return tuple(ScriptDirectory.from_config(alembic_config(app, history)).get_heads())


def upgrade(app: Flask, name: str | None = None, revision: str = "heads") -> tuple[
    tuple[str, ...], tuple[str, ...]
]:
    """Upgrade one history; returns its heads before and after."""
    history = history_of(app, name)
    if not history.has_revisions():
        return (), ()
    with connection(app) as conn:
        before = current_heads(conn, history)
        command.upgrade(alembic_config(app, history, conn), revision)
        after = current_heads(conn, history)
    return before, after


def upgrade_all(app: Flask, echo: Callable[[str], Any] = lambda _: None) -> None:
    """The core first, then each enabled plugin with revisions, in dependency order."""
    for history in histories(app):
        before, after = upgrade(app, history.name)
        if before == after:
            echo(f"{history.name}: up to date at {_fmt(after)}")
        else:
            echo(f"{history.name}: {_fmt(before)} -> {_fmt(after)}")
    for name in unmigrated_plugins(app):
        echo(f"warning: plugin {name!r} declares tables but ships no migrations; "
             f"its tables were not created (see docs/migrations.md)")


def downgrade(app: Flask, name: str | None, revision: str) -> tuple[
    tuple[str, ...], tuple[str, ...]
]:
    """Downgrade one history to ``revision`` (``base`` removes all of the plugin's tables)."""
    history = history_of(app, name)
    if not history.has_revisions():
        raise MigrationError(f"{history.name} has no revisions in {history.versions}")
    with connection(app) as conn:
        before = current_heads(conn, history)
        command.downgrade(alembic_config(app, history, conn), revision)
        after = current_heads(conn, history)
    return before, after


def status(app: Flask) -> list[dict[str, Any]]:
    """Each history's revision in the database and in its files; disabled plugins that left a
    version table behind are listed too, with ``enabled`` false."""
    rows = []
    with connection(app) as conn:
        tables = set(inspect(conn).get_table_names())
        known = set()
        for history in histories(app, with_empty=True):
            known.add(history.version_table)
            heads = script_heads(app, history)
            current = current_heads(conn, history) if history.version_table in tables else ()
            rows.append({"name": history.name, "version_table": history.version_table,
                         "current": current, "heads": heads, "enabled": True,
                         "up_to_date": set(current) == set(heads)})
        prefix = CORE_VERSION_TABLE + "_"
        for table in sorted(tables):
            if table.startswith(prefix) and table not in known:
                history = History(table[len(prefix):], Path(), table)
                rows.append({"name": history.name, "version_table": table,
                             "current": current_heads(conn, history), "heads": None,
                             "enabled": False, "up_to_date": None})
    return rows


def revision(app: Flask, name: str | None, message: str, autogenerate: bool = False) -> Path | None:
    """Write a new revision file into the history's folder; ``None`` when autogenerate found
    nothing to do. The plugin must be enabled; for autogenerate the database must be at head."""
    history = history_of(app, name)
    history.versions.mkdir(parents=True, exist_ok=True)
    first = not history.has_revisions()
    with connection(app) as conn:
        cfg = alembic_config(app, history, conn)
        cfg.attributes["conveyor_autogenerate"] = autogenerate
        script = command.revision(cfg, message=message, autogenerate=autogenerate,
                                  head="base" if first else "head")
    scripts = script if isinstance(script, list) else [script]
    scripts = [s for s in scripts if s is not None]
    return Path(scripts[0].path) if scripts else None


def drift(app: Flask, name: str | None = None) -> list[Any]:
    """Differences between the database and the history's models (empty: they agree)."""
    history = history_of(app, name)
    with connection(app) as conn:
        opts = env_options(app, history, conn.dialect.name)
        ctx = MigrationContext.configure(conn, opts={
            "include_object": opts["include_object"], "compare_type": True,
            "version_table": history.version_table,
        })
        metadata = opts["target_metadata"]
        return compare_metadata(ctx, metadata[0] if len(metadata) == 1 else metadata)


_SQLITE_BOOLEAN_DEFAULT = re.compile(
    r"sa\.Boolean\(\)[^\n]*server_default=sa\.text\(\s*['\"][01]['\"]\s*\)")


def portability_problems(history: History) -> list[str]:
    """Revision lines that work on SQLite only. Autogenerate against SQLite writes a Boolean's
    default as ``sa.text('0')``, which PostgreSQL refuses (a boolean is not an integer): use
    ``sa.false()`` / ``sa.true()``."""
    problems = []
    if not history.versions.is_dir():
        return problems
    for path in sorted(history.versions.glob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _SQLITE_BOOLEAN_DEFAULT.search(line):
                problems.append(f"{path.name}:{number}: Boolean server_default written as "
                                "sa.text('0'/'1'); PostgreSQL refuses it — use sa.false()/sa.true()")
    return problems


def wipe(app: Flask) -> None:
    """Drop every table in the database, Conveyor's or not (``conveyor demo --reset``); views
    and SQLite's full-text tables (the search index) first, since a view left over refers to
    tables that are gone, and SQLite then refuses renaming any table (batch migrations)."""
    with connection(app) as conn:
        inspector = inspect(conn)
        sqlite = conn.dialect.name == "sqlite"
        for view in inspector.get_view_names():
            conn.execute(text(f'DROP VIEW IF EXISTS "{view}"' + ("" if sqlite else " CASCADE")))
        if sqlite:
            for (name,) in conn.execute(text(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND sql LIKE 'CREATE VIRTUAL TABLE%'")).all():
                conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
        meta = MetaData()
        meta.reflect(conn)
        meta.drop_all(conn)


def _fmt(heads: tuple[str, ...]) -> str:
    return ", ".join(heads) if heads else "<empty>"
