"""The bench's throwaway plugin and job functions (imported by bench_jobs.py and its workers).

``touch`` is the work of one job: one notification written. Through the outbox it is the
``bench.touch`` job (written with the done mark, in one commit); straight into RQ it is
``bare_touch``, the same write committed by hand in the worker's app.
"""
from __future__ import annotations

import os
from typing import Any

from conveyor import Job, hookimpl, notify
from conveyor.extensions import db

USER_ID = 1


def touch(n: int) -> None:
    notify(USER_ID, f"outbox {n}")


def bare_touch(n: int) -> None:
    from conveyor.rq_backend import _app

    with _app().app_context():
        notify(USER_ID, f"bare {n}")
        db.session.commit()


class Plugin:
    """Declares the bench's job."""

    @hookimpl
    def register_jobs(self) -> list[Any]:
        return [Job("bench.touch", touch)]


class Tracker:
    """Implements track_event, so each write with an event adds an outbox row."""

    @hookimpl
    def track_event(self, event: Any) -> None:
        return None


def make_worker_app() -> Any:
    """The workers' app: the bench database and Redis from the environment."""
    from conveyor import create_app

    return create_app(config={"database_url": os.environ["BENCH_APP_URL"],
                              "redis_url": os.environ["BENCH_REDIS_URL"], "secret_key": "bench"},
                      plugins=[], extra_plugins=[("bench", Plugin()), ("tracker", Tracker())])
