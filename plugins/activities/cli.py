"""``conveyor activities rebuild-next-steps``: recompute the deals-without-a-next-step summary."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from conveyor import db


@click.group("activities", help="Activities: tasks, visits, calendar and reminders.")
def activities_group() -> None:
    pass


@activities_group.command("rebuild-next-steps")
@with_appcontext
def rebuild_next_steps_command() -> None:
    """Recompute each open deal's count of planned activities (after a bulk load that bypassed
    the app, or after a stage with deals was made won, lost or open again)."""
    from .next_steps import rebuild

    rows = rebuild(db.session.connection())
    db.session.commit()
    click.echo(f"activities_deal_steps: {rows} open deals")
