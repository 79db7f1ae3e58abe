"""RQ on Redis behind :mod:`conveyor.jobs`: the outbox stays the truth, Redis only carries the
"run outbox row N" signal to the workers.

After a commit the new rows' ids are pushed as RQ jobs (job id ``outbox-<id>``) that call
:func:`run_message` in a worker, which runs :func:`conveyor.jobs.deliver` — the same claim, run,
mark-done path as the in-process delivery. A push that fails (Redis down, a timeout) is only
logged: the row stays ``pending`` and the scheduler's relay (:func:`conveyor.jobs.run_due`)
pushes it again once Redis answers. The relay skips rows whose RQ job is still waiting in the
queue, so a backlog is not pushed twice; a duplicate push that slips through is harmless, since
:func:`~conveyor.jobs.deliver` claims a row atomically and skips a row that is not pending.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from flask import Flask

log = logging.getLogger("conveyor.jobs.rq")
QUEUE = "conveyor"
WAITING = {"queued", "deferred", "scheduled"}
RETRY_AFTER_FAILURE = 2.0  # seconds a failed push keeps later pushes from waiting on Redis

_worker_app: Flask | None = None
_worker_lock = threading.Lock()


def job_id(message_id: int) -> str:
    """The RQ job id of outbox row ``message_id``: one id per row, so RQ holds a row once."""
    return f"outbox-{message_id}"


class RQBackend:
    """Hands committed outbox rows to RQ; set as ``app.extensions["conveyor_jobs_backend"]``."""

    def __init__(self, url: str, queue: str = QUEUE) -> None:
        from redis import Redis
        from rq import Queue

        self.url = url
        # Short timeouts: a push happens in the request that committed, and Redis being away
        # must cost that request little (the outbox holds the work meanwhile).
        self.redis = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2,
                                    health_check_interval=30)
        self.queue = Queue(queue, connection=self.redis)
        self._down_until = 0.0
        self.requeue_after = 30.0  # seconds; see _not_waiting

    def push(self, app: Flask, ids: Iterable[int], *, relay: bool = False) -> int:
        """Enqueue one RQ job per id; returns how many were pushed. Never raises: on a Redis
        error the rows stay pending for the relay. With ``relay`` (rows found by
        :func:`~conveyor.jobs.run_due`), rows whose job is still waiting in RQ are left there."""
        from redis.exceptions import RedisError

        ids = list(ids)
        if not ids:
            return 0
        if time.monotonic() < self._down_until:
            log.warning("Redis unreachable: %d outbox rows left for the relay", len(ids))
            return 0
        try:
            if relay:
                ids = self._not_waiting(ids)
            if not ids:
                return 0
            timeout = self._timeouts(app)
            with self.redis.pipeline() as pipe:
                self.queue.enqueue_many(
                    [self.queue.prepare_data(
                        "conveyor.rq_backend.run_message", args=(message_id,),
                        job_id=job_id(message_id), timeout=timeout, result_ttl=60,
                        failure_ttl=24 * 3600, description=f"outbox {message_id}")
                     for message_id in ids], pipeline=pipe)
                pipe.execute()
            self._down_until = 0.0
            return len(ids)
        except Exception as exc:  # noqa: BLE001 - never fail the commit's caller; relay later
            if isinstance(exc, RedisError):
                self._down_until = time.monotonic() + RETRY_AFTER_FAILURE
            log.warning("could not hand %d outbox rows to Redis (%s); the relay will",
                        len(ids), exc, exc_info=not isinstance(exc, RedisError))
            return 0

    def _not_waiting(self, ids: list[int]) -> list[int]:
        """The ids whose RQ job is not waiting in the queue. A job marked ``queued`` for longer
        than ``requeue_after`` is looked up in the queue itself: a worker killed between taking
        it and marking it started leaves it ``queued`` but gone."""
        with self.redis.pipeline(transaction=False) as pipe:
            for message_id in ids:
                pipe.hmget(f"rq:job:{job_id(message_id)}", "status", "enqueued_at")
            found = pipe.execute()
        push, check = [], []
        now = datetime.now(UTC).replace(tzinfo=None)
        for message_id, (status, enqueued_at) in zip(ids, found, strict=True):
            status = status.decode() if status else None
            if status not in WAITING:
                push.append(message_id)
            elif status == "queued" and enqueued_at and (now - datetime.fromisoformat(
                    enqueued_at.decode().rstrip("Z"))).total_seconds() > self.requeue_after:
                check.append(message_id)
        if check:
            with self.redis.pipeline(transaction=False) as pipe:
                for message_id in check:
                    pipe.lpos(self.queue.key, job_id(message_id))
                positions = pipe.execute()
            push += [m for m, pos in zip(check, positions, strict=True) if pos is None]
        return sorted(push)

    @staticmethod
    def _timeouts(app: Flask) -> int:
        """RQ's own timeout for a job: above the longest claim, so the outbox's claim expiry
        (not RQ killing the job) decides when another worker may take a row over."""
        specs = app.extensions["conveyor"].jobs.values()
        return max([spec.timeout for spec in specs] or [600]) + 60

    def ping(self) -> bool:
        """Whether Redis answers (``/healthz``, ``conveyor jobs ready``)."""
        from redis.exceptions import RedisError

        try:
            return bool(self.redis.ping())
        except RedisError:
            return False

    def workers(self) -> list[Any]:
        """The RQ workers registered on this queue (alive: their heartbeat keys have a TTL)."""
        from rq import Worker

        return list(Worker.all(queue=self.queue))


def backend(app: Flask) -> RQBackend | None:
    """The app's RQ backend, or ``None`` without ``redis_url``."""
    found = app.extensions.get("conveyor_jobs_backend")
    return found if isinstance(found, RQBackend) else None


def init_backend(app: Flask) -> None:
    """Install the RQ backend when ``redis_url`` is set (called by ``create_app``)."""
    url = app.config["CONVEYOR"].get("redis_url") or ""
    if url:
        app.extensions["conveyor_jobs_backend"] = RQBackend(url)


def set_worker_app(app: Flask) -> None:
    """The app :func:`run_message` delivers in (``conveyor worker`` sets its own)."""
    global _worker_app
    _worker_app = app


def _app() -> Flask:
    global _worker_app
    if _worker_app is None:
        with _worker_lock:
            if _worker_app is None:  # a bare `rq worker`: build the app from the environment
                from . import create_app

                _worker_app = create_app()
    return _worker_app


def run_message(message_id: int) -> str:
    """The RQ job: deliver outbox row ``message_id`` in the worker's app (the row's own status
    decides whether anything runs, so a duplicate or stale RQ job is a cheap no-op)."""
    from .jobs import deliver

    return deliver(_app(), message_id)


def worker_name() -> str:
    """host.pid: unique per process, readable in ``conveyor jobs status``."""
    return f"{socket.gethostname()}.{os.getpid()}"
