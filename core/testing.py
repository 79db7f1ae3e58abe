"""Pytest plugin for Conveyor and its plugin authors (entry point ``pytest11``).

Fixtures: ``make_app(plugins=…, config=…)``, ``app``, ``client``, ``login_as(role)``,
``api_headers(role)``, ``users``, ``captured_events``, ``count_queries``.
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


def client_as(app: Flask, username: str, csrf: bool = False) -> FlaskClient:
    """A test client signed in as ``username``. ``csrf=True``: it also sends a valid CSRF token
    (``X-CSRFToken``) with every request, as a page's script would — so suites keep CSRF on."""
    from itsdangerous import URLSafeTimedSerializer

    from .extensions import db
    from .models import User

    with app.app_context():
        user_id = db.session.get(User, app.config["TEST_USER_IDS"][username]).get_id()
    client = app.test_client()
    raw = os.urandom(20).hex()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True
        session["csrf_token"] = raw
    if csrf:
        token = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)
        client.environ_base["HTTP_X_CSRFTOKEN"] = token
    return client


@pytest.fixture
def login_as(app: Flask) -> Callable[[str], FlaskClient]:
    """``login_as("seller")`` returns a test client signed in as that user, sending a valid
    CSRF token with its posts (``client_as(app, name)`` gives one without)."""
    return lambda username: client_as(app, username, csrf=True)


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
