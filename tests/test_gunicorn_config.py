"""The gunicorn settings docs/deploy.md gives operators (``conveyor.config.gunicorn``): the app is
preloaded by the master and each forked worker serves from the database with pools of its own."""
from __future__ import annotations

import gc
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

from conveyor.config import gunicorn as settings
from conveyor.extensions import db
from conveyor.testing import free_port, token_headers


def test_post_fork_gives_the_worker_new_pools_without_closing_the_masters(make_app):
    app = make_app()
    with app.app_context():
        engine = db.engine
        with engine.connect() as conn:  # a pooled connection, as a startup hook might leave
            conn.exec_driver_sql("SELECT 1")
        inherited = engine.pool
        assert inherited.checkedin() == 1
        server = types.SimpleNamespace(cfg=types.SimpleNamespace(preload_app=True),
                                       app=types.SimpleNamespace(wsgi=lambda: app))
        settings.post_fork(server, worker=None)
        assert engine.pool is not inherited and engine.pool.checkedin() == 0
        assert inherited.checkedin() == 1  # left open for the master: close=False
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        inherited.dispose()


def test_when_ready_freezes_what_the_master_loaded():
    try:
        settings.when_ready(server=None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_when_ready_reads_the_default_languages_locale_data_in_the_master(make_app):
    from babel import localedata

    app = make_app(config={"default_locale": "ru"})
    assert app.config["BABEL_DEFAULT_LOCALE"] == "ru"
    localedata._cache.pop("ru", None)  # as in a master that has formatted nothing yet
    server = types.SimpleNamespace(cfg=types.SimpleNamespace(preload_app=True),
                                   app=types.SimpleNamespace(wsgi=lambda: app))
    try:
        settings.when_ready(server)
        assert "ru" in localedata._cache  # the workers fork with it: shared, not re-read
        assert localedata._cache["ru"]["languages"]["ru"] == "русский"
    finally:
        gc.unfreeze()


def test_when_ready_configures_the_mappers_before_the_workers_fork(tmp_path: Path):
    # A fresh process: the test session's apps have long configured theirs.
    code = (
        "import types\n"
        "from conveyor.app import create_app\n"
        "from conveyor.config import gunicorn as settings\n"
        "from conveyor.models import Deal\n"
        f"app = create_app(config={{'database_url': 'sqlite:///{tmp_path}/x.db', "
        "'secret_key': 'x', 'plugins': []}, plugins=[])\n"
        "before = Deal.__mapper__.configured\n"
        "server = types.SimpleNamespace(cfg=types.SimpleNamespace(preload_app=True),\n"
        "                               app=types.SimpleNamespace(wsgi=lambda: app))\n"
        "settings.when_ready(server)\n"
        "print(before, Deal.__mapper__.configured)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.stdout.split() == ["False", "True"], out.stderr[-2000:]


def test_gunicorn_with_the_shipped_settings_serves_from_two_workers(make_app, tmp_path: Path):
    app = make_app()
    headers = token_headers(app, "seller")
    port = free_port()
    env = {**os.environ, "CONVEYOR_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "CONVEYOR_PLUGINS": "", "CONVEYOR_SECRET_KEY": "test",
           "CONVEYOR_INSTANCE_PATH": str(tmp_path / "instance")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--no-control-socket", "-c",
         "python:conveyor.config.gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "conveyor.app:create_app()"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        pids, statuses = set(), []
        end = time.monotonic() + 120
        while time.monotonic() < end and (len(pids) < 2 or len(statuses) < 20):
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode()[-3000:])
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("GET", "/api/v1/customers?page_size=5", headers=headers)
                response = conn.getresponse()
                statuses.append(response.status)
                json.loads(response.read())
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
                continue
            finally:
                conn.close()
            pids = {int(p) for p in subprocess.run(
                ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()}
        assert statuses and set(statuses) == {200}
        assert len(pids) == 2  # both workers answered, each on its own pools
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        proc.stderr.close()
