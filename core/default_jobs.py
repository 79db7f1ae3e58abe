"""The core's own jobs, declared through the same hooks as a plugin's: sending e-mail and pruning
the delivered outbox rows, running the track_event trackers."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from .contrib import Job, Schedule
from .events import TRACK_JOB, track_events
from .hookspecs import hookimpl
from .jobs import prune_outbox
from .mail import MAIL_JOB, deliver_mail


@hookimpl(trylast=True)
def register_jobs() -> list[Any]:
    return [Job(MAIL_JOB, deliver_mail, max_attempts=8),
            Job(TRACK_JOB, track_events, max_attempts=8),
            Job("core.prune_outbox", prune_outbox, max_attempts=3)]


@hookimpl(trylast=True)
def register_schedules() -> list[Any]:
    return [Schedule("core.prune_outbox", every=timedelta(hours=1))]
