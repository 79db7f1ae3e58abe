"""`conveyor worker` on the bench's app (bench_jobs.py starts several)."""
from __future__ import annotations

import sys

from flask.cli import FlaskGroup
from jobs_plugin import make_worker_app

from conveyor.cli import add_core_commands

cli = FlaskGroup(create_app=make_worker_app, add_default_commands=False)
add_core_commands(cli)
cli.main(["worker", "--name", sys.argv[1]])
