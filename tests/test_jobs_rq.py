"""Jobs on RQ with a real Redis: pushed at the commit, run by `conveyor worker` processes, and
nothing lost when a worker is killed or Redis goes away (the outbox is the truth)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conveyor import enqueue
from conveyor.extensions import db
from conveyor.jobs import run_due
from conveyor.models import Notification, OutboxMessage
from conveyor.testing import TEST_DB_ENV, token_headers

PLUGIN = '''
import time
from conveyor import Job, hookimpl, notify

def effect(n, user_id, pause=0.004):
    notify(user_id, f"job {n}")  # written with the done mark, in one commit
    time.sleep(pause)

class Plugin:
    @hookimpl
    def register_jobs(self):
        # a short claim, so a killed worker's row is taken over within seconds
        return [Job("rqtest.effect", effect, timeout=2, max_attempts=20)]

    @hookimpl
    def track_event(self, event):
        if event.name == "CustomerCreated":
            notify(event.by.id, f"tracked {event.customer.name}")
'''

WORKER = '''
import sys
from flask.cli import FlaskGroup
from conveyor import create_app
from conveyor.cli import add_core_commands
import rqtest_plugin

def make():
    return create_app(config={config!r}, plugins=[],
                      extra_plugins=[("rqtest", rqtest_plugin.Plugin())],
                      instance_path={instance!r})

cli = FlaskGroup(create_app=make, add_default_commands=False)
add_core_commands(cli)
cli.main(["worker", "--name", sys.argv[1]])
'''


@pytest.fixture
def rq_setup(tmp_path: Path, make_app, redis_server, monkeypatch):
    (tmp_path / "rqtest_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    import rqtest_plugin

    config = {"redis_url": redis_server.url, "secret_key": "test", "testing": True,
              "ratelimit_enabled": False, "plugins": [],
              "database_url": os.environ.get(TEST_DB_ENV) or f"sqlite:///{tmp_path}/test-0.db"}
    app = make_app(config=config, extra_plugins=[("rqtest", rqtest_plugin.Plugin())])
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER).format(
        config=config, instance=str(tmp_path / "instance")))
    workers: list[subprocess.Popen] = []
    logs: list = []
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

    def start_worker(name: str) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed at teardown
        logs.append(log)
        proc = subprocess.Popen([sys.executable, str(script), name], env=env,
                                stdout=subprocess.DEVNULL, stderr=log)
        workers.append(proc)
        return proc

    yield app, redis_server, start_worker
    for proc in workers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    for log in logs:
        log.close()


def counts(app) -> dict[str, int]:
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage.status, func.count())
                                  .group_by(OutboxMessage.status)).all()
        db.session.rollback()
    return dict(rows)


def wait_for(condition, timeout: float, relay_app=None) -> bool:
    """Poll ``condition``; relay due rows meanwhile (what `conveyor scheduler` does)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        if relay_app is not None:
            run_due(relay_app)
        time.sleep(0.3)
    return condition()


def test_with_redis_a_commit_pushes_the_job_and_a_worker_runs_it(rq_setup):
    app, redis_server, start_worker = rq_setup
    seller = app.config["TEST_USER_IDS"]["seller"]
    with app.app_context():
        enqueue("rqtest.effect", n=1, user_id=seller)
        db.session.commit()
    backend = app.extensions["conveyor_jobs_backend"]
    assert len(backend.queue) == 1  # handed over at the commit, nothing run in this process
    assert counts(app) == {"pending": 1}
    start_worker("w1")
    assert wait_for(lambda: counts(app) == {"done": 1}, 30)
    with app.app_context():
        assert db.session.scalars(select(Notification.message)).all() == ["job 1"]


def test_an_idle_worker_exits_on_sigterm(rq_setup):
    """A supervisor's SIGTERM (systemd's KillSignal) ends an idle worker instead of starting a
    fresh RQ worker in the same process."""
    app, redis_server, start_worker = rq_setup
    seller = app.config["TEST_USER_IDS"]["seller"]
    worker = start_worker("idle")
    with app.app_context():
        enqueue("rqtest.effect", n=1, user_id=seller)
        db.session.commit()
    assert wait_for(lambda: counts(app) == {"done": 1}, 30)  # up and idle now
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(20) == 0


def test_the_relay_does_not_push_a_row_again_while_it_waits_in_the_queue(rq_setup):
    app, redis_server, _ = rq_setup
    seller = app.config["TEST_USER_IDS"]["seller"]
    with app.app_context():
        for n in range(3):
            enqueue("rqtest.effect", n=n, user_id=seller)
        db.session.commit()
    backend = app.extensions["conveyor_jobs_backend"]
    assert len(backend.queue) == 3
    assert run_due(app) == 0 and run_due(app) == 0
    assert len(backend.queue) == 3


def test_redis_down_at_push_time_leaves_the_row_for_the_relay(rq_setup):
    app, redis_server, start_worker = rq_setup
    seller = app.config["TEST_USER_IDS"]["seller"]
    redis_server.stop()
    started = time.monotonic()
    with app.app_context():
        enqueue("rqtest.effect", n=7, user_id=seller)
        db.session.commit()  # the push fails: logged, not raised
    assert time.monotonic() - started < 3
    assert counts(app) == {"pending": 1}
    redis_server.start()
    app.extensions["conveyor_jobs_backend"]._down_until = 0.0
    start_worker("w1")
    assert wait_for(lambda: counts(app) == {"done": 1}, 30, relay_app=app)


def test_a_worker_killed_mid_burst_loses_nothing_and_runs_nothing_twice(rq_setup):
    """kill -9 one of two workers in the middle of 1,000 jobs: every job ends done once."""
    app, redis_server, start_worker = rq_setup
    seller = app.config["TEST_USER_IDS"]["seller"]
    app.extensions["conveyor_jobs_backend"].requeue_after = 2  # the scheduler's look-up, sooner
    victim, _ = start_worker("victim"), start_worker("survivor")
    with app.app_context():
        for batch in range(10):
            for n in range(batch * 100, batch * 100 + 100):
                enqueue("rqtest.effect", n=n, user_id=seller)
            db.session.commit()
    assert wait_for(lambda: counts(app).get("done", 0) >= 200, 60)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    start_worker("replacement")
    assert wait_for(lambda: counts(app) == {"done": 1000}, 120, relay_app=app), counts(app)
    with app.app_context():
        messages = db.session.execute(select(Notification.message, func.count())
                                      .group_by(Notification.message)).all()
    assert len(messages) == 1000 and {n for _, n in messages} == {1}


def test_requests_keep_succeeding_while_redis_is_down_and_all_is_delivered_after(rq_setup):
    """Redis away for 10 s during a burst of API writes: every write answers 201, and every
    tracked event is delivered once Redis is back."""
    app, redis_server, start_worker = rq_setup
    app.config["CONVEYOR_TRACK_INLINE"] = False  # track_event through the outbox, as in prod
    start_worker("w1")
    backend = app.extensions["conveyor_jobs_backend"]
    assert wait_for(lambda: len(backend.workers()) == 1, 30)  # `conveyor jobs ready` says so
    headers = token_headers(app, "seller")
    client = app.test_client()
    statuses: list[int] = []
    stop = threading.Event()

    def burst() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            response = client.post("/api/v1/customers", json={"name": f"Burst {n}"},
                                   headers=headers)
            statuses.append(response.status_code)
            time.sleep(0.02)

    writer = threading.Thread(target=burst)
    writer.start()
    try:
        time.sleep(1.5)
        redis_server.stop()
        time.sleep(10)
        during = len(statuses)
        redis_server.start()
        time.sleep(1.5)
    finally:
        stop.set()
        writer.join(30)
    assert during > 20 and set(statuses) == {201}, set(statuses)
    total = len(statuses)
    assert wait_for(lambda: counts(app) == {"done": total}, 90, relay_app=app), counts(app)
    with app.app_context():
        tracked = db.session.execute(select(Notification.message, func.count())
                                     .where(Notification.message.like("tracked %"))
                                     .group_by(Notification.message)).all()
    assert len(tracked) == total and {n for _, n in tracked} == {1}
