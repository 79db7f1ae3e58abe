"""Failed background jobs: what failed, why, and a button to run it again."""
from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, url_for
from sqlalchemy import func, select

from ..extensions import db
from ..i18n import _
from ..jobs import retry, run_due
from ..models.outbox import FAILED, OutboxMessage
from ..permissions import require
from .admin import bp
from .listing import before_arg, keyset_page

MID = "<int(max=9223372036854775807):message_id>"


@bp.get("/jobs")
@require("admin.jobs")
def jobs() -> Any:
    """Failed jobs, newest first (they stay until retried; delivered ones are pruned)."""
    query = select(OutboxMessage).where(OutboxMessage.status == FAILED)
    page = keyset_page(query, OutboxMessage.id, before_arg())
    total = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.status == FAILED))
    titles = {name: job.title for name, job in
              current_app.extensions["conveyor"].jobs.items() if job.title}
    return render_template("admin/jobs.html", page=page, total=total, titles=titles)


@bp.post(f"/jobs/{MID}/retry")
@require("admin.jobs")
def job_retry(message_id: int) -> Any:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not retry(app, message_id):
        abort(404)
    run_due(app)
    flash(_("The job was queued again."), "success")
    return redirect(url_for(".jobs"))


@bp.post("/jobs/retry-all")
@require("admin.jobs")
def jobs_retry_all() -> Any:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    count = retry(app)
    run_due(app)
    flash(_("%(count)d jobs were queued again.", count=count), "success")
    return redirect(url_for(".jobs"))
