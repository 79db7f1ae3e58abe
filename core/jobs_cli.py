"""``conveyor worker``, ``conveyor scheduler`` and ``conveyor jobs …``: running the outbox's
jobs on RQ workers, queueing schedules and relaying due rows, and the failed jobs."""
from __future__ import annotations

import json
import signal
import threading
import time
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select, text

from .extensions import db
from .jobs import enqueue_schedules, retry, run_due
from .models.outbox import DONE, FAILED, PENDING, RUNNING, OutboxMessage
from .rq_backend import backend, set_worker_app, worker_name
from .types import utcnow


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined]


def _stop_on_sigterm() -> threading.Event:
    """An event set by SIGTERM/SIGINT, so a loop ends between rounds (supervisors send TERM)."""
    stop = threading.Event()

    def _handler(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    return stop


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run what is queued, then exit.")
@click.option("--name", default=None, help="Worker name (default: host.pid).")
@click.option("--max-jobs", type=int, default=None, help="Exit after this many jobs.")
@with_appcontext
def worker_command(burst: bool, name: str | None, max_jobs: int | None) -> None:
    """Run jobs from Redis (needs redis_url). Start as many as you like, on any machine that
    reaches the database and Redis; each takes one job at a time."""
    from redis.exceptions import RedisError
    from rq import SimpleWorker

    app = _app()
    rq = backend(app)
    if rq is None:
        raise click.ClickException("redis_url is not set: jobs run in the web process, "
                                   "no worker is needed")
    set_worker_app(app)
    base, restarts = name or worker_name(), 0
    while True:
        stop = _stop_on_sigterm()
        while not rq.ping():  # Redis restarting: wait for it rather than exit
            click.echo(f"Redis does not answer at {rq.url}; waiting", err=True)
            if stop.wait(2):
                return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # RQ installs its own warm shutdown
        signal.signal(signal.SIGINT, signal.default_int_handler)
        # One process, one job at a time, no fork per job: a job is a few queries, and a fork
        # per job would cost more than the job (the database pool survives between jobs).
        worker = SimpleWorker([rq.queue], connection=rq.redis,
                              name=base if not restarts else f"{base}.{restarts}")
        try:
            worker.work(burst=burst, max_jobs=max_jobs, logging_level="INFO")
        except RedisError as exc:  # lost Redis while deregistering: start again below
            click.echo(f"worker lost Redis: {exc}", err=True)
        # A SIGTERM/SIGINT ends the worker: RQ marks ``_stop_requested`` only when it came
        # during a job; an idle worker's stop leaves just the request's date.
        if burst or max_jobs or worker._stop_requested or worker._shutdown_requested_date:
            return
        # RQ's loop ends on an error it does not handle (Redis gone mid-heartbeat): rows in
        # flight are reclaimed by the outbox; start a fresh worker once Redis is back.
        restarts += 1
        time.sleep(1)


@click.command("scheduler")
@click.option("--interval", type=float, default=None,
              help="Seconds between rounds (default: the setting jobs_poll_seconds).")
@click.option("--once", is_flag=True, help="One round, then exit (cron, tests).")
@with_appcontext
def scheduler_command(interval: float | None, once: bool) -> None:
    """Queue each schedule's due period and relay the due outbox rows (retries, jobs queued for
    later, rows whose push was lost) to the workers. Run one per deployment; a second one does
    no harm (periods and pushes are idempotent) but no good either. Without redis_url it
    delivers the due rows itself."""
    app = _app()
    every = float(interval if interval is not None
                  else app.config["CONVEYOR"]["jobs_poll_seconds"])
    stop = _stop_on_sigterm()
    click.echo(f"scheduler: every {every:g} s ({'Redis' if backend(app) else 'in-process'})")
    while True:
        try:
            queued = enqueue_schedules(app)
            handled = run_due(app)
            if once or queued or handled:
                click.echo(f"{utcnow():%Y-%m-%d %H:%M:%S} schedules queued: {queued}, "
                           f"due rows handed over: {handled}")
        except Exception as exc:  # noqa: BLE001 - the database or Redis away: try next round
            click.echo(f"scheduler round failed: {type(exc).__name__}: {exc}", err=True)
            if once:
                raise
        if once or stop.wait(every):
            return


jobs_cli = AppGroup("jobs", help="Background jobs: failures, retries, status.")


@jobs_cli.command("failed")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", default=100, show_default=True)
def jobs_failed(as_json: bool, limit: int) -> None:
    """Jobs that used up their attempts, newest first, with their last error."""
    rows = db.session.execute(select(
        OutboxMessage.id, OutboxMessage.job, OutboxMessage.attempts, OutboxMessage.created_at,
        OutboxMessage.run_at, OutboxMessage.last_error).where(OutboxMessage.status == FAILED)
        .order_by(OutboxMessage.id.desc()).limit(limit)).all()
    if as_json:
        click.echo(json.dumps([{"id": r.id, "job": r.job, "attempts": r.attempts,
                                "created_at": r.created_at.isoformat(),
                                "failed_at": r.run_at.isoformat(), "error": r.last_error}
                               for r in rows], indent=2))
        return
    if not rows:
        click.echo("No failed jobs.")
    for r in rows:
        click.echo(f"{r.id}  {r.job}  {r.attempts} attempts  {r.run_at:%Y-%m-%d %H:%M}  "
                   f"{r.last_error.splitlines()[0] if r.last_error else ''}")


@jobs_cli.command("retry")
@click.argument("message_id", required=False, type=int)
def jobs_retry(message_id: int | None) -> None:
    """Queue failed jobs again with fresh attempts: the one with MESSAGE_ID, or all of them."""
    app = _app()
    count = retry(app, message_id)
    if message_id is not None and not count:
        raise click.ClickException(f"no failed job {message_id}")
    run_due(app)  # hand them over now instead of at the scheduler's next round
    click.echo(f"Queued again: {count}.")


@jobs_cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def jobs_status(as_json: bool) -> None:
    """Outbox rows by status, the oldest due row's wait, and the workers Redis knows."""
    info = status(_app())
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        click.echo(f"{key}: {value}")


@jobs_cli.command("ready")
@click.option("--min-workers", default=1, show_default=True,
              help="Fail unless at least this many workers are registered.")
def jobs_ready(min_workers: int) -> None:
    """Readiness check for a deployment's job side: exits 0 when the database and Redis
    answer and at least --min-workers workers are alive, 1 otherwise (with the reason)."""
    app = _app()
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - the answer is the exit code
        raise click.ClickException(f"database: {type(exc).__name__}") from exc
    rq = backend(app)
    if rq is None:
        click.echo("ready (no redis_url: jobs run in the web process)")
        return
    if not rq.ping():
        raise click.ClickException(f"Redis does not answer at {rq.url}")
    alive = len(rq.workers())
    if alive < min_workers:
        raise click.ClickException(f"{alive} workers alive, {min_workers} needed")
    click.echo(f"ready: {alive} workers")


def status(app: Flask) -> dict[str, Any]:
    """Counts for ``conveyor jobs status`` and monitoring."""
    counts = dict(db.session.execute(select(OutboxMessage.status, func.count())
                                     .group_by(OutboxMessage.status)).all())
    oldest = db.session.scalar(select(func.min(OutboxMessage.run_at)).where(
        OutboxMessage.status == PENDING, OutboxMessage.run_at <= utcnow()))
    info: dict[str, Any] = {s: int(counts.get(s, 0)) for s in (PENDING, RUNNING, DONE, FAILED)}
    info["oldest_due_seconds"] = round((utcnow() - oldest).total_seconds(), 1) if oldest else 0
    rq = backend(app)
    if rq is None:
        info["backend"] = "in-process"
        return info
    info["backend"] = "redis"
    info["redis"] = "ok" if rq.ping() else "unreachable"
    if info["redis"] == "ok":
        info["queued"] = len(rq.queue)
        info["workers"] = sorted(w.name for w in rq.workers())
    return info


COMMANDS = [worker_command, scheduler_command, jobs_cli]
