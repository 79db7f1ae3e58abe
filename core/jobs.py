"""Background jobs over a transactional outbox.

:func:`enqueue` writes an ``outbox`` row in the caller's transaction; nothing runs unless that
transaction commits, and nothing committed is lost: a row stays ``pending`` until a delivery
marks it ``done`` — in the same transaction as the job's own writes, so a job that touches only
the database takes effect exactly once even when it is delivered twice.

Delivery: after the commit the new rows are handed to the configured backend — RQ on Redis when
``redis_url`` is set (:mod:`conveyor.rq_backend`), otherwise the same process runs them after the
response (inline in tests). :func:`run_due` picks up whatever is pending and due (retries, jobs
queued for later, rows whose hand-over was lost in a crash); the scheduler and the in-process
poller call it.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from flask import Flask, after_this_request, current_app, has_request_context
from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from .contrib import Job, Schedule
from .dialects import dialect_module
from .models.outbox import DONE, FAILED, PENDING, RUNNING, OutboxMessage
from .types import utcnow

log = logging.getLogger("conveyor.jobs")
NEW = "conveyor_outbox_new"
MAX_BACKOFF = timedelta(hours=1)


class JobError(RuntimeError):
    """A job that can't be queued: unknown name or arguments that are not JSON."""


def jobs(app: Flask | None = None) -> dict[str, Job]:
    """The registered jobs of ``app`` (the current app by default), by name."""
    return (app or current_app).extensions["conveyor"].jobs


def enqueue(job: str, *, key: str | None = None, order_key: str | None = None,
            run_at: datetime | None = None, session: Session | None = None,
            **kwargs: Any) -> int | None:
    """Queue ``job`` with keyword arguments ``kwargs`` (JSON values) in the current transaction.

    :param key: idempotency key: when a row with this key exists (delivered or not), nothing is
        written and ``None`` is returned — so a sweep run twice queues each reminder once.
    :param order_key: rows sharing it are delivered one at a time, in the order queued (events
        of one record, say).
    :param run_at: not before this moment (aware datetime); now by default.
    :return: the outbox row's id, or ``None`` for a duplicate ``key``.
    """
    from .extensions import db

    spec = jobs().get(job)
    if spec is None:
        raise JobError(f"unknown job {job!r}: declare it with the register_jobs hook")
    try:
        json.dumps(kwargs)
    except (TypeError, ValueError) as exc:
        raise JobError(f"arguments of job {job!r} are not JSON: {exc}") from exc
    session = session or db.session()
    values = {"job": job, "payload": kwargs, "key": key, "order_key": order_key,
              "status": PENDING, "attempts": 0, "max_attempts": spec.max_attempts,
              "last_error": "", "run_at": run_at or utcnow(), "created_at": utcnow()}
    stmt = _insert_statement(session.get_bind().dialect.name, key is not None)
    new_id = session.execute(stmt, values).scalar()
    if new_id is not None:
        session.info.setdefault(NEW, []).append(new_id)
    return new_id


@lru_cache(maxsize=8)
def _insert_statement(dialect_name: str, keyed: bool) -> Any:
    """The outbox INSERT (skipping a duplicate ``key`` where the database can), built once per
    process and run with each row's values as parameters: building it for every call cost
    more than the INSERT itself (a sweep queueing reminders, an event's delivery row)."""
    table = OutboxMessage.__table__
    dialect = dialect_module(dialect_name)
    if keyed and dialect is not None:
        return dialect.insert(table).on_conflict_do_nothing(
            index_elements=[table.c.key]).returning(table.c.id)
    return insert(table).returning(table.c.id)


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    ids = session.info.pop(NEW, None)
    if not ids:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    backend = app.extensions.get("conveyor_jobs_backend")
    if backend is not None:  # a queue: hand the rows over now (a worker runs them)
        backend.push(app, ids)
        return
    if has_request_context() and not _inline(app):
        def _defer(response: Any) -> Any:
            response.call_on_close(lambda: deliver_many(app, ids))
            return response

        try:
            after_this_request(_defer)
            return
        except (AssertionError, RuntimeError):  # committed after the view returned
            pass
    deliver_many(app, ids)


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(NEW, None)


def _inline(app: Flask) -> bool:
    return bool(app.config.get("CONVEYOR_TRACK_INLINE"))


def deliver_many(app: Flask, ids: Iterable[int]) -> None:
    for message_id in ids:
        deliver(app, message_id)


def backoff(attempts: int) -> timedelta:
    """Wait before retry ``attempts`` + 1: 10 s, 20 s, 40 s … up to an hour."""
    return min(timedelta(seconds=10 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def deliver(app: Flask, message_id: int) -> str:
    """Run one outbox row if it is pending and due: claim it, run its job, mark it done with the
    job's writes in one commit. Returns ``done``, ``retry``, ``failed``, ``deferred`` (an earlier
    row of its ``order_key`` is not delivered yet) or ``skipped`` (not pending, not due, or
    claimed by another worker)."""
    from .extensions import db

    with app.app_context():
        session = db.session
        table = OutboxMessage.__table__
        now = utcnow()
        specs = jobs(app)
        # One statement claims the row and reads it: each job's own claim length by a CASE
        # on its name (a worker per job spends its time in round trips, not in Python).
        message = session.execute(
            update(table).where(table.c.id == message_id, table.c.run_at <= now, or_(
                table.c.status == PENDING,
                and_(table.c.status == RUNNING, table.c.claimed_until < now)))
            .values(status=RUNNING, attempts=table.c.attempts + 1, started_at=now,
                    claimed_until=_claim_until(specs, now))
            .returning(table.c.job, table.c.order_key, table.c.payload, table.c.attempts,
                       table.c.max_attempts)).first()
        session.commit()
        if message is None:
            return "skipped"
        spec = specs.get(message.job)
        if message.order_key is not None and session.scalar(select(table.c.id).where(
                table.c.order_key == message.order_key, table.c.id < message_id,
                table.c.status.in_((PENDING, RUNNING))).limit(1)) is not None:
            session.execute(update(table).where(table.c.id == message_id).values(
                status=PENDING, attempts=table.c.attempts - 1, claimed_until=None,
                run_at=now + timedelta(seconds=1)))
            session.commit()
            return "deferred"
        try:
            if spec is None:
                raise JobError(f"unknown job {message.job!r} (its plugin is not enabled?)")
            spec.func(**(message.payload or {}))
            session.flush()
            marked = session.execute(update(table).where(
                table.c.id == message_id, table.c.status == RUNNING,
                table.c.started_at == now).values(
                status=DONE, done_at=utcnow(), claimed_until=None, last_error="")).rowcount
            if not marked:  # our claim ran out and another worker took the row over
                session.rollback()
                return "skipped"
            session.commit()
            return "done"
        except Exception as exc:  # noqa: BLE001 - recorded on the row, retried or shown
            session.rollback()
            log.exception("job %s (outbox %s) failed, attempt %s", message.job, message_id,
                          message.attempts)
            final = spec is None or message.attempts >= message.max_attempts
            session.execute(update(table).where(table.c.id == message_id).values(
                status=FAILED if final else PENDING, claimed_until=None,
                last_error=f"{type(exc).__name__}: {exc}"[:2000],
                run_at=now if final else utcnow() + backoff(message.attempts)))
            session.commit()
            return "failed" if final else "retry"


def _claim_until(specs: dict[str, Job], now: datetime) -> Any:
    """``now`` plus the claiming job's timeout (600 s for a job no longer declared)."""
    from sqlalchemy import case, literal

    from .types import UTCDateTime

    table = OutboxMessage.__table__
    at = {seconds: literal(now + timedelta(seconds=seconds), UTCDateTime())
          for seconds in {spec.timeout for spec in specs.values()} | {600}}
    by_name = {name: at[spec.timeout] for name, spec in specs.items() if spec.timeout != 600}
    if not by_name:
        return at[600]
    return case(by_name, value=table.c.job, else_=at[600])


def due_ids(session: Session, limit: int = 500) -> list[int]:
    """Rows a delivery should run now: pending and due, or running with a lapsed claim."""
    table = OutboxMessage.__table__
    now = utcnow()
    return list(session.scalars(select(table.c.id).where(or_(
        and_(table.c.status == PENDING, table.c.run_at <= now),
        and_(table.c.status == RUNNING, table.c.claimed_until < now)))
        .order_by(table.c.id).limit(limit)))


def run_due(app: Flask, limit: int = 500) -> int:
    """Deliver (or, with a queue, hand over) the due rows; returns how many were handled."""
    from .extensions import db

    backend = app.extensions.get("conveyor_jobs_backend")
    if backend is not None:
        return relay(app, backend)
    with app.app_context():
        ids = due_ids(db.session, limit)
        db.session.rollback()
    if not ids:
        return 0
    deliver_many(app, ids)
    return len(ids)


def relay(app: Flask, backend: Any, page: int = 1000) -> int:
    """Hand every due row to the queue, page by page (retries whose backoff ran out, jobs
    queued for later, rows whose push failed or whose worker died). Rows still waiting in the
    queue are not pushed again. Returns how many rows were pushed."""
    from .extensions import db

    table = OutboxMessage.__table__
    pushed, after = 0, 0
    with app.app_context():
        while True:
            now = utcnow()
            ids = list(db.session.scalars(select(table.c.id).where(table.c.id > after, or_(
                and_(table.c.status == PENDING, table.c.run_at <= now),
                and_(table.c.status == RUNNING, table.c.claimed_until < now)))
                .order_by(table.c.id).limit(page)))
            db.session.rollback()
            if not ids:
                break
            pushed += backend.push(app, ids, relay=True)
            after = ids[-1]
            if len(ids) < page:
                break
    return pushed


def retry(app: Flask, message_id: int | None = None) -> int:
    """Put failed rows (one, or all) back in the queue with fresh attempts."""
    from .extensions import db

    table = OutboxMessage.__table__
    with app.app_context():
        stmt = update(table).where(table.c.status == FAILED)
        if message_id is not None:
            stmt = stmt.where(table.c.id == message_id)
        count = db.session.execute(stmt.values(status=PENDING, attempts=0,
                                               run_at=utcnow())).rowcount
        db.session.commit()
    return count


def prune_outbox(days: int | None = None) -> int:
    """Delete delivered rows older than the retention setting (failed ones stay for an admin)."""
    from .extensions import db

    keep = days if days is not None else current_app.config["CONVEYOR"]["outbox_retention_days"]
    table = OutboxMessage.__table__
    return db.session.execute(delete(table).where(
        table.c.status == DONE, table.c.done_at < utcnow() - timedelta(days=keep))).rowcount


# --- schedules -------------------------------------------------------------------------------


def schedule_interval(app: Flask, schedule: Schedule) -> timedelta:
    if schedule.setting:
        minutes = app.extensions["conveyor"].settings[schedule.setting]
        return timedelta(minutes=float(minutes))
    if schedule.every is None:
        raise JobError(f"schedule of {schedule.job!r} has neither every nor setting")
    return schedule.every


def enqueue_schedules(app: Flask, now: datetime | None = None) -> int:
    """Queue each schedule's current period once: the key ``schedule:<job>:<period start>``
    makes a second scheduler (or a second call) a no-op. Returns how many rows were written."""
    from .extensions import db

    now = now or utcnow()
    written = 0
    with app.app_context():
        for schedule in app.extensions["conveyor"].schedules:
            seconds = int(schedule_interval(app, schedule).total_seconds())
            if seconds <= 0:  # a setting of 0 turns the schedule off
                continue
            period = int(now.timestamp()) // seconds * seconds
            if enqueue(schedule.job, key=f"schedule:{schedule.job}:{period}",
                       **schedule.kwargs) is not None:
                written += 1
        db.session.commit()
    return written


class Poller:
    """The in-process stand-in for a worker and a scheduler, for ``conveyor demo`` and a laptop
    without Redis: every ``interval`` seconds it queues the schedules' due periods and runs the
    due outbox rows, in a daemon thread."""

    def __init__(self, app: Flask, interval: float = 5.0) -> None:
        self.app, self.interval = app, interval
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="conveyor-jobs", daemon=True)

    def start(self) -> Poller:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                enqueue_schedules(self.app)
                while run_due(self.app) and not self._stop.is_set():
                    pass
            except Exception:  # noqa: BLE001 - the poller must outlive one bad round
                log.exception("jobs poller round failed")
            self._stop.wait(self.interval)


def collect(state: Any, hook: Any) -> None:
    """Gather the plugins' jobs and schedules at start-up (called by ``create_app``)."""
    from .plugin_loading import PluginError

    for impl in hook.register_jobs.get_hookimpls():
        owner = impl.plugin_name
        prefix = "core" if owner.startswith("conveyor.") else owner
        for job in impl.function() or ():
            if not job.name.startswith(prefix + "."):
                raise PluginError(f"plugin {owner!r}: job {job.name!r} must start with "
                                  f"'{prefix}.'")
            if job.name in state.jobs:
                raise PluginError(f"job {job.name!r} is declared twice")
            state.jobs[job.name] = job
    for group in hook.register_schedules():
        for schedule in group or ():
            if schedule.job not in state.jobs:
                raise PluginError(f"schedule for unknown job {schedule.job!r}")
            state.schedules.append(schedule)


def wait_idle(app: Flask, timeout: float = 10.0) -> bool:
    """Run due rows until none is left or ``timeout`` passes (tests, the demo's seeding)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not run_due(app):
            return True
    return False
