"""The lead processor's screens (permission leads.import): paste or upload, watch the
preview fill in, read the per-row errors, then import the valid rows."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from conveyor import db, require, scoped
from conveyor.models import COMPANY_SIZES
from conveyor.queries import written_limit

from .forms import FIELD_LABELS, ImportForm
from .importer import is_stalled, start_commit, start_import
from .models import LeadImport, LeadImportRow
from .texts import _, _l
from .views import assignable_users, bp

IMPORT_ID = "<int(max=2147483647):import_id>"
MAX_UPLOAD = 50 * 1024 * 1024
ERROR_TEXTS = {
    "too_long": _l("Too long for this field."),
    "email": _l("Not an email address."),
    "phone": _l("Not a valid phone number (add the country code?)."),
    "size": _l("Company size must be one of: %(sizes)s.", sizes=", ".join(COMPANY_SIZES)),
    "identity": _l("No company, name, email or phone."),
    "dup_file": _l("The same person as row %(row)s of this file."),
}


def error_messages(raw: str) -> list[str]:
    """``field|code|argument`` lines, as sentences in the reader's language."""
    out = []
    for line in raw.splitlines():
        field, _sep, rest = line.partition("|")
        code, _sep, arg = rest.partition("|")
        text = str(ERROR_TEXTS.get(code, code))
        if code == "dup_file":
            text = text % {"row": arg}
        out.append(f"{FIELD_LABELS.get(field, field)}: {text}")
    return out


def _visible_job(import_id: int) -> LeadImport:
    job = db.session.scalar(scoped(LeadImport, current_user).where(LeadImport.id == import_id))
    if job is None:
        abort(404)
    return job


@bp.route("/import", methods=["GET", "POST"])
@require("leads.import")
def processor() -> Any:
    form = ImportForm()
    form.owner_id.choices = [(0, "—")] + [(u.id, u.label) for u in assignable_users()]
    if form.validate_on_submit():
        upload = form.file.data
        if upload:
            raw = upload.read(MAX_UPLOAD + 1)
            name = upload.filename or ""
        else:
            raw, name = (form.text.data or "").encode("utf-8"), ""
        if len(raw) > MAX_UPLOAD:
            form.file.errors.append(_("The file is larger than 50 MB; split it."))
        elif form.owner_mode.data == "user" and form.owner_id.data not in {
                u for u, _label in form.owner_id.choices if u}:
            form.owner_id.errors.append(_("Choose the person."))
        else:
            job = start_import(raw, source=form.source.data.strip(), by=current_user,
                               filename=name, encoding=form.encoding.data if upload else "utf-8",
                               owner_mode=form.owner_mode.data,
                               owner_id=form.owner_id.data or None)
            return redirect(url_for(".import_detail", import_id=job.id))
    jobs = list(db.session.scalars(scoped(LeadImport, current_user)
                                   .order_by(LeadImport.id.desc()).limit(written_limit(20))))
    return render_template("leads/import.html", form=form, jobs=jobs), \
        400 if request.method == "POST" else 200


@bp.get(f"/import/{IMPORT_ID}")
@require("leads.import")
def import_detail(import_id: int) -> Any:
    job = _visible_job(import_id)
    rows = LeadImportRow
    errors = list(db.session.scalars(select(rows).where(rows.import_id == job.id, rows.errors != "")
                                     .order_by(rows.row_no).limit(written_limit(100))))
    sample = list(db.session.scalars(select(rows).where(rows.import_id == job.id, rows.errors == "")
                                     .order_by(rows.row_no).limit(written_limit(20))))
    return render_template("leads/import_detail.html", job=job, errors=errors, sample=sample,
                           messages=error_messages, stalled=is_stalled(job))


@bp.get(f"/import/{IMPORT_ID}/status")
@require("leads.import")
def import_status(import_id: int) -> Any:
    """For scripts and the page: the job's state and progress as JSON."""
    job = _visible_job(import_id)
    return jsonify({k: getattr(job, k) for k in (
        "id", "status", "total_rows", "processed", "valid_rows", "error_rows", "merge_rows",
        "imported", "merged", "assigned", "percent", "message")} | {"stalled": is_stalled(job)})


@bp.post(f"/import/{IMPORT_ID}/commit")
@require("leads.import")
def import_commit(import_id: int) -> Any:
    job = _visible_job(import_id)
    if not job.valid_rows:
        flash(_("There are no valid rows to import."), "error")
    elif not start_commit(job):
        flash(_("This list is not ready to import, or is being imported already."), "error")
    return redirect(url_for(".import_detail", import_id=job.id))


@bp.post(f"/import/{IMPORT_ID}/cancel")
@require("leads.import")
def import_cancel(import_id: int) -> Any:
    job = _visible_job(import_id)
    if job.status in ("parsing", "ready"):
        job.status = "cancelled"
        db.session.execute(LeadImportRow.__table__.delete().where(
            LeadImportRow.import_id == job.id))
        db.session.commit()
        flash(_("Cancelled; nothing was imported."), "success")
    return redirect(url_for(".processor"))

