"""Reliability: concurrent posts to the public endpoint, served by two gunicorn processes on one
PostgreSQL, store exactly one lead each, each assigned exactly once, turns shared fairly.

Needs CONVEYOR_TEST_DATABASE_URL (PostgreSQL); SQLite cannot be shared by two processes the
way production runs. The full-scale figure (1,000 posts) is in bench/bench_leads.py.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from conveyor import db
from conveyor.plugins.leads.models import Lead, LeadAssignment, LeadForm, LeadRule, LeadRuleSeller

pytestmark = pytest.mark.postgres
POSTS = 200
SELLERS = ("seller", "seller2", "seller3")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {proc.stderr.read().decode()[-2000:]}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    raise RuntimeError("gunicorn did not start")


@pytest.fixture
def served(make_app, users, tmp_path):
    url = os.environ.get("CONVEYOR_TEST_DATABASE_URL")
    if not url:
        pytest.skip("needs CONVEYOR_TEST_DATABASE_URL=postgresql+psycopg://...: two app "
                    "processes must share one PostgreSQL")
    app = make_app(plugins=["leads"])  # tables and users exist before the workers fork
    with app.app_context():
        rule = LeadRule(name="Website RR", rr_cursor=0, strategy="round_robin",
                        sellers=[LeadRuleSeller(user_id=users[u]) for u in SELLERS])
        db.session.add(rule)
        db.session.flush()
        db.session.add(LeadForm(key="website", name="Website", source="website",
                                fields=[{"name": "email", "required": True},
                                        {"name": "name"}, {"name": "phone"}],
                                allowed_origins=["https://shop.example.com"], rule_id=rule.id))
        db.session.commit()
    port = free_port()
    env = {**os.environ, "CONVEYOR_DATABASE_URL": url, "CONVEYOR_PLUGINS": "leads",
           "CONVEYOR_SECRET_KEY": "test", "CONVEYOR_LEADS_PUBLIC_RATE_LIMIT": "",
           "CONVEYOR_INSTANCE_PATH": str(tmp_path / "served")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--no-control-socket", "-w", "2",
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "conveyor.app:create_app()"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(port, proc)
        yield app, port
    finally:
        proc.terminate()
        proc.wait(20)
        proc.stderr.close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def post(port: int, i: int) -> int:
    body = json.dumps({"email": f"visitor{i}@example.com", "name": f"Visitor {i}"})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/public/leads/website", body, {
        "Content-Type": "application/json", "Origin": "https://shop.example.com"})
    status = conn.getresponse().status
    conn.close()
    return status


def wait_processed(app, timeout: float = 60) -> None:
    """Each process's intake finishes the captures right after the answers; wait for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            left = db.session.scalar(select(func.count()).select_from(Lead)
                                     .where(Lead.processed_at.is_(None)))
            db.session.remove()
        if not left:
            return
        time.sleep(0.2)
    raise AssertionError(f"{left} captures still unprocessed")


def test_concurrent_posts_to_two_processes_store_and_assign_each_lead_once(served, users):
    app, port = served
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda i: post(port, i), range(POSTS)))
    assert statuses == [200] * POSTS
    with app.app_context():  # stored when answered
        assert db.session.scalar(select(func.count()).select_from(Lead)) == POSTS
        db.session.remove()
    wait_processed(app)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Lead)) == POSTS
        assert db.session.scalar(select(func.count()).select_from(Lead)
                                 .where(Lead.owner_id.is_(None))) == 0
        per_lead = db.session.execute(select(LeadAssignment.lead_id, func.count())
                                      .group_by(LeadAssignment.lead_id)).all()
        assert len(per_lead) == POSTS and {c for _, c in per_lead} == {1}
        per_seller = dict(db.session.execute(select(Lead.owner_id, func.count())
                                             .group_by(Lead.owner_id)).all())
        assert set(per_seller) == {users[u] for u in SELLERS}
        assert max(per_seller.values()) - min(per_seller.values()) <= 1  # atomic turns


def test_identical_posts_racing_across_processes_give_one_lead(served):
    app, port = served
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: post(port, 7), range(16)))
    assert statuses == [200] * 16
    wait_processed(app)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Lead)) == 1
        assert db.session.scalar(select(func.count()).select_from(LeadAssignment)) == 1
