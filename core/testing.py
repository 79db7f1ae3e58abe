"""Pytest plugin for Conveyor and its plugin authors (entry point ``pytest11``).

Fixtures: ``make_app(plugins=…, config=…)``, ``app``, ``client``, ``login_as(role)``,
``api_headers(role)``, ``users``, ``captured_events``, ``count_queries``, ``smtp_server`` (a real
SMTP server on 127.0.0.1; ``smtp_server.config`` is the app config that sends to it),
``redis_server`` (a real Redis on 127.0.0.1; ``redis_server.url`` for ``redis_url``).
Jobs queued with ``conveyor.enqueue`` run at the commit in tests; ``conveyor.jobs.run_due(app)``
runs what is due later (retries, ``run_at`` in the future, schedules).
``statement_work(fn)``: what the statements of a call read, for cost-follows-selection tests.
Bad input: ``row_counts(app)`` / ``with writes_nothing(app):``, ``assert_field_refused``,
``NOT_JSON_OBJECTS`` with ``assert_not_a_json_object_refused``, and ``csrf_of(html)`` /
``post_form(client, url, data)`` for posting a page's form with its CSRF token.
Set ``CONVEYOR_TEST_DATABASE_URL`` to run against PostgreSQL; SQLite in a temp folder otherwise.
"""
from __future__ import annotations

import os
import re
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
            user = User(username=username, display_name=username.title(),
                        email=f"{username}@example.test")
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


# --- bad input: what every "refused, nothing written" test checks ------------------------------

_CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|'
                         r'name="csrf-token" content="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page carries (its first form's hidden field, else the ``csrf-token``
    meta of the layout), for a test that posts a form the way the browser does."""
    match = _CSRF_FIELD.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def post_form(client: FlaskClient, url: str, data: dict[str, Any] | None = None,
              page: str = "/", **kwargs: Any) -> Any:
    """Post ``data`` to ``url`` with the CSRF token read from ``page`` (a client that sends
    no token by itself: ``client_as(app, name)``, or one signed in through the login form)."""
    token = csrf_of(client.get(page).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **(data or {})}, **kwargs)


def row_counts(app: Flask, skip: tuple[str, ...] = ("api_tokens",)) -> dict[str, int]:
    """The number of rows of every table (``skip``: tables a test itself fills, such as the
    tokens of ``api_headers``), to compare before and after a refused request."""
    from sqlalchemy import func, inspect, select

    from .extensions import db

    with app.app_context():
        present = set(inspect(db.engine).get_table_names()) - set(skip)
        return {t.name: db.session.scalar(select(func.count()).select_from(t))
                for t in db.metadata.sorted_tables if t.name in present}


@contextmanager
def writes_nothing(app: Flask) -> Iterator[None]:
    """``with writes_nothing(app): …``: not a row more or less in any table afterwards — a
    refusal is all or nothing."""
    before = row_counts(app)
    yield
    assert row_counts(app) == before


def assert_field_refused(response: Any, field: str, status: int = 422) -> None:
    """An API refusal in the API's shape (``{"errors": {"json": {field: [...]}}}``) naming
    ``field``."""
    assert response.status_code == status, response.get_json()
    assert field in response.get_json()["errors"]["json"], response.get_json()


# Bodies that are no JSON object, for ``assert_not_a_json_object_refused``: malformed JSON, a
# list, null, a string, a form and plain text.
NOT_JSON_OBJECTS = [("{bad", "application/json"), ("[1, 2]", "application/json"),
                    ("null", "application/json"), ('"text"', "application/json"),
                    ("field=value", "application/x-www-form-urlencoded"),
                    ("text", "text/plain")]


def assert_not_a_json_object_refused(response: Any) -> None:
    """A body that is no JSON object is a 400, 415 or 422 answered in JSON, never a 500."""
    assert response.status_code in (400, 415, 422) and response.is_json, \
        response.get_data(as_text=True)[:500]


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


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for servers started by tests)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def smtp_config(port: int) -> dict[str, Any]:
    """App config that sends mail to an SMTP server on 127.0.0.1:``port``."""
    return {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
            "mail_from": "Conveyor <crm@example.test>"}


class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

    def __init__(self, port: int | None = None) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        self.envelopes: list[Any] = []
        server = self

        class Handler:
            async def handle_DATA(self, srv: Any, session: Any, envelope: Any) -> str:
                import email
                import email.policy

                server.envelopes.append(envelope)
                server.messages.append(email.message_from_bytes(
                    envelope.content, policy=email.policy.default))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port or free_port())

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def config(self) -> dict[str, Any]:
        return smtp_config(self.port)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on a free loopback port; pass ``smtp_server.config`` to make_app."""
    server = SmtpServer().start()
    yield server
    server.stop()


# --- checks a plugin's own test suite runs (the core runs the same on itself) -------------------

UNDECLARED = object()


def _skipped(endpoint: str) -> bool:
    """Static files and flask-smorest's own OpenAPI/doc pages carry no permission."""
    return endpoint == "static" or endpoint.endswith(".static") or endpoint.startswith(
        "api-docs.")


def declared_permissions(app: Flask, endpoint: str) -> dict[str, Any]:
    """The permission each HTTP method of an endpoint declares (``UNDECLARED`` if none)."""
    view = app.view_functions[endpoint]
    view_class = getattr(view, "view_class", None)
    methods = {m for rule in app.url_map.iter_rules(endpoint) for m in rule.methods or ()} - {
        "HEAD", "OPTIONS"}
    if view_class is None:
        return {m: getattr(view, "__conveyor_permission__", UNDECLARED) for m in methods}
    return {m: getattr(getattr(view_class, m.lower(), None), "__conveyor_permission__",
                       UNDECLARED) for m in methods}


def path_args(rule: Any) -> dict[str, Any]:
    """Example values for a rule's path arguments, for walks over the URL map: 1 for an id, the
    first choice of an ``any(...)`` converter, a string of the length a ``string(length=N)``
    asks for."""
    args: dict[str, Any] = {}
    for name in rule.arguments - set(rule.defaults or {}):
        converter = rule._converters.get(name)
        items = getattr(converter, "items", None)
        if items:
            args[name] = sorted(items)[0]
        elif getattr(converter, "regex", "").startswith("[^/]{"):
            length = int(converter.regex.split("{")[1].split("}")[0].split(",")[0] or 1)
            args[name] = "1" * length
        else:
            args[name] = 1
    return args


def get_routes(app: Flask, only: Callable[[str], bool] = lambda endpoint: True,
               ) -> list[tuple[str, str, Any]]:
    """(endpoint, url, permission) of every GET route; path arguments are filled with 1."""
    from flask import url_for

    routes = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if _skipped(rule.endpoint) or "GET" not in (rule.methods or ()) or \
                    not only(rule.endpoint):
                continue
            args = path_args(rule)
            routes.append((rule.endpoint, url_for(rule.endpoint, **args),
                           declared_permissions(app, rule.endpoint)["GET"]))
    return routes


def route_problems(app: Flask, only: Callable[[str], bool] = lambda endpoint: True,
                   roles: list[str] | None = None) -> list[str]:
    """Walk the routes as every role and as nobody: each view declares a permission, each role
    reaches exactly what its permissions allow, no request ends in a 5xx, anonymous requests
    never reach a protected page. Returns what is wrong (empty: all holds)."""
    problems = [f"{rule.rule} {method} ({rule.endpoint}): no require/login_required/public"
                for rule in app.url_map.iter_rules()
                if not _skipped(rule.endpoint) and only(rule.endpoint)
                for method, perm in declared_permissions(app, rule.endpoint).items()
                if perm is UNDECLARED]
    routes = get_routes(app, only)
    for role in roles or ROLE_NAMES:
        perms = app.extensions["conveyor"].roles[role].permissions
        client = client_as(app, role)
        bearer = token_headers(app, role)
        for _endpoint, url, perm in routes:
            if perm is None or perm is UNDECLARED:
                continue
            response = client.get(url, headers=bearer if url.startswith("/api/") else {})
            status = response.status_code
            to_login = status == 302 and "/login" in response.headers.get("Location", "")
            allowed = perm == "login" or perm in perms
            if status >= 500:
                problems.append(f"{role} {url}: {status}")
            elif allowed and (status in (401, 403) or to_login):
                problems.append(f"{role} {url}: {status} though {role} holds {perm}")
            elif not allowed and not (status in (401, 403) or to_login):
                problems.append(f"{role} {url}: {status} though {role} lacks {perm}")
    anonymous = app.test_client()
    for _endpoint, url, perm in routes:
        if perm is None or perm is UNDECLARED:
            continue
        response = anonymous.get(url)
        to_login = response.status_code == 302 and "/login" in response.headers.get(
            "Location", "")
        if not (response.status_code == 401 or to_login):
            problems.append(f"anonymous {url}: {response.status_code}")
    return problems


@pytest.fixture
def check_routes() -> Callable[..., None]:
    """``check_routes(app, plugin="hello")``: the role walk over the plugin's routes (those
    whose endpoint starts with the plugin's name), as the core's own test walks the core's."""
    def check(app: Flask, plugin: str | None = None, roles: list[str] | None = None) -> None:
        only = (lambda e: e.split(".")[0] == plugin or e.split(".")[0].startswith(
            plugin + "_")) if plugin else (lambda e: True)
        problems = route_problems(app, only, roles)
        assert not problems, "\n".join(problems)

    return check


def migration_problems(app: Flask, plugin: str) -> list[str]:
    """Upgrade an empty database with the migrations, then compare it with the plugin's models:
    a missing or drifted revision, or SQL only SQLite accepts, is a problem."""
    from . import migrate

    migrate.wipe(app)
    migrate.upgrade_all(app)
    history = migrate.history_of(app, plugin)
    return [str(d) for d in migrate.drift(app, plugin)] + migrate.portability_problems(history)


@pytest.fixture
def check_migrations(make_app: Callable[..., Flask]) -> Callable[[str], None]:
    """``check_migrations("hello")``: the plugin's revisions build exactly its models, on SQLite
    or, when ``CONVEYOR_TEST_DATABASE_URL`` is set, on PostgreSQL."""
    def check(plugin: str, plugins: list[str] | None = None) -> None:
        app = make_app(plugins=plugins or [plugin], seed=False)
        problems = migration_problems(app, plugin)
        assert not problems, "\n".join(problems)

    return check


def build_and_install(source: Any, tmp: Any) -> Any:
    """Build the package in ``source`` as a wheel (from a copy: no build/ litter in the source)
    and pip-install it into a folder of its own under ``tmp``; returns that folder, to put on
    ``sys.path`` or ``PYTHONPATH``. Proves what a deployment does: pip installs the plugin and
    its entry point is found."""
    import importlib.util
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    source, tmp = Path(source), Path(tmp)

    def pip(*args: str, cwd: Path) -> None:
        result = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check",
                                 "--no-input", *args], cwd=cwd, capture_output=True, text=True,
                                timeout=180)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]

    copy = tmp / "src"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    try:  # setuptools builds wheels by itself from 70.1; older ones need the wheel package
        import setuptools

        major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
        offline = (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None
    except ImportError:
        offline = False
    isolation = ["--no-build-isolation"] if offline else []
    pip("wheel", "--no-deps", *isolation, "-w", str(tmp / "dist"), ".", cwd=copy)
    (wheel,) = (tmp / "dist").glob("*.whl")
    site = tmp / "site"
    pip("install", "--no-deps", "--no-index", "--target", str(site), str(wheel), cwd=tmp)
    return site
REDIS_SERVER = "/usr/bin/redis-server"


class RedisServer:
    """A throwaway ``redis-server`` on 127.0.0.1 (no persistence), stoppable and restartable
    on the same port — to test what happens while Redis is away."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        import subprocess
        import time

        import redis

        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        end = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                return self
            except redis.exceptions.ConnectionError:
                if time.monotonic() > end or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # its data does not matter: the outbox is the truth
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real Redis on a free loopback port (skipped without Debian's redis-server);
    ``make_app(config={"redis_url": redis_server.url})`` puts the jobs on it."""
    if not os.path.exists(REDIS_SERVER):
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer().start()
    yield server
    server.stop()
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
