"""``conveyor funnel rebuild``: recompute the funnel's summaries from deals and history."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from conveyor import db


@click.group("funnel", help="Funnel analytics.")
def funnel_group() -> None:
    pass


@funnel_group.command("rebuild")
@with_appcontext
def rebuild_command() -> None:
    """Recompute the funnel's summaries (after a bulk load that bypassed the app, or to repair
    them); the figures read them instead of every deal."""
    from .summaries import rebuild

    counts = rebuild(db.session.connection())
    db.session.commit()
    for table, n in counts.items():
        click.echo(f"{table}: {n} rows")
