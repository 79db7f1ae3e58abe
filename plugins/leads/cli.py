"""``conveyor leads ...``: the stale/unassigned sweep for cron or a job queue, and the lead
processor in the foreground."""
from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import click
from flask.cli import AppGroup
from sqlalchemy import select

from conveyor import db
from conveyor.models import User
from conveyor.queries import written_limit

from .assignment import sweep


@click.group("leads", cls=AppGroup, help="Lead capture: sweeps and imports.")
def leads_group() -> None:
    pass


@leads_group.command("reassign-stale")
@click.option("--days", type=click.IntRange(min=0), default=None,
              help="Override the setting leads.stale_days.")
@click.option("--dry-run", is_flag=True, help="Count what would change; change nothing.")
def reassign_stale(days: int | None, dry_run: bool) -> None:
    """Assign unassigned open leads by the rules, and reassign leads their owner has not
    followed up within leads.stale_days. Idempotent; safe to run concurrently (cron, RQ)."""
    result = sweep(days=days, dry_run=dry_run)
    prefix = "would be " if dry_run else ""
    click.echo(f"unassigned leads {prefix}assigned: {result.assigned}")
    click.echo(f"stale leads {prefix}reassigned: {result.reassigned}")
    click.echo(f"left unassigned (no matching rule with an active seller): {result.no_rule}")
    click.echo(f"left stale (no other active seller in the rule): {result.no_other_seller}")
    if result.skipped:
        click.echo(f"skipped (changed meanwhile or taken by a concurrent run): {result.skipped}")


@leads_group.command("intake")
@click.option("--watch", is_flag=True, help="Keep running: poll for new captures (a worker).")
@click.option("--interval", type=click.FloatRange(min=0.05, max=60), default=0.2,
              show_default=True, help="Seconds between polls when idle.")
@click.option("--linger", type=click.FloatRange(min=0, max=60), default=0.5, show_default=True,
              help="Once captures wait, start when none arrived for this many seconds.")
@click.option("--max-wait", type=click.FloatRange(min=0, max=600), default=5.0,
              show_default=True, help="Seconds a waiting capture is left at most.")
@click.option("--nice", "niceness", type=click.IntRange(min=0, max=19), default=10,
              show_default=True, help="Lower this worker's CPU priority by this much, so that a "
              "burst of captures goes to the web processes first.")
def intake_command(watch: bool, interval: float, linger: float, max_wait: float,
                   niceness: int) -> None:
    """Finish stored web captures: dedupe, link known customers, assign by the rules. With
    --watch this is the worker for `leads.intake = "external"`; safe to run several."""
    from .intake import drain
    from .intake import watch as watch_loop

    if watch:
        if niceness and hasattr(os, "nice"):
            os.nice(niceness)
        click.echo("lead intake: watching (Ctrl+C to stop)")
        try:
            watch_loop(interval, linger=linger, max_wait=max_wait)
        except KeyboardInterrupt:
            pass
        return
    click.echo(f"captures finished: {drain()}")


@leads_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", required=True, help="Source name the leads get.")
@click.option("--encoding", type=click.Choice(["auto", "utf-8", "cp1251", "gb18030"]),
              default="auto", show_default=True)
@click.option("--owner", "owner_name", default=None,
              help="Give every lead to this username (default: the assignment rules).")
@click.option("--unassigned", is_flag=True, help="Leave the leads unassigned.")
@click.option("--as", "as_user", default=None, help="Username recorded as the importer.")
@click.option("--dry-run", is_flag=True, help="Check and report the rows; import nothing.")
def import_file(file: Path, source: str, encoding: str, owner_name: str | None,
                unassigned: bool, as_user: str | None, dry_run: bool) -> None:
    """Check FILE (CSV: UTF-8, Windows-1251 or GB18030) and import its valid rows in one
    transaction — the same engine as the lead processor page, in the foreground."""
    from .importer import import_rows, stage_import
    from .models import LeadImport, LeadImportRow
    from .processor import error_messages

    def user(name: str | None) -> User | None:
        if not name:
            return None
        found = db.session.scalar(select(User).where(User.username == name))
        if found is None:
            raise click.BadParameter(f"no user {name!r}")
        return found

    owner, by = user(owner_name), user(as_user)
    mode = "none" if unassigned else "user" if owner else "rules"
    job = LeadImport(created_by_id=by.id if by else None, source=source[:80],
                     filename=file.name, owner_mode=mode, owner_id=owner.id if owner else None)
    db.session.add(job)
    db.session.commit()
    job_id = job.id
    state = SimpleNamespace(last=-1)

    def progress(j: LeadImport) -> None:
        pct = j.percent
        if pct != state.last:
            state.last = pct
            click.echo(f"\r{j.status}: {pct}%", nl=False, err=True)

    stage_import(job_id, file.read_bytes(), encoding, progress)
    job = db.session.get(LeadImport, job_id)
    click.echo("", err=True)
    if job.status == "failed":
        raise click.ClickException(job.message)
    click.echo(f"rows: {job.processed}  valid: {job.valid_rows}  with errors: {job.error_rows}  "
               f"matching open leads: {job.merge_rows}  (encoding {job.encoding})")
    for row in db.session.scalars(select(LeadImportRow).where(
            LeadImportRow.import_id == job_id, LeadImportRow.errors != "")
            .order_by(LeadImportRow.row_no).limit(written_limit(20))):
        click.echo(f"  row {row.row_no}: " + "; ".join(error_messages(row.errors)))
    if dry_run or not job.valid_rows:
        job.status = "cancelled"
        db.session.commit()
        click.echo("nothing imported" + (" (dry run)" if dry_run else ""))
        return
    job.status = "importing"
    db.session.commit()
    import_rows(job_id, progress)
    job = db.session.get(LeadImport, job_id)
    click.echo("", err=True)
    click.echo(f"imported: {job.imported}  merged into open leads: {job.merged}  "
               f"assigned: {job.assigned}")
