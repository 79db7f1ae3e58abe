"""Pytest plugin for Conveyor and its plugin authors (entry point ``pytest11``).

Fixtures: ``make_app(plugins=…, config=…)``, ``app``, ``client``, ``login_as(role)``,
``api_headers(role)``, ``users``, ``captured_events``, ``count_queries``; and
``statement_work(fn)``: what the statements of a call read, for cost-follows-selection tests.
Set ``CONVEYOR_TEST_DATABASE_URL`` to run against PostgreSQL; SQLite in a temp folder otherwise.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from werkzeug.security import generate_password_hash

from .hookspecs import hookimpl
from .role_layers import ROLE_NAMES

TEST_DB_ENV = "CONVEYOR_TEST_DATABASE_URL"
# username -> roles. seller and seller2 share the manager's team; seller3 is in another team.
TEST_USERS: dict[str, list[str]] = {
    **{role: [role] for role in ROLE_NAMES},
    "seller2": ["seller"],
    "seller3": ["seller"],
}
TEAMS = {"North": ["manager", "seller", "seller2", "assistant"], "South": ["seller3"]}
PASSWORD = "test-password"


def seed_test_data(app: Flask) -> dict[str, int]:
    """The default pipeline, one user per role (plus two more sellers) and two teams."""
    from .extensions import db
    from .models import Team, TeamMember, User
    from .stages import ensure_default_pipeline

    with app.app_context():
        ensure_default_pipeline(db.session)
        ids = {}
        for username, roles in TEST_USERS.items():
            user = User(username=username, display_name=username.title())
            # A cheap hash: tests build many apps; real users get werkzeug's default (scrypt).
            user.password_hash = generate_password_hash(PASSWORD, "pbkdf2:sha256:1000")
            user.roles = roles
            db.session.add(user)
            db.session.flush()
            ids[username] = user.id
        for name, members in TEAMS.items():
            team = Team(name=name)
            db.session.add(team)
            db.session.flush()
            for member in members:
                db.session.add(TeamMember(team_id=team.id, user_id=ids[member]))
        db.session.commit()
    return ids


@pytest.fixture
def make_app(tmp_path: Any) -> Iterator[Callable[..., Flask]]:
    """Build apps with chosen plugins; tables of exactly those plugins are created."""
    from .app import create_app
    from .schema import create_tables, drop_tables

    made: list[Flask] = []

    def factory(plugins: list[str] | None = None, config: dict[str, Any] | None = None,
                extra_plugins: list[tuple[str, Any]] = (), seed: bool = True) -> Flask:
        url = os.environ.get(TEST_DB_ENV) or f"sqlite:///{tmp_path}/test-{len(made)}.db"
        cfg = {"database_url": url, "secret_key": "test", "testing": True,
               "ratelimit_enabled": False, "plugins": plugins or [], **(config or {})}
        app = create_app(config=cfg, plugins=plugins or [], extra_plugins=extra_plugins,
                         instance_path=str(tmp_path / "instance"))
        app.config["CONVEYOR_TRACK_INLINE"] = True
        if os.environ.get(TEST_DB_ENV):
            drop_tables(app)
        create_tables(app)
        app.config["TEST_USER_IDS"] = seed_test_data(app) if seed else {}
        made.append(app)
        return app

    yield factory
    for app in made:
        if os.environ.get(TEST_DB_ENV):
            drop_tables(app)
        with app.app_context():
            from .extensions import db

            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """An app with no plugins: the bare core."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def users(app: Flask) -> dict[str, int]:
    """Test user ids by username (``users["seller"]``)."""
    return app.config["TEST_USER_IDS"]


def client_as(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(app.config["TEST_USER_IDS"][username])
        session["_fresh"] = True
    return client


@pytest.fixture
def login_as(app: Flask) -> Callable[[str], FlaskClient]:
    """``login_as("seller")`` returns a test client signed in as that user."""
    return lambda username: client_as(app, username)


def token_headers(app: Flask, username: str) -> dict[str, str]:
    from .extensions import db
    from .models import ApiToken, User

    with app.app_context():
        token, secret = ApiToken.issue(db.session.get(User, app.config["TEST_USER_IDS"][username]))
        db.session.add(token)
        db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def api_headers(app: Flask) -> Callable[[str], dict[str, str]]:
    """``api_headers("seller")``: an Authorization header with a fresh bearer token."""
    return lambda username: token_headers(app, username)


class _Recorder:
    def __init__(self) -> None:
        self.handled: list[Any] = []
        self.tracked: list[Any] = []

    @hookimpl
    def handle_event(self, event: Any) -> None:
        self.handled.append(event)

    @hookimpl
    def track_event(self, event: Any) -> None:
        self.tracked.append(event)

    def names(self) -> list[str]:
        return [e.name for e in self.handled]


@pytest.fixture
def captured_events(app: Flask) -> Iterator[_Recorder]:
    """Events emitted in ``app``: ``.handled`` (in transaction) and ``.tracked`` (after commit)."""
    recorder = _Recorder()
    pm = app.extensions["conveyor"].pm
    pm.register(recorder, name="captured_events")
    yield recorder
    pm.unregister(name="captured_events")


@contextmanager
def query_counter(app: Flask) -> Iterator[list[str]]:
    from .extensions import db

    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def _count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)


@pytest.fixture
def count_queries(app: Flask) -> Callable[[], Any]:
    """``with count_queries() as q: …; len(q)`` — SQL statements run inside the block."""
    return lambda: query_counter(app)


TABLE_SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"}


def _rows_read(node: dict[str, Any]) -> int:
    """Rows the plan's scans of tables and indexes read: returned or removed by a filter."""
    own = 0
    if node.get("Node Type") in TABLE_SCANS:
        read = sum(int(node.get(key, 0)) for key in (
            "Actual Rows", "Rows Removed by Filter", "Rows Removed by Index Recheck"))
        own = read * int(node.get("Actual Loops", 1))
    return own + sum(_rows_read(child) for child in node.get("Plans", ()))


def statement_work(fn: Callable[[], Any]) -> int:
    """What the statements ``fn`` runs on ``db.session`` read, as a number that does not depend on
    timing: on SQLite the virtual machine instructions they execute (``set_progress_handler``:
    a row read costs a few, an index probe one), on PostgreSQL the rows their plans' table and
    index scans read (EXPLAIN ANALYZE of each SELECT afterwards: rows returned or filtered out,
    × loops). PostgreSQL is asked to avoid sequential and bitmap scans, incremental sorts, hash
    and merge joins: on tables of a few hundred rows it rightly reads them whole (or whole in key
    order, or hashes one side entirely), which says nothing about a million, where it probes
    the indexes. For tests that a figure's cost follows what was selected."""
    import json

    from sqlalchemy import event

    from .extensions import db

    conn = db.session.connection()
    raw = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        steps = [0]

        def count() -> int:
            steps[0] += 1
            return 0

        raw.set_progress_handler(count, 1)
        try:
            fn()
        finally:
            raw.set_progress_handler(None, 1)
        return steps[0]
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    total = 0
    cursor = raw.cursor()
    knobs = ("enable_seqscan", "enable_bitmapscan", "enable_incremental_sort", "enable_hashjoin",
             "enable_mergejoin")
    for knob in knobs:
        cursor.execute(f"SET LOCAL {knob} = off")
    try:
        for statement, params in seen:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
            plan_json = cursor.fetchone()[0]
            plan_json = json.loads(plan_json) if isinstance(plan_json, str) else plan_json
            total += _rows_read(plan_json[0]["Plan"])
    finally:
        for knob in knobs:
            cursor.execute(f"RESET {knob}")
    return total


def freeze_statistics() -> None:
    """PostgreSQL: gather the planner's statistics now and keep autovacuum from gathering new
    ones mid-test (the tables' own setting, dropped with them); nothing on SQLite, which plans
    without statistics. For ``statement_work`` comparisons before and after adding rows."""
    from sqlalchemy import inspect, text

    from .extensions import db

    if db.engine.dialect.name != "postgresql":
        return
    db.session.execute(text("ANALYZE"))
    for name in inspect(db.session.connection()).get_table_names():
        db.session.execute(text(f'ALTER TABLE "{name}" SET (autovacuum_enabled = false)'))
