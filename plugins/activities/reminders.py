"""Reminders, delivered by the core's scheduled jobs, never by a page load.

``activities.sweep_reminders`` runs on a schedule (every ``activities.sweep_minutes``): one
indexed statement, ``UPDATE … SET remind_at = NULL WHERE id IN (<the due ones, by the
remind_at index>) AND remind_at <= now RETURNING``, finds and claims the activities whose
reminder has come, and one ``activities.remind_many`` job is queued for those it claimed — two
statements and the commit for a batch of any size, one when nothing is due. Two sweeps racing on
several workers claim each reminder once: the second one's UPDATE finds ``remind_at`` cleared
(PostgreSQL re-checks the condition on the row after the first one's commit; SQLite has one
writer). A task moved to another time gets a new reminder for
its new time; other edits do not arm it again (``services.update_activity``).
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template
from flask_babel import format_datetime
from sqlalchemy import bindparam, select, update

from conveyor import db, enqueue, notify, send_mail
from conveyor.i18n import _l
from conveyor.models import User
from conveyor.queries import written_limit
from conveyor.types import utcnow

from .models import Activity
from .zones import zone_name

SWEEP_BATCH = 500
SWEEP_JOB = "activities.sweep_reminders"
REMIND_JOB = "activities.remind"
REMIND_MANY_JOB = "activities.remind_many"
# A reminder more than this late (the scheduler was down for a day) is dropped, not sent.
STALE_AFTER = timedelta(hours=12)


def due_reminders_statement(now: Any, limit: int = SWEEP_BATCH) -> Any:
    """The one indexed statement that finds the due reminders (``ix_..._remind_at``)."""
    return (select(Activity.id, Activity.due_at).where(Activity.remind_at <= now)
            .order_by(Activity.remind_at).limit(written_limit(limit)))


def reminder_key(activity_id: int, due_at: datetime) -> str:
    """The e-mail's idempotency key: one reminder mail per activity and due time."""
    return f"activities.remind:{activity_id}:{due_at.strftime('%Y%m%dT%H%M%SZ')}"


def sweep_reminders(now: str | None = None) -> int:
    """The sweep job: claim the due reminders and queue one job for them, a batch at a time;
    returns how many were queued. With nothing due it costs the one indexed statement."""
    moment = datetime.fromisoformat(now) if now else utcnow()
    total = 0
    while True:
        found = _queue(db.session.connection().execute(_claim_due(), {"moment": moment}).all())
        total += found
        if found < SWEEP_BATCH:
            return total


@cache
def _claim_due() -> Any:
    """``UPDATE … SET remind_at = NULL WHERE id IN (<the due ones, by the remind_at index>)
    AND remind_at <= :moment RETURNING id, due_at``, built once per process."""
    due = due_reminders_statement(bindparam("moment")).with_only_columns(Activity.id)
    return (update(Activity).where(Activity.id.in_(due), Activity.remind_at <= bindparam("moment"))
            .values(remind_at=None).returning(Activity.id, Activity.due_at))


def queue_reminders(activity_ids: list[int], moment: datetime) -> int:
    """Claim those of ``activity_ids`` whose reminder is still due and queue them: a sweep
    that read them before another one claimed them claims none."""
    return _queue(db.session.connection().execute(
        update(Activity).where(Activity.id.in_(activity_ids), Activity.remind_at <= moment)
        .values(remind_at=None).returning(Activity.id, Activity.due_at)).all())


def _queue(claimed: list[Any]) -> int:
    """The reminders one ``UPDATE … SET remind_at = NULL … AND remind_at <= moment RETURNING``
    claimed (the condition is checked again on the row itself, so two sweeps never both claim
    one), queued as one ``activities.remind_many`` job when there are any. Run on the
    session's connection: no ORM objects are read or changed."""
    if not claimed:
        return 0
    reminders = sorted([activity_id, due_at.isoformat()] for activity_id, due_at in claimed)
    digest = hashlib.sha256(repr(reminders).encode()).hexdigest()[:32]
    enqueue(REMIND_MANY_JOB, key=f"{REMIND_MANY_JOB}:{digest}", reminders=reminders)
    return len(claimed)


def remind_many(reminders: list[list[Any]]) -> None:
    """The job a sweep queues: :func:`remind` for each ``[activity id, due time]``, in the
    job's one transaction (a failure retries the batch with nothing of it kept)."""
    for activity_id, due_at in reminders:
        remind(int(activity_id), str(due_at))


def remind(activity_id: int, due_at: str) -> None:
    """One reminder (also a job of its own, ``activities.remind``): an in-app notification, and an e-mail when the assignee asked for
    e-mail, both in the assignee's language; nothing when the task was closed or moved since."""
    activity = db.session.get(Activity, activity_id)
    if activity is None or activity.status != "planned":
        return
    if activity.due_at != datetime.fromisoformat(due_at):
        return  # moved after the sweep queued it: its new time has its own reminder
    if utcnow() - activity.due_at > STALE_AFTER:
        return
    user = db.session.get(User, activity.assignee_id)
    if user is None or not user.active:
        return
    url = f"/activities/{activity.id}/edit"
    zone = ZoneInfo(zone_name(user))

    def when() -> str:  # called under the recipient's locale
        local = activity.due_at.astimezone(zone)
        return f"{format_datetime(local, 'short', rebase=False)} ({zone.key})"

    notify(user, _l("Reminder: %(title)s at %(when)s", title=activity.title,
                    when=_LazyWhen(when)), url, "activities.reminder")
    if user.email_notifications and user.email:
        send_mail(user, _l("Reminder: %(title)s", title=activity.title),
                  lambda: render_template("activities/reminder_email.txt", activity=activity,
                                          when=when()),
                  key=f"mail:{reminder_key(activity.id, activity.due_at)}")


class _LazyWhen:
    """Formats the due time when the message is rendered (in the recipient's locale)."""

    def __init__(self, render: Any) -> None:
        self.render = render

    def __str__(self) -> str:
        return str(self.render())
