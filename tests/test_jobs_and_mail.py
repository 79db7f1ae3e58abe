"""Background jobs over the outbox, and e-mail through a real SMTP server on 127.0.0.1."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from conveyor import Attachment, Job, enqueue, hookimpl, send_mail
from conveyor.extensions import db
from conveyor.jobs import JobError, backoff, enqueue_schedules, retry, run_due
from conveyor.models import OutboxMessage, User
from conveyor.types import utcnow

CALLS: list[dict] = []


def record(**kwargs):
    CALLS.append(kwargs)
    if kwargs.get("fail"):
        raise RuntimeError("boom")
    if kwargs.get("note_for"):
        from conveyor import notify
        notify(kwargs["note_for"], "from a job")


class JobsPlugin:
    @hookimpl
    def register_jobs(self):
        return [Job("jobsplug.record", record, max_attempts=2)]


@pytest.fixture
def japp(make_app, smtp_server):
    CALLS.clear()
    return make_app(extra_plugins=[("jobsplug", JobsPlugin())], config=smtp_server.config)


def rows(app):
    with app.app_context():
        return db.session.execute(select(OutboxMessage.job, OutboxMessage.status,
                                         OutboxMessage.attempts)
                                  .order_by(OutboxMessage.id)).all()


def test_a_job_runs_only_after_its_transaction_commits(japp):
    with japp.app_context():
        enqueue("jobsplug.record", n=1)
        assert CALLS == []
        db.session.rollback()
        assert CALLS == [] and rows(japp) == []
        enqueue("jobsplug.record", n=2)
        db.session.commit()
    assert CALLS == [{"n": 2}]
    assert rows(japp) == [("jobsplug.record", "done", 1)]


def test_the_core_commits_what_a_job_writes(japp, users):
    with japp.app_context():
        enqueue("jobsplug.record", note_for=users["seller"])
        db.session.commit()
    with japp.app_context():
        from conveyor.models import Notification
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 1


def test_a_failing_job_is_retried_with_backoff_then_recorded_as_failed(japp):
    with japp.app_context():
        enqueue("jobsplug.record", fail=True)
        db.session.commit()
    assert rows(japp) == [("jobsplug.record", "pending", 1)]
    assert run_due(japp) == 0  # not due yet: the backoff holds it
    with japp.app_context():
        db.session.execute(OutboxMessage.__table__.update().values(run_at=utcnow()))
        db.session.commit()
    run_due(japp)
    assert rows(japp) == [("jobsplug.record", "failed", 2)]
    with japp.app_context():
        assert "boom" in db.session.scalar(select(OutboxMessage.last_error))
    assert retry(japp) == 1
    run_due(japp)
    assert len(CALLS) == 3


def test_backoff_grows_and_is_capped():
    assert backoff(1) == timedelta(seconds=10)
    assert backoff(2) == timedelta(seconds=20)
    assert backoff(30) == timedelta(hours=1)


def test_an_idempotency_key_queues_once(japp):
    with japp.app_context():
        assert enqueue("jobsplug.record", key="k1", n=1) is not None
        assert enqueue("jobsplug.record", key="k1", n=2) is None
        db.session.commit()
        assert enqueue("jobsplug.record", key="k1", n=3) is None
        db.session.commit()
    assert CALLS == [{"n": 1}]


def test_a_job_queued_for_later_waits_for_its_time(japp):
    with japp.app_context():
        enqueue("jobsplug.record", run_at=utcnow() + timedelta(hours=1), n=1)
        db.session.commit()
    assert CALLS == [] and run_due(japp) == 0


def test_rows_of_one_order_key_are_delivered_in_order(japp):
    with japp.app_context():
        first = enqueue("jobsplug.record", order_key="deal:1", n=1)
        enqueue("jobsplug.record", order_key="deal:1", n=2)
        db.session.execute(OutboxMessage.__table__.update()
                           .where(OutboxMessage.id == first).values(run_at=utcnow()
                                                                   + timedelta(hours=1)))
        db.session.commit()
    assert CALLS == []  # the second waits for the first
    with japp.app_context():
        db.session.execute(OutboxMessage.__table__.update().values(run_at=utcnow()))
        db.session.commit()
    run_due(japp)
    run_due(japp)
    assert [c["n"] for c in CALLS] == [1, 2]


def test_unknown_jobs_and_non_json_arguments_are_refused_when_queued(japp):
    with japp.app_context():
        with pytest.raises(JobError):
            enqueue("jobsplug.nope")
        with pytest.raises(JobError):
            enqueue("jobsplug.record", when=utcnow())


def test_a_schedule_queues_each_period_once(make_app):
    from conveyor import Schedule

    class Sched:
        @hookimpl
        def register_jobs(self):
            return [Job("sched.record", record)]

        @hookimpl
        def register_schedules(self):
            return [Schedule("sched.record", every=timedelta(minutes=10), kwargs={"s": 1})]

    CALLS.clear()
    app = make_app(extra_plugins=[("sched", Sched())])
    now = utcnow()
    assert enqueue_schedules(app, now) >= 1
    assert enqueue_schedules(app, now) == 0
    assert CALLS.count({"s": 1}) == 1


def test_mail_goes_through_smtp_in_the_recipients_language_with_attachments(japp, smtp_server,
                                                                               users):
    from conveyor.i18n import _l

    with japp.app_context():
        user = db.session.get(User, users["seller"])
        user.locale = "ru"
        send_mail(user, _l("Sign in"), lambda: "plain body", "<p>html body</p>",
                  attachments=[Attachment("a.txt", "text/plain", data=b"hello")])
        db.session.commit()
    assert len(smtp_server.messages) == 1
    msg = smtp_server.messages[0]
    assert msg["To"].addresses[0].addr_spec == "seller@example.test"
    assert msg["Subject"] == "Войти"
    assert msg["Content-Language"] == "ru"
    parts = {p.get_content_type(): p for p in msg.walk()}
    assert parts["text/plain"].get_content().strip() in {"plain body", "hello"}
    assert "html body" in parts["text/html"].get_content()
    attached = [p for p in msg.iter_attachments()]
    assert attached[0].get_filename() == "a.txt" and attached[0].get_content() == "hello"


@pytest.mark.parametrize("subject", [
    "Счёт на оплату INV-2026-000123 от ООО «Конвейер» — напоминание о сроке оплаты по договору",
    "您在商机“仓库现代化改造项目（第二期）”的讨论中被提及 — 请回复 INV-2026-000123 谢谢",
    "A plain English subject long enough to be folded over two lines by the e-mail policy, too",
])
def test_long_subjects_arrive_as_written_with_every_space(japp, smtp_server, subject):
    with japp.app_context():
        send_mail("buyer@customer.test", subject, lambda: "body")
        db.session.commit()
    [msg] = smtp_server.messages
    assert msg["Subject"] == subject
    raw = msg.as_bytes()
    assert max(len(line) for line in raw.split(b"\n")) <= 998


def test_mail_that_cannot_be_sent_is_retried_until_the_server_answers(make_app):
    from conveyor.testing import SmtpServer, free_port, smtp_config

    port = free_port()
    app = make_app(config=smtp_config(port))  # nobody listens on that port yet
    with app.app_context():
        send_mail("someone@example.test", "s", "t")
        db.session.commit()
        status, error = db.session.execute(select(OutboxMessage.status,
                                                  OutboxMessage.last_error)).one()
    assert status == "pending" and error
    up = SmtpServer(port=port).start()
    try:
        with app.app_context():
            db.session.execute(OutboxMessage.__table__.update().values(run_at=utcnow()))
            db.session.commit()
        run_due(app)
        assert len(up.messages) == 1
        assert rows(app)[0][1] == "done"
    finally:
        up.stop()
