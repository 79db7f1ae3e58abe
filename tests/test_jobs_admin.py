"""Failed jobs for an admin (page, CLI), /healthz with Redis, and track_event over the outbox."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import func, select

from conveyor import Event, Job, crm, emit, enqueue, hookimpl
from conveyor.extensions import db
from conveyor.jobs import run_due
from conveyor.jobs_cli import jobs_cli, scheduler_command
from conveyor.models import Customer, Notification, OutboxMessage, User
from conveyor.testing import client_as

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
RUNS: list[int] = []


def flaky(n: int) -> None:
    RUNS.append(n)
    if len(RUNS) == 1:
        raise ValueError(f"<b>broken</b> {n}")


class Plugin:
    @hookimpl
    def register_jobs(self):
        return [Job("flakyplug.flaky", flaky, max_attempts=1)]


@pytest.fixture
def fapp(make_app):
    RUNS.clear()
    app = make_app(extra_plugins=[("flakyplug", Plugin())])
    with app.app_context():
        enqueue("flakyplug.flaky", n=5)
        db.session.commit()  # runs at once in tests, fails, and has no attempt left
    return app


def failed(app) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(OutboxMessage.id)
                                       .where(OutboxMessage.status == "failed")))


def post(client, url):
    token = CSRF.search(client.get("/profile/").get_data(as_text=True)).group(1)
    return client.post(url, data={"csrf_token": token})


def test_the_admin_sees_failed_jobs_with_their_error_escaped_and_runs_one_again(fapp):
    [message_id] = failed(fapp)
    admin = client_as(fapp, "admin")
    page = admin.get("/admin/jobs").get_data(as_text=True)
    assert f'data-job="{message_id}"' in page and "flakyplug.flaky" in page
    assert "ValueError: &lt;b&gt;broken&lt;/b&gt; 5" in page
    assert 'data-section="admin.jobs"' in admin.get("/admin/").get_data(as_text=True)
    response = post(admin, f"/admin/jobs/{message_id}/retry")
    assert response.status_code == 302
    assert RUNS == [5, 5] and failed(fapp) == []
    assert post(admin, f"/admin/jobs/{message_id}/retry").status_code == 404  # not failed now


def test_retrying_needs_the_csrf_token_and_the_admin_permission(fapp):
    [message_id] = failed(fapp)
    admin = client_as(fapp, "admin")
    assert admin.post(f"/admin/jobs/{message_id}/retry").status_code == 400
    manager = client_as(fapp, "manager")
    assert manager.get("/admin/jobs").status_code == 403
    assert post(manager, f"/admin/jobs/{message_id}/retry").status_code == 403
    assert failed(fapp) == [message_id]


def test_the_jobs_page_is_translated(fapp):
    with fapp.app_context():
        db.session.execute(User.__table__.update().where(User.username == "admin")
                           .values(locale="ru"))
        db.session.commit()
    page = client_as(fapp, "admin").get("/admin/jobs").get_data(as_text=True)
    assert "Неудавшиеся фоновые задания" in page and "Запустить снова" in page


def run(app, command, args):
    return CliRunner().invoke(command, args, obj=ScriptInfo(create_app=lambda: app))


def test_jobs_failed_lists_and_jobs_retry_runs_them_again(fapp):
    [message_id] = failed(fapp)
    listed = run(fapp, jobs_cli, ["failed", "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert row["id"] == message_id and row["job"] == "flakyplug.flaky"
    assert "broken" in row["error"]
    assert run(fapp, jobs_cli, ["retry", "999999"]).exit_code != 0
    result = run(fapp, jobs_cli, ["retry", str(message_id)])
    assert result.exit_code == 0 and "Queued again: 1" in result.output
    assert RUNS == [5, 5]
    assert "No failed jobs." in run(fapp, jobs_cli, ["failed"]).output
    status = json.loads(run(fapp, jobs_cli, ["status", "--json"]).output)
    assert status["done"] == 1 and status["failed"] == 0 and status["backend"] == "in-process"


def test_the_scheduler_without_redis_delivers_due_rows_itself(fapp):
    with fapp.app_context():
        db.session.execute(OutboxMessage.__table__.update().values(status="pending"))
        db.session.commit()
    result = run(fapp, scheduler_command, ["--once"])
    assert result.exit_code == 0, result.output
    assert RUNS == [5, 5] and failed(fapp) == []


def test_healthz_reports_redis_and_stays_up_without_it(make_app, redis_server):
    app = make_app(config={"redis_url": redis_server.url})
    client = app.test_client()
    body = client.get("/healthz").get_json()
    assert body["redis"] == "ok" and body["status"] == "ok"
    redis_server.stop()
    response = client.get("/healthz")
    assert response.status_code == 200  # requests still work: the outbox holds the jobs
    assert response.get_json()["redis"].startswith("error") and \
        response.get_json()["status"] == "degraded"
    assert run(app, jobs_cli, ["ready"]).exit_code != 0


def test_jobs_ready_needs_a_live_worker(make_app, redis_server):
    app = make_app(config={"redis_url": redis_server.url})
    result = run(app, jobs_cli, ["ready"])
    assert result.exit_code != 0 and "0 workers alive" in result.output
    assert run(app, jobs_cli, ["ready", "--min-workers", "0"]).exit_code == 0


# --- track_event over the outbox -------------------------------------------------------------


@dataclass
class Pinged(Event):
    customer: object = None
    when: object = None
    changes: dict = None


SEEN: list = []


class Tracker:
    @hookimpl
    def register_events(self):
        return [Pinged]

    @hookimpl
    def track_event(self, event):
        SEEN.append(event)
        if event.name == "CustomerCreated":
            crm.notify(event.by, f"tracked {event.customer.name}")


class Broken:
    @hookimpl
    def track_event(self, event):
        raise RuntimeError("tracker down")


@pytest.fixture
def tapp(make_app):
    SEEN.clear()
    app = make_app(extra_plugins=[("tracker", Tracker())])
    app.config["CONVEYOR_TRACK_INLINE"] = False  # the production path
    return app


def test_a_transactions_events_become_one_outbox_row_in_that_transaction(tapp):
    from datetime import date
    from decimal import Decimal

    with tapp.app_context():
        seller = db.session.scalar(select(User).where(User.username == "seller"))
        customer = crm.create_customer({"name": "Acme"}, seller)
        emit(Pinged(customer=customer, when=date(2026, 1, 2),
                    changes={"amount": (Decimal("1.50"), Decimal("2")), "owner": (None, seller)}))
        db.session.flush()
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        db.session.commit()
    with tapp.app_context():
        job, status, order_key = db.session.execute(select(
            OutboxMessage.job, OutboxMessage.status, OutboxMessage.order_key)).one()
        assert (job, status) == ("core.track_events", "done")
        assert order_key.startswith("track:Customer:")
        assert db.session.scalars(select(Notification.message)).all() == ["tracked Acme"]
    created, pinged = SEEN
    assert created.name == "CustomerCreated" and created.by.username == "seller"
    assert pinged.customer.name == "Acme" and pinged.when == date(2026, 1, 2)
    assert pinged.changes == {"amount": (Decimal("1.50"), Decimal("2")),
                              "owner": (None, pinged.changes["owner"][1])}
    assert pinged.changes["owner"][1].username == "seller"
    assert pinged.at == created.at or pinged.at >= created.at


def test_a_rolled_back_transaction_writes_no_track_row(tapp):
    with tapp.app_context():
        seller = db.session.scalar(select(User).where(User.username == "seller"))
        crm.create_customer({"name": "Ghost"}, seller)
        db.session.rollback()
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert SEEN == []


def test_without_trackers_no_row_is_written(make_app):
    app = make_app()
    app.config["CONVEYOR_TRACK_INLINE"] = False
    with app.app_context():
        seller = db.session.scalar(select(User).where(User.username == "seller"))
        crm.create_customer({"name": "Quiet"}, seller)
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 1


def test_a_failing_tracker_is_retried_alone_and_the_others_run_once(make_app):
    SEEN.clear()
    app = make_app(extra_plugins=[("tracker", Tracker()), ("broken", Broken())])
    app.config["CONVEYOR_TRACK_INLINE"] = False
    with app.app_context():
        seller = db.session.scalar(select(User).where(User.username == "seller"))
        crm.create_customer({"name": "Acme"}, seller)
        db.session.commit()
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage.status, OutboxMessage.payload)
                                  .order_by(OutboxMessage.id)).all()
        assert [r.status for r in rows] == ["done", "pending"]  # the retry waits its backoff
        assert rows[1].payload["only"] == ["broken"]
        assert db.session.scalars(select(Notification.message)).all() == ["tracked Acme"]
    assert run_due(app) == 0
    assert [e.name for e in SEEN] == ["CustomerCreated"]
