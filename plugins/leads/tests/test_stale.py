"""The sweep (`conveyor leads reassign-stale`): unassigned leads get an owner, leads their owner
did not follow up within leads.stale_days go to another seller; idempotent, both owners told."""
from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select, update

from conveyor import db
from conveyor.models import Notification, User
from conveyor.plugins.leads.assignment import sweep
from conveyor.plugins.leads.models import Lead, LeadAssignment
from conveyor.plugins.leads.services import add_activity, change_status, create_lead
from conveyor.types import utcnow


def age(app, lead_id, days):
    """Pretend the lead was assigned (and last followed up) ``days`` ago."""
    with app.app_context():
        past = utcnow() - timedelta(days=days)
        db.session.execute(update(Lead).where(Lead.id == lead_id).values(
            assigned_at=past, created_at=past, last_activity_at=None))
        db.session.commit()


def notes_for(app, user_id):
    with app.app_context():
        return list(db.session.scalars(select(Notification.message).where(
            Notification.user_id == user_id).order_by(Notification.id)))


def test_stale_lead_is_reassigned_once_and_both_owners_are_notified(app, make_rule, users):
    make_rule("RR", ["seller", "seller2"])
    with app.app_context():
        lead_id = create_lead({"email": "s@x.co", "company": "Stale Co"}, source="web").id
        db.session.commit()
    age(app, lead_id, 8)
    with app.app_context():
        before = len(notes_for(app, users["seller"]))
        first = sweep()
        second = sweep()
        lead = db.session.get(Lead, lead_id)
        assert (first.reassigned, second.reassigned) == (1, 0)
        assert lead.owner_id == users["seller2"]
        [row] = db.session.scalars(select(LeadAssignment).where(
            LeadAssignment.reason == "stale"))
        assert row.previous_owner_id == users["seller"] and "7 days" in row.detail
    assert len(notes_for(app, users["seller"])) == before + 1
    assert "reassigned" in notes_for(app, users["seller"])[-1]
    assert "yours now" in notes_for(app, users["seller2"])[-1]


def test_follow_up_by_the_owner_keeps_the_lead(app, make_rule, users):
    make_rule("RR", ["seller", "seller2"])
    with app.app_context():
        lead_id = create_lead({"email": "f@x.co"}, source="web").id
        db.session.commit()
    age(app, lead_id, 10)
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        add_activity(lead, "call", "Spoke to them", by=db.session.get(User, users["seller"]))
        db.session.commit()
        assert sweep().reassigned == 0
        assert db.session.get(Lead, lead_id).owner_id == users["seller"]


def test_activity_by_someone_else_is_not_a_follow_up(app, make_rule, users):
    make_rule("RR", ["seller", "seller2"])
    with app.app_context():
        lead_id = create_lead({"email": "o@x.co"}, source="web").id
        db.session.commit()
    age(app, lead_id, 10)
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        add_activity(lead, "note", "Manager asks: any news?",
                     by=db.session.get(User, users["manager"]))
        db.session.commit()
        assert sweep().reassigned == 1


def test_status_change_by_the_owner_is_a_follow_up(app, make_rule, users):
    make_rule("RR", ["seller", "seller2"])
    with app.app_context():
        lead_id = create_lead({"email": "q@x.co"}, source="web").id
        db.session.commit()
    age(app, lead_id, 10)
    with app.app_context():
        change_status(db.session.get(Lead, lead_id), "in_progress",
                      by=db.session.get(User, users["seller"]))
        db.session.commit()
        assert sweep().reassigned == 0


def test_closed_leads_are_left_alone(app, make_rule, users):
    make_rule("RR", ["seller", "seller2"])
    with app.app_context():
        lead = create_lead({"email": "c@x.co"}, source="web")
        change_status(lead, "disqualified", by=db.session.get(User, users["seller"]),
                      reason="no budget")
        db.session.commit()
        lead_id = lead.id
    age(app, lead_id, 30)
    with app.app_context():
        assert sweep().reassigned == 0


def test_a_crash_between_commit_and_assignment_is_repaired_by_the_sweep(app, make_rule, users):
    """A lead stored without an owner (the process died before assigning, or the rule failed)
    is assigned by the next sweep, exactly once."""
    with app.app_context():
        lead_id = create_lead({"email": "crash@x.co"}, source="web", assign=False).id
        db.session.commit()
    make_rule("RR", ["seller2"])
    with app.app_context():
        result = sweep()
        assert result.assigned == 1 and sweep().assigned == 0
        assert db.session.get(Lead, lead_id).owner_id == users["seller2"]
        assert db.session.scalar(select(func.count()).select_from(LeadAssignment)) == 1
    assert "yours now" in notes_for(app, users["seller2"])[-1]


def test_no_other_seller_leaves_the_lead_and_says_so(app, make_rule, users):
    make_rule("Solo", ["seller"])
    with app.app_context():
        lead_id = create_lead({"email": "solo@x.co"}, source="web").id
        db.session.commit()
    age(app, lead_id, 9)
    with app.app_context():
        result = sweep()
        assert (result.reassigned, result.no_other_seller) == (0, 1)


def test_cli_command_reports_and_is_idempotent(app, make_rule, users):
    make_rule("RR", ["seller", "seller2"])
    with app.app_context():
        lead_id = create_lead({"email": "cli@x.co"}, source="web").id
        unassigned = create_lead({"email": "u@x.co"}, source="web", assign=False).id
        db.session.commit()
    age(app, lead_id, 8)
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["leads", "reassign-stale", "--dry-run"])
    assert "stale leads would be reassigned: 1" in dry.output
    first = runner.invoke(args=["leads", "reassign-stale"])
    assert first.exit_code == 0, first.output
    assert "stale leads reassigned: 1" in first.output
    assert "unassigned leads assigned: 1" in first.output
    again = runner.invoke(args=["leads", "reassign-stale"])
    assert "stale leads reassigned: 0" in again.output
    assert "unassigned leads assigned: 0" in again.output
    with app.app_context():
        assert db.session.get(Lead, unassigned).owner_id is not None


def test_concurrent_sweeps_assign_each_lead_once(app, make_rule, users):
    """Two sweeps at once (cron overlap): every lead ends with exactly one assignment row."""
    import threading

    make_rule("RR", ["seller", "seller2", "seller3"])
    with app.app_context():
        for i in range(12):
            create_lead({"email": f"c{i}@x.co"}, source="web", assign=False)
        db.session.commit()
    barrier = threading.Barrier(2)

    def run() -> None:
        with app.app_context():
            barrier.wait()
            sweep()
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with app.app_context():
        counts = db.session.execute(select(LeadAssignment.lead_id, func.count())
                                    .group_by(LeadAssignment.lead_id)).all()
        assert len(counts) == 12 and all(c == 1 for _, c in counts)
        assert db.session.scalar(select(func.count()).select_from(Lead)
                                 .where(Lead.owner_id.is_(None))) == 0


def test_external_intake_worker_command(app, client, make_rule, make_form, users):
    """With leads.intake = "external" web processes only store; `conveyor leads intake`
    (the worker, or its --watch loop) finishes the captures."""
    make_form(rule_id=make_rule("RR", ["seller3"]))
    settings = app.extensions["conveyor"].settings
    settings["leads.process_inline"], settings["leads.intake"] = False, "external"
    assert client.post("/public/leads/website", json={"email": "ext@x.co"}).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Lead.owner_id)) is None
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["leads", "intake"])
    assert "captures finished: 1" in result.output, result.output
    with app.app_context():
        assert db.session.scalar(select(Lead.owner_id)) == users["seller3"]


def test_the_watching_worker_lingers_then_finishes_a_burst_in_one_batch(
        app, client, make_rule, make_form, users, monkeypatch):
    """`intake --watch`: once captures wait, it lets more arrive for --linger seconds, then
    takes them together (one claim), and stops cleanly."""
    import threading

    from conveyor.plugins.leads import intake

    make_form(rule_id=make_rule("RR", ["seller3"]))
    settings = app.extensions["conveyor"].settings
    settings["leads.process_inline"], settings["leads.intake"] = False, "external"
    batches: list[int] = []
    real = intake.process_pending
    monkeypatch.setattr(intake, "process_pending",
                        lambda limit=intake.BATCH: batches.append(real(limit)) or batches[-1])
    stop = threading.Event()

    def worker() -> None:
        with app.app_context():
            intake.watch(interval=0.05, stop=stop, linger=0.6)

    assert client.post("/public/leads/website", json={"email": "first@x.co"}).status_code == 200
    thread = threading.Thread(target=worker)
    thread.start()
    try:
        for i in range(4):  # arriving while the worker lingers
            assert client.post("/public/leads/website",
                               json={"email": f"later{i}@x.co"}).status_code == 200
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with app.app_context():
                left = db.session.scalar(select(func.count()).select_from(Lead)
                                         .where(Lead.owner_id.is_(None)))
                db.session.remove()
            if not left:
                break
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive() and left == 0
    assert batches[0] == 5  # all five in the first batch


def test_the_worker_waits_for_a_burst_to_quiet_but_never_longer_than_max_wait(monkeypatch):
    import threading

    from conveyor.plugins.leads import intake

    arriving = iter(range(10, 10_000, 10))  # a burst that never ends
    monkeypatch.setattr(intake, "_pending_count", lambda: next(arriving))
    start = time.monotonic()
    intake._settle(5, threading.Event(), linger=0.05, max_wait=0.4)
    assert 0.35 <= time.monotonic() - start < 2

    monkeypatch.setattr(intake, "_pending_count", lambda: 5)  # nothing new: one linger
    start = time.monotonic()
    intake._settle(5, threading.Event(), linger=0.05, max_wait=10)
    assert time.monotonic() - start < 1


def test_a_seller_is_told_in_their_own_language_whoever_caused_it(
        app, client, make_rule, make_form, users):
    """The intake runs without a visitor's language; the manager may use another one. The
    notification is written in the recipient's setting."""
    make_form(rule_id=make_rule("RR", ["seller3"]))
    settings = app.extensions["conveyor"].settings
    settings["leads.process_inline"], settings["leads.intake"] = False, "external"
    with app.app_context():
        db.session.get(User, users["seller3"]).locale = "ru"
        db.session.commit()
    assert client.post("/public/leads/website", json={"email": "ru@x.co"},
                       headers={"Accept-Language": "zh-CN"}).status_code == 200
    app.test_cli_runner().invoke(args=["leads", "intake"])
    with app.app_context():
        message = db.session.scalar(select(Notification.message)
                                    .where(Notification.user_id == users["seller3"]))
    assert message == "Лид ru@x.co теперь ваш (по правилам)."


def test_finishing_takes_the_captures_waiting_then_not_a_burst_still_coming(
        app, client, make_rule, make_form, monkeypatch):
    import threading

    from conveyor.plugins.leads import intake

    make_form(rule_id=make_rule("RR", ["seller3"]))
    settings = app.extensions["conveyor"].settings
    settings["leads.process_inline"], settings["leads.intake"] = False, "external"
    for i in range(3):
        assert client.post("/public/leads/website", json={"email": f"w{i}@x.co"}).status_code == 200
    real, arrivals = intake.process_pending, iter(range(100))

    def batch_then_more_arrive(limit=intake.BATCH):
        taken = real(limit)
        for _ in range(2):  # the burst goes on while the intake works
            assert client.post("/public/leads/website",
                               json={"email": f"late{next(arrivals)}@x.co"}).status_code == 200
        return taken

    monkeypatch.setattr(intake, "process_pending", batch_then_more_arrive)
    with app.app_context():
        assert intake.finish_waiting(2, threading.Event()) == 3
        assert intake._pending_count() == 4  # the late ones wait for their burst to end
        db.session.remove()


def test_the_threshold_at_its_edge(app, make_rule, users):
    """With 7 days: idle 7 days + 1 hour is stale, 7 days - 1 hour is not, whichever of the
    assignment or the last follow-up is the later one."""
    make_rule("RR", ["seller", "seller2"])
    with app.app_context():
        ids = [create_lead({"email": f"edge{i}@x.co"}, source="web").id for i in range(3)]
        db.session.commit()
        now = utcnow()
        db.session.execute(update(Lead).where(Lead.id == ids[0]).values(
            assigned_at=now - timedelta(days=7, hours=1), last_activity_at=None))
        db.session.execute(update(Lead).where(Lead.id == ids[1]).values(
            assigned_at=now - timedelta(days=7) + timedelta(hours=1), last_activity_at=None))
        db.session.execute(update(Lead).where(Lead.id == ids[2]).values(  # followed up late
            assigned_at=now - timedelta(days=30),
            last_activity_at=now - timedelta(days=7) + timedelta(hours=1)))
        db.session.commit()
        owners = {i: db.session.get(Lead, i).owner_id for i in ids}
        assert sweep().reassigned == 1
        db.session.expire_all()
        after = {i: db.session.get(Lead, i).owner_id for i in ids}
    assert after[ids[0]] != owners[ids[0]]
    assert after[ids[1]] == owners[ids[1]] and after[ids[2]] == owners[ids[2]]
