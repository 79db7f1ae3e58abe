"""Reminders: found by the scheduled sweep (never a page load), delivered once even when sweeps
race, in the assignee's language, by e-mail only when they asked for it."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from conveyor import db
from conveyor.jobs import enqueue_schedules, run_due
from conveyor.models import Notification
from conveyor.testing import client_as


@pytest.fixture
def app(make_app, smtp_server):
    return make_app(plugins=["activities"], config=smtp_server.config)


def _notes(app, user_id):
    with app.app_context():
        return list(db.session.scalars(select(Notification.message).where(
            Notification.user_id == user_id).order_by(Notification.id)))


def _soon(minutes: int = 10) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def test_the_scheduled_sweep_reminds_in_app_and_by_mail_in_the_users_language(
        app, smtp_server, users, make_activity, set_user):
    set_user("seller", locale="ru", email_notifications=True, timezone="Europe/Moscow")
    make_activity("seller", title="Позвонить в Волга Трейд", due_at=_soon(10))  # default 15 min
    assert _notes(app, users["seller"]) == []
    enqueue_schedules(app)
    notes = _notes(app, users["seller"])
    assert len(notes) == 1 and notes[0].startswith("Напоминание: Позвонить в Волга Трейд")
    assert "(Europe/Moscow)" in notes[0]
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    # Python's e-mail folding may drop a space between two encoded words of a long subject (a
    # known quirk of the standard library's header folding), hence the comparison without spaces.
    assert message["Subject"].replace(" ", "") == "Напоминание:ПозвонитьвВолгаТрейд"
    assert message["To"].addresses[0].addr_spec == "seller@example.test"
    assert "Срок:" in message.get_content()


def test_no_email_without_the_users_consent(app, smtp_server, users, make_activity, set_user):
    set_user("seller", email_notifications=False)
    make_activity("seller", title="Call", due_at=_soon(5))
    enqueue_schedules(app)
    assert len(_notes(app, users["seller"])) == 1
    assert smtp_server.messages == []


def test_each_reminder_is_sent_once_even_when_two_sweeps_find_it(app, smtp_server, users,
                                                                 make_activity, set_user,
                                                                 api_headers):
    from conveyor.plugins.activities.models import Activity
    from conveyor.plugins.activities.reminders import queue_reminders

    set_user("seller", email_notifications=True)
    activity_id = make_activity("seller", title="Call", due_at=_soon(5))
    enqueue_schedules(app)
    # A second worker that read the row before the first one cleared it: its claim finds the
    # reminder taken and queues nothing.
    with app.app_context():
        assert queue_reminders([activity_id], datetime.now(UTC)) == 0
        db.session.commit()
    # Editing the task (not its time) does not arm the sent reminder again.
    app.test_client().patch(f"/api/v1/activities/{activity_id}", headers=api_headers("seller"),
                            json={"title": "Call back"})
    with app.app_context():
        assert db.session.scalar(select(Activity.remind_at).where(
            Activity.id == activity_id)) is None
    enqueue_schedules(app, datetime.now(UTC) + timedelta(minutes=3))  # the next period
    run_due(app)
    assert len(_notes(app, users["seller"])) == 1
    assert len(smtp_server.messages) == 1


def test_a_page_load_never_sends_a_reminder(app, users, make_activity):
    make_activity("seller", title="Call", due_at=_soon(5))
    client = client_as(app, "seller")
    for url in ("/", "/activities/", "/activities/calendar"):
        assert client.get(url).status_code == 200
    assert _notes(app, users["seller"]) == []


def test_a_closed_or_moved_task_is_not_reminded_at_its_old_time(app, users, make_activity,
                                                               api_headers):
    done = make_activity("seller", title="Done already", due_at=_soon(5))
    moved = make_activity("seller", title="Moved", due_at=_soon(5))
    client, headers = app.test_client(), api_headers("seller")
    client.post(f"/api/v1/activities/{done}/done", headers=headers, json={})
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    client.patch(f"/api/v1/activities/{moved}", headers=headers, json={"due_at": later})
    enqueue_schedules(app)
    assert _notes(app, users["seller"]) == []
    with app.app_context():
        from conveyor.plugins.activities.models import Activity

        remind_at = db.session.scalar(select(Activity.remind_at).where(Activity.id == moved))
        assert remind_at == datetime.fromisoformat(later) - timedelta(minutes=15)


def test_the_sweep_takes_one_statement_per_batch_whatever_the_table_size(
        app, make_activity, count_queries):
    from conveyor.plugins.activities.reminders import sweep_reminders

    for i in range(30):
        make_activity("seller", title=f"Later {i}", due_at=_soon(600 + i))
    with app.app_context(), count_queries() as queries:
        assert sweep_reminders() == 0
    assert len(queries) == 1


@pytest.mark.parametrize("due", [1, 12])
def test_a_sweep_queues_any_number_of_due_reminders_in_two_statements(
        app, users, make_activity, count_queries, due):
    """Find and claim (one UPDATE … RETURNING over the remind_at index), queue (one outbox
    row): the same two statements for 1 or 12 due reminders; each is then delivered."""
    from conveyor.models import OutboxMessage
    from conveyor.plugins.activities.reminders import REMIND_MANY_JOB, sweep_reminders

    for i in range(due):
        make_activity("seller", title=f"Soon {i}", due_at=_soon(2 + i))
    make_activity("seller", title="Later", due_at=_soon(600))
    app.config["CONVEYOR_TRACK_INLINE"] = True
    with app.app_context():
        with count_queries() as queries:
            assert sweep_reminders() == due
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.job == REMIND_MANY_JOB)) == 1
    assert len(queries) == 2, queries
    assert len(_notes(app, users["seller"])) == due


def test_a_reminder_set_to_none_is_never_sent(app, users, make_activity):
    make_activity("seller", title="Quiet", due_at=_soon(5), reminder_minutes=-1)
    enqueue_schedules(app)
    assert _notes(app, users["seller"]) == []
    with app.app_context():
        from conveyor.plugins.activities.models import Activity

        assert db.session.scalar(select(func.count()).select_from(Activity).where(
            Activity.remind_at.is_not(None))) == 0
