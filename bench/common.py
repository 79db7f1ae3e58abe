"""Helpers shared by every benchmark in ``bench/``.

Interface (kept stable for bench_core, bench_leads, bench_funnel, bench_relationships):

- ``DATA_DIR`` — ``bench/data/`` (git-ignored): cached generated SQLite databases.
- ``bench_database(scale, url=None, plugins=(), seed=1, fresh=False) -> (url, info)`` — a database
  holding ``generate.generate()``'s company at ``scale`` (1.0 = 100k customers, 1M deals). Without
  ``url`` a SQLite file in ``DATA_DIR`` is reused when it was built with the same scale, seed,
  plugins and migration revisions (``schema_tag``); ``info`` is the generator's result, read
  back from a ``.json`` next to the file.
- ``throwaway_postgres() -> context manager yielding a URL`` — initdb + pg_ctl start on a free
  loopback port as user ``postgres`` (stack-notes.md), removed on exit.
- ``make_bench_app(url, plugins=()) -> Flask`` — the real app (``create_app``) on that database,
  with the reference route ``/_bench/bare/<id>`` added (see ``add_bare_route``), an empty
  signed-in page ``/_bench/shell`` (``add_shell_route``): the layout's fixed cost, and the
  ``X-Bench-Forget-Rows`` header (``add_forget_rows``): rows rendered afresh, counts made again.
- ``client_for(app, user_id) -> FlaskClient`` — a test client signed in as that user.
- ``served(url, plugins=(), config=None) -> context manager yielding an HttpServer`` —
  ``make_bench_app``
  served by gunicorn (one sync worker, loopback), the way a deployment serves it;
  ``HttpServer.client(app, user_id)`` gives a callable
  ``get(path, extra_headers=None) -> HttpResponse`` carrying that user's signed session cookie
  (a new connection per request, as gunicorn's sync worker closes each one).
- ``measure(cases, rounds, warmup) -> {name: Timing}`` — round-robin: every round requests each
  case once, so background load on the shared machine hits every row alike.
- ``capture_queries(app, fn) -> list[(sql, params, ms)]`` — statements one call runs, with times.
- ``replay(app, statements) -> [ms]`` — each captured statement's own database time, fetched.
- ``explain(app, sql, params) -> str`` — EXPLAIN QUERY PLAN (SQLite) / EXPLAIN ANALYZE (PostgreSQL).
- ``table(headers, rows) -> str`` (Markdown, also printed) and
  ``write_results(name, meta, headers, rows, extra_md="", extra_json=None)`` →
  ``bench/results/<name>.md`` + ``.json`` with ``machine_info()``.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"
RESULTS_DIR = BENCH_DIR / "results"
PGBIN = Path("/usr/lib/postgresql/15/bin")
FULL_CUSTOMERS = 100_000


def default_plugins() -> tuple[str, ...]:
    """The plugin list of ``config/defaults.toml``: "every plugin on", as a deployment has it."""
    import tomllib

    config = tomllib.loads((BENCH_DIR.parent / "config" / "defaults.toml").read_text())
    return tuple(config["plugins"])

FULL_DEALS = 1_000_000


# --- databases ---------------------------------------------------------------------------------


def bench_database(scale: float, url: str | None = None, plugins: Sequence[str] = (),
                   seed: int = 1, fresh: bool = False) -> tuple[str, dict[str, Any]]:
    """A generated company at ``scale``; cached as a SQLite file unless ``url`` is given."""
    from generate import generate  # bench/ is on sys.path when a bench script runs

    customers = max(10, round(FULL_CUSTOMERS * scale))
    deals = max(20, round(FULL_DEALS * scale))
    if url is not None:
        return url, generate(url, customers, deals, seed, plugins=plugins, reset=True)
    DATA_DIR.mkdir(exist_ok=True)
    tag = "-".join(["core", f"s{scale:g}", f"seed{seed}", *sorted(plugins)])
    path = DATA_DIR / f"{tag}.db"
    meta = path.with_suffix(".json")
    if not fresh and path.exists() and meta.exists():
        info = json.loads(meta.read_text())
        if info.get("params") == [customers, deals, seed, sorted(plugins)] and \
                info.get("schema") == schema_tag(plugins):
            return f"sqlite:///{path}", info
    for old in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), meta):
        old.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    info = generate(url, customers, deals, seed, plugins=plugins)
    info["params"] = [customers, deals, seed, sorted(plugins)]
    info["schema"] = schema_tag(plugins)
    meta.write_text(json.dumps(info, indent=1, default=str))
    return url, info


def schema_tag(plugins: Sequence[str] = ()) -> list[str]:
    """The migration revisions of the core and ``plugins`` (file names): a cached database built
    before a schema change (a new revision) is generated again instead of being reused."""
    root = BENCH_DIR.parent
    folders = [root / "core" / "migrations" / "versions"]
    folders += [root / "plugins" / name / "migrations" / "versions" for name in sorted(plugins)]
    return sorted(f"{folder.parent.parent.name}/{path.name}" for folder in folders
                  if folder.is_dir() for path in folder.glob("*.py") if path.name != "__init__.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def throwaway_postgres(dbname: str = "conveyor", port: int | None = None) -> Iterator[str]:
    """A private PostgreSQL 15 server on ``port`` (a free one by default); stopped and deleted
    on exit."""
    folder = Path(tempfile.mkdtemp(prefix="conveyor-bench-pg-"))
    os.chmod(folder, 0o755)
    data = folder / "data"
    port = port or _free_port()
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data.mkdir()
    if as_pg:
        shutil.chown(data, "postgres", "postgres")
    run = lambda *cmd: subprocess.run([*as_pg, *cmd], check=True, capture_output=True)  # noqa: E731
    try:
        run(str(PGBIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8")
        run(str(PGBIN / "pg_ctl"), "-D", str(data), "-l", str(data / "log"), "-w", "-o",
            f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c shared_buffers=512MB "
            "-c maintenance_work_mem=512MB -c max_wal_size=4GB -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off", "start")
        run(str(PGBIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", dbname)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{dbname}"
    finally:
        subprocess.run([*as_pg, str(PGBIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


# --- the app and its reference route -----------------------------------------------------------


def make_bench_app(url: str, plugins: Sequence[str] = (),
                   config: dict[str, Any] | None = None) -> Flask:
    """The real app on ``url`` (no rate limits, CSRF on as in production), plus the bare route;
    ``config``: more settings (a benchmark's role layout, say)."""
    from conveyor.app import create_app

    instance = DATA_DIR / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    app = create_app(config={"database_url": url, "secret_key": "bench", "plugins": list(plugins),
                             "ratelimit_enabled": False, **(config or {})},
                     plugins=list(plugins), instance_path=str(instance))
    add_bare_route(app)
    add_shell_route(app)
    add_forget_rows(app)
    return app


def add_bare_route(app: Flask) -> None:
    """The reference: a plain Flask route in the same app running one indexed query (deal by
    primary key) and returning a short text — no template, no permission checks."""
    from sqlalchemy import select

    from conveyor.extensions import db
    from conveyor.models import Deal
    from conveyor.permissions import public

    @public
    def bare(deal_id: int) -> str:
        row = db.session.execute(select(Deal.id, Deal.title, Deal.stage_id)
                                 .where(Deal.id == deal_id)).one()
        return f"{row.id} {row.title} {row.stage_id}"

    app.add_url_rule("/_bench/bare/<int:deal_id>", "bench_bare", bare)


def add_forget_rows(app: Flask) -> None:
    """``X-Bench-Forget-Rows: 1`` empties the memo of rendered list rows and board cards
    (conveyor.web.rows) and of lists' estimated counts (conveyor.web.listing) before the
    request: a page timed as if all its rows were new and its count not yet made."""
    from flask import request

    from conveyor.web.listing import forget_estimates
    from conveyor.web.rows import forget_rows

    @app.before_request
    def _forget() -> None:
        if request.headers.get("X-Bench-Forget-Rows"):
            forget_rows()
            forget_estimates()


def add_shell_route(app: Flask) -> None:
    """A second reference: an empty page in the signed-in layout (``base.html``: user, roles,
    nav, notifications count, language switch). What every page costs before its own content."""
    from flask import render_template

    from conveyor.permissions import login_required

    template = app.jinja_env.from_string('{% extends "base.html" %}{% block title %}Shell'
                                         '{% endblock %}')  # compiled once, like a file template

    @login_required
    def shell() -> str:
        return render_template(template)

    app.add_url_rule("/_bench/shell", "bench_shell", shell)


def client_for(app: Flask, user_id: int) -> FlaskClient:
    """A test client whose session is signed in as ``user_id`` (as Flask-Login stores it)."""
    from conveyor.extensions import db
    from conveyor.models import User

    with app.app_context():
        session_id = db.session.get(User, user_id).get_id()  # id and session stamp
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True
    return client


def bench_wsgi_app() -> Flask:
    """gunicorn's entry point (``common:bench_wsgi_app()``): ``make_bench_app`` on the database,
    plugins and extra config given in ``BENCH_APP_URL`` / ``BENCH_APP_PLUGINS`` /
    ``BENCH_APP_CONFIG`` (JSON)."""
    plugins = [p for p in os.environ.get("BENCH_APP_PLUGINS", "").split(",") if p]
    config = json.loads(os.environ.get("BENCH_APP_CONFIG") or "{}")
    return make_bench_app(os.environ["BENCH_APP_URL"], plugins=plugins, config=config)


@dataclass
class HttpResponse:
    status_code: int
    body: bytes

    def get_data(self) -> bytes:
        return self.body


class HttpServer:
    def __init__(self, port: int) -> None:
        self.port = port

    def client(self, app: Flask, user_id: int | None) -> Callable[[str], HttpResponse]:
        """GET over loopback with ``user_id``'s session cookie (signed as Flask-Login stores
        it); anonymous for ``None``. Cookies the app sets are kept and sent back, as a browser
        does (the first page adds the CSRF token to the session, and later ones don't)."""
        import http.client

        cookies: dict[str, str] = {}
        if user_id is not None:
            from conveyor.extensions import db
            from conveyor.models import User

            with app.app_context():  # the id and the session stamp, as Flask-Login stores it
                session_id = db.session.get(User, user_id).get_id()
            cookies[app.config["SESSION_COOKIE_NAME"]] = \
                app.session_interface.get_signing_serializer(app).dumps(  # type: ignore
                    {"_user_id": session_id, "_fresh": True})

        def get(path: str, extra_headers: dict[str, str] | None = None, method: str = "GET",
                body: bytes | None = None) -> HttpResponse:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} \
                    if cookies else {}
                conn.request(method, path, body=body,
                             headers={**headers, **(extra_headers or {})})
                response = conn.getresponse()
                for header in response.msg.get_all("Set-Cookie") or ():
                    name, _, value = header.split(";", 1)[0].partition("=")
                    cookies[name.strip()] = value.strip()
                return HttpResponse(response.status, response.read())
            finally:
                conn.close()

        return get


@contextmanager
def served(url: str, plugins: Sequence[str] = (), app_spec: str = "common:bench_wsgi_app()",
           workers: int = 1, config: dict[str, Any] | None = None,
           gunicorn_args: Sequence[str] = ()) -> Iterator[HttpServer]:
    """The bench app under gunicorn (``-w workers``, sync worker) on a free loopback port;
    ``app_spec``: another entry point in ``bench/`` (reading the same environment);
    ``config``: app config overrides; ``gunicorn_args``: more options (``-c CONFIG``)."""
    import sys

    port = _free_port()
    env = {**os.environ, "BENCH_APP_URL": url, "BENCH_APP_PLUGINS": ",".join(plugins),
           "BENCH_APP_CONFIG": json.dumps(config or {})}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--no-control-socket", "-w",
                             str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                             # a slow page on a loaded machine must not get the worker killed
                             # (a new worker would also reset what bench_memory measures)
                             "--timeout", "300", *gunicorn_args,
                             "--chdir", str(BENCH_DIR), app_spec], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode()[-3000:])  # type: ignore[union-attr]
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield HttpServer(port)
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stderr.close()  # type: ignore[union-attr]


# --- timing ------------------------------------------------------------------------------------


@dataclass
class Timing:
    samples_ms: list[float] = field(default_factory=list)
    status: int = 0
    size: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p90(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def measure(cases: dict[str, Callable[[], Any]], rounds: int = 30, warmup: int = 3
            ) -> dict[str, Timing]:
    """Time each case ``rounds`` times, round-robin. A case returns a response (status, size kept)
    or anything else."""
    out = {name: Timing() for name in cases}
    for i in range(warmup + rounds):
        for name, fn in cases.items():
            start = time.perf_counter()
            result = fn()
            elapsed = (time.perf_counter() - start) * 1000
            if i >= warmup:
                out[name].samples_ms.append(elapsed)
            status = getattr(result, "status_code", None)
            if status is not None:
                out[name].status = status
                out[name].size = len(result.get_data())
    return out


TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}


def capture_queries(app: Flask, fn: Callable[[], Any]) -> list[tuple[str, Any, float]]:
    """Run ``fn`` once and return each SQL statement it ran, its parameters and its time in ms
    (transaction control — the BEGIN the app emits on SQLite, savepoints — left out)."""
    from sqlalchemy import event

    from conveyor.extensions import db

    with app.app_context():
        engine = db.engine
    seen: list[tuple[str, Any, float]] = []
    started: list[float] = []

    def before(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        started.append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        elapsed = (time.perf_counter() - started.pop()) * 1000
        if statement.split(None, 1)[0].upper() not in TRANSACTION_CONTROL:
            seen.append((statement, params, elapsed))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    return seen


def replay(app: Flask, statements: Sequence[tuple[str, Any, float]], times: int = 3
           ) -> list[float]:
    """Each statement's own database time in ms (best of ``times``), executed and fetched
    on a raw connection: SQLite computes rows while they are fetched, so the time between
    SQLAlchemy's execute events understates it."""
    from conveyor.extensions import db

    out = []
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            for sql, params, _ in statements:
                best = float("inf")
                for _ in range(times):
                    start = time.perf_counter()
                    cur.execute(sql, params)
                    cur.fetchall()
                    best = min(best, (time.perf_counter() - start) * 1000)
                out.append(best)
            raw.rollback()
        finally:
            raw.close()
    return out


def explain(app: Flask, sql: str, params: Any) -> str:
    """The plan of one captured statement: EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PG."""
    from conveyor.extensions import db

    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            if db.engine.dialect.name == "sqlite":
                cur.execute("EXPLAIN QUERY PLAN " + sql, params)
                return "\n".join(f"{r[0]:>3} {r[1]:>3} {r[3]}" for r in cur.fetchall())
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            return "\n".join(r[0] for r in cur.fetchall())
        finally:
            raw.close()


# --- output ------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (also readable as plain text)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                      *(line(r) for r in cells[1:])])


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb,
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform(),
            "load_avg": [round(x, 2) for x in os.getloadavg()]}


def database_label(url: str) -> str:
    if url.startswith("sqlite"):
        return f"SQLite {sqlite3.sqlite_version}"
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar()
    engine.dispose()
    return f"PostgreSQL {version}"


def write_results(name: str, meta: dict[str, Any], headers: Sequence[str],
                  rows: Sequence[Sequence[Any]], extra_md: str = "",
                  extra_json: dict[str, Any] | None = None) -> Path:
    """``bench/results/<name>.md`` and ``.json``: date, machine, the parameters and the table."""
    RESULTS_DIR.mkdir(exist_ok=True)
    meta = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(), **meta}
    head = "\n".join(f"- **{k}**: {v}" for k, v in meta.items() if k != "machine")
    machine = ", ".join(f"{k}={v}" for k, v in meta["machine"].items())
    md = f"# {name}\n\n{head}\n- **machine**: {machine}\n\n{table(headers, rows)}\n"
    if extra_md:
        md += "\n" + extra_md.rstrip() + "\n"
    (RESULTS_DIR / f"{name}.md").write_text(md)
    payload = {**meta, "columns": list(headers), "rows": [list(r) for r in rows],
               **(extra_json or {})}
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(payload, indent=1, default=_json))
    return RESULTS_DIR / f"{name}.md"


def _json(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return str(value)
