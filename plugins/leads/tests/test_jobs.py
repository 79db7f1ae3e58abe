"""The leads' scheduled work on the core's jobs: the sweep on its own schedule, the intake as
a job (leads.intake = "job") keeping its batching."""
from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select

from conveyor import db
from conveyor.jobs import deliver_many, enqueue_schedules
from conveyor.models import OutboxMessage
from conveyor.plugins.leads import intake
from conveyor.plugins.leads.models import Lead
from conveyor.types import utcnow


def outbox(app, job):
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage.status).where(
            OutboxMessage.job == job)).scalars().all()
        db.session.remove()
    return rows


def test_the_sweep_runs_on_its_own_schedule_and_a_zero_setting_turns_it_off(
        app, client, make_rule, make_form, users):
    make_form(rule_id=make_rule("RR", ["seller3"]))
    settings = app.extensions["conveyor"].settings
    settings["leads.process_inline"], settings["leads.intake"] = False, "external"
    assert client.post("/public/leads/website", json={"email": "left@x.co"}).status_code == 200
    settings["leads.sweep_minutes"] = 0
    enqueue_schedules(app)
    assert outbox(app, "leads.sweep") == []
    settings["leads.sweep_minutes"] = 30
    now = utcnow().replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 30)  # the start of a half hour: +1 minute stays in it
    enqueue_schedules(app, now)
    enqueue_schedules(app, now + timedelta(minutes=1))  # the same half hour: queued once
    assert outbox(app, "leads.sweep") == ["done"]
    with app.app_context():  # the sweep finished the capture nobody else would have
        assert db.session.scalar(select(Lead.owner_id)) == users["seller3"]
    enqueue_schedules(app, now + timedelta(minutes=31))
    assert outbox(app, "leads.sweep") == ["done", "done"]


class _Queue:
    """A stand-in for the RQ backend: keeps the ids a commit hands over (no worker here)."""

    def __init__(self) -> None:
        self.pushed: list[int] = []

    def push(self, app, ids, relay=False) -> int:
        self.pushed += list(ids)
        return len(ids)


def test_the_intake_as_a_job_finishes_a_burst_in_few_full_batches(app, client, make_rule,
                                                                   make_form, users, monkeypatch):
    make_form(rule_id=make_rule("RR", ["seller3"]))
    settings = app.extensions["conveyor"].settings
    settings["leads.process_inline"], settings["leads.intake"] = False, "job"
    queue = app.extensions["conveyor_jobs_backend"] = _Queue()
    monkeypatch.setattr(intake, "LINGER", 0.2)
    batches: list[int] = []
    real = intake.process_pending
    monkeypatch.setattr(intake, "process_pending",
                        lambda limit=intake.BATCH: batches.append(real(limit)) or batches[-1])
    try:
        for i in range(12):
            assert client.post("/public/leads/website",
                               json={"email": f"burst{i}@x.co"}).status_code == 200
        queued = outbox(app, "leads.intake")
        assert 1 <= len(queued) <= 3 and set(queued) == {"pending"}  # a job per second
        assert len(queue.pushed) == len(queued)  # handed to the workers at once, due now
        deliver_many(app, queue.pushed)  # what the workers do
    finally:
        del app.extensions["conveyor_jobs_backend"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Lead)
                                 .where(Lead.owner_id == users["seller3"])) == 12
    assert sum(batches) == 12 and len([b for b in batches if b]) == 1
    assert set(outbox(app, "leads.intake")) == {"done"}


def test_job_mode_without_a_queue_finishes_captures_in_the_process(app, client, make_rule,
                                                                  make_form, users):
    """Without redis_url no worker would take the job, and run after the response it would hold
    the request worker while it waits for the burst to end: the process's intake thread does
    it instead, and nothing is queued."""
    make_form(rule_id=make_rule("RR", ["seller3"]))
    settings = app.extensions["conveyor"].settings
    settings["leads.process_inline"], settings["leads.intake"] = False, "job"
    try:
        for i in range(3):
            assert client.post("/public/leads/website",
                               json={"email": f"local{i}@x.co"}).status_code == 200
        assert outbox(app, "leads.intake") == []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with app.app_context():
                done = db.session.scalar(select(func.count()).select_from(Lead).where(
                    Lead.owner_id == users["seller3"]))
                db.session.remove()
            if done == 3:
                break
            time.sleep(0.1)
        assert done == 3
    finally:
        worker = app.extensions.get("leads_intake")
        if worker is not None:
            worker.stop()
