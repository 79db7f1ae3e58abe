"""The audit trail page: filters, pages newest first, CSV export (routes of the ``admin`` bp)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import render_template, request
from sqlalchemy import Select, select

from ..audit import ACTION_LABELS, TYPE_LABELS
from ..calendar_bounds import in_calendar
from ..csv_export import csv_response
from ..extensions import db
from ..i18n import _
from ..models import AuditEntry
from ..permissions import require
from ..queries import written_limit
from .admin import bp
from .listing import before_arg, keyset_page

ACTIONS = ["create", "update", "delete", "sign_in", "sign_in_failed", "sign_out",
           "sign_out_everywhere", "role_granted", "role_revoked", "member_added",
           "member_removed"]


def _day(name: str, errors: dict[str, str]) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw[:10])
    except ValueError:
        errors[name] = _("Not a valid date.")
        return None
    if not in_calendar(day):
        errors[name] = _("Use a date between %(first)s and %(last)s.", first="1900-01-01",
                         last="2999-12-31")
        return None
    return day


def filtered() -> tuple[Select[Any], dict[str, str], dict[str, str]]:
    """The entries the filters ask for, the filters as given, and errors per filter."""
    args = {k: request.args.get(k, "").strip()[:80] for k in
            ("actor", "action", "object_type", "object_id", "from", "to")}
    errors: dict[str, str] = {}
    query = select(AuditEntry)
    if args["actor"]:
        query = query.where(AuditEntry.actor == args["actor"])
    if args["action"]:
        query = query.where(AuditEntry.action == args["action"])
    if args["object_type"]:
        query = query.where(AuditEntry.object_type == args["object_type"])
    if args["object_id"]:
        if args["object_id"].isdigit() and len(args["object_id"]) <= 10:
            query = query.where(AuditEntry.object_id == int(args["object_id"]))
        else:
            errors["object_id"] = _("A record number, e.g. 42.")
    start, end = _day("from", errors), _day("to", errors)
    if start:
        query = query.where(AuditEntry.at >= datetime.combine(start, time.min, tzinfo=UTC))
    if end:
        query = query.where(AuditEntry.at < datetime.combine(end, time.min, tzinfo=UTC)
                            + timedelta(days=1))
    return query, args, errors


@bp.get("/audit")
@require("admin.audit")
def audit() -> Any:
    query, args, errors = filtered()
    if request.args.get("format") == "csv" and not errors:
        return csv_response("audit", [
            _("When (UTC)"), _("User"), _("Action"), _("Record type"), _("Record"), _("Label"),
            _("Changes"), _("IP address")], _csv_rows(query), stream=True)
    page = keyset_page(query, AuditEntry.id, before_arg())
    types = sorted(t for (t,) in db.session.execute(
        select(AuditEntry.object_type).distinct()) if t)
    keep = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_template("admin/audit.html", page=page, args=args, keep=keep, errors=errors,
                           actions=ACTIONS, types=types, action_labels=ACTION_LABELS,
                           type_labels=TYPE_LABELS), 400 if errors else 200


def _csv_rows(query: Select[Any], batch: int = 1000) -> Iterator[list[Any]]:
    """Every matching entry, newest first, read a batch at a time as the download goes."""
    before: int | None = None
    while True:
        page = query.order_by(AuditEntry.id.desc()).limit(written_limit(batch))
        if before is not None:
            page = page.where(AuditEntry.id < before)
        entries = list(db.session.scalars(page))
        for e in entries:
            yield [e.at.isoformat(), e.actor, e.action, e.object_type, e.object_id, e.label,
                   "; ".join(_change_text(k, v) for k, v in (e.changes or {}).items()), e.ip]
        if len(entries) < batch:
            return
        before = entries[-1].id
        db.session.expunge_all()


def _change_text(field: str, change: Any) -> str:
    if isinstance(change, list) and len(change) == 2:
        return f"{field}: {change[0]!r} → {change[1]!r}"
    return f"{field}: {change!r}"
