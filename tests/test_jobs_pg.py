"""Two gunicorn instances and two `conveyor worker`s on one PostgreSQL and one Redis, under a
bounded mixed load on 127.0.0.1: every outbox row is delivered, none twice.

Needs CONVEYOR_TEST_DATABASE_URL (PostgreSQL) and Debian's redis-server; skipped otherwise.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conveyor.extensions import db
from conveyor.jobs import run_due
from conveyor.models import Notification, OutboxMessage
from conveyor.testing import TEST_DB_ENV, free_port, token_headers

pytestmark = pytest.mark.postgres
CREATES, UPDATES, READS = 240, 120, 120

RECORDER = '''
from conveyor import hookimpl, notify

class Recorder:
    """Leaves one notification per tracked customer event: a duplicate delivery shows twice."""

    @hookimpl
    def track_event(self, event):
        if event.name in ("CustomerCreated", "CustomerUpdated"):
            notify(event.by.id, f"{event.name} {event.customer.id} {event.customer.name}")
'''

WORKER = '''
import sys
from flask.cli import FlaskGroup
from conveyor import create_app
from conveyor.cli import add_core_commands
import jobs_recorder

cli = FlaskGroup(create_app=lambda: create_app(extra_plugins=[("recorder",
                 jobs_recorder.Recorder())]), add_default_commands=False)
add_core_commands(cli)
cli.main(["worker", "--name", sys.argv[1]])
'''


def wait_http(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    raise RuntimeError("gunicorn did not start")


def request(port: int, method: str, path: str, headers: dict, body: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={**headers, "Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def test_two_web_instances_and_two_workers_deliver_every_row_once(make_app, redis_server,
                                                                  tmp_path: Path):
    url = os.environ.get(TEST_DB_ENV, "")
    if not url.startswith("postgresql"):
        pytest.skip("needs CONVEYOR_TEST_DATABASE_URL=postgresql+psycopg://...")
    (tmp_path / "jobs_recorder.py").write_text(RECORDER)
    (tmp_path / "worker.py").write_text(textwrap.dedent(WORKER))
    # The web runs the same plugins as the workers, as a deployment does: a write's events are
    # kept for delivery only when some tracker of the app takes them.
    (tmp_path / "web_app.py").write_text(
        "from conveyor import create_app\nimport jobs_recorder\n"
        "app = create_app(extra_plugins=[('recorder', jobs_recorder.Recorder())])\n")
    app = make_app(plugins=["leads"], config={"redis_url": redis_server.url})
    headers = token_headers(app, "seller")
    env = {**os.environ, "CONVEYOR_DATABASE_URL": url, "CONVEYOR_PLUGINS": "leads",
           "CONVEYOR_SECRET_KEY": "test", "CONVEYOR_REDIS_URL": redis_server.url,
           "CONVEYOR_INSTANCE_PATH": str(tmp_path / "instance"),
           "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    procs: list[subprocess.Popen] = []
    ports = [free_port(), free_port()]
    try:
        for port in ports:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--no-control-socket", "-w", "2",
                 "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                 "web_app:app"], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for name in ("w1", "w2"):
            procs.append(subprocess.Popen([sys.executable, str(tmp_path / "worker.py"), name],
                                          env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        for port, proc in zip(ports, procs, strict=False):
            wait_http(port, proc)

        def create(i: int) -> tuple[int, int]:
            status, body = request(ports[i % 2], "POST", "/api/v1/customers", headers,
                                   {"name": f"Load {i}"})
            return status, body["id"] if status == 201 else 0

        with ThreadPoolExecutor(8) as pool:
            created = list(pool.map(create, range(CREATES)))
            assert {s for s, _ in created} == {201}
            ids = [i for _, i in created]

            def mixed(i: int) -> int:
                if i % 2:
                    return request(ports[i % 2], "PATCH", f"/api/v1/customers/{ids[i]}",
                                   headers, {"name": f"Renamed {i}"})[0]
                return request(ports[i % 2], "GET", "/api/v1/customers?page_size=20",
                               headers)[0]

            statuses = list(pool.map(mixed, range(UPDATES + READS)))
        assert set(statuses) == {200}
        end = time.monotonic() + 120
        while time.monotonic() < end:
            with app.app_context():
                left = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                         .where(OutboxMessage.status != "done"))
                db.session.rollback()
            if not left:
                break
            run_due(app)  # the scheduler's relay
            time.sleep(0.5)
        with app.app_context():
            rows = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                     .where(OutboxMessage.job == "core.track_events",
                                            OutboxMessage.status == "done"))
            seen = db.session.execute(select(Notification.message, func.count())
                                      .group_by(Notification.message)).all()
        assert rows == CREATES + UPDATES  # one row per committed write, none lost
        assert len(seen) == CREATES + UPDATES and {n for _, n in seen} == {1}  # none twice
    finally:
        for n, proc in enumerate(procs):  # gunicorn: quick shutdown; workers: the data is kept
            if proc.poll() is None:
                proc.send_signal(signal.SIGQUIT if n < len(ports) else signal.SIGKILL)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
