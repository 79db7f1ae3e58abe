"""The audit trail: field-level changes and security events, written with the change itself.

What is recorded (``audit_log``, append-only):
- every insert, update and delete of an *audited* model, with the changed fields old → new:
  the core's customers, contacts, deals, users (a password only as "changed"), role grants,
  teams and their members, role edits (``role_settings``), stages and pipelines; a plugin's
  model opts in with a class attribute ``__audit__ = "<object type>"`` (and leaves bookkeeping
  columns out with ``__audit_skip__ = ("counter",)``);
- sign-ins, failed sign-ins, sign-outs and "sign out everywhere" (``conveyor.auth``);
- whatever a plugin reports with :func:`record` (``conveyor.record_audit``).

Model changes are collected after each ORM flush and written in the same transaction with one
INSERT (a rolled-back change leaves no entry). Bulk ``UPDATE``/``DELETE`` statements bypass the
ORM and are not seen: audited writes go through the ORM. Entries older than
``audit_retention_days`` are deleted by ``conveyor audit purge`` (run it daily from cron), the
only way rows leave the table.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session

from .i18n import _l, lazy_pgettext
from .models import (
    AuditEntry,
    Contact,
    Customer,
    Deal,
    Pipeline,
    RoleSetting,
    Stage,
    Team,
    TeamMember,
    User,
    UserRole,
)
from .types import utcnow

# Never written with their values; a change shows as "changed".
SECRET = {"password_hash", "token_hash"}
# Bookkeeping the user did not change: left out.
NOISE = {"updated_at", "version", "stage_entered_at", "session_stamp", "created_at"}
# What people read for an action and a record type (the codes stay in the data and the CSV).
ACTION_LABELS: dict[str, Any] = {
    "create": _l("created"), "update": _l("changed"), "delete": _l("deleted"),
    "sign_in": _l("signed in"), "sign_in_failed": _l("failed sign-in"),
    "sign_out": _l("signed out"), "sign_out_everywhere": _l("signed out everywhere"),
    "role_granted": _l("role granted"), "role_revoked": _l("role revoked"),
    "member_added": _l("member added"), "member_removed": _l("member removed"),
}
# Record types of the core and the built-in plugins; another plugin's type shows as its code.
TYPE_LABELS: dict[str, Any] = {
    "customer": _l("Customer"), "contact": _l("Contact"), "deal": _l("Deal"), "user": _l("User"),
    "team": _l("Team"), "role": _l("Role"), "stage": _l("Stage"),
    "pipeline": lazy_pgettext("one pipeline", "Pipeline"),
    "leads_form": _l("Capture form"), "leads_rule": _l("Assignment rule"),
    "groups_group": _l("Group"),
}
CORE_TYPES: dict[type, str] = {Customer: "customer", Contact: "contact", Deal: "deal",
                               User: "user", Team: "team", RoleSetting: "role", Stage: "stage",
                               Pipeline: "pipeline"}


def object_type(obj: Any) -> str | None:
    cls = type(obj)
    return CORE_TYPES.get(cls) or getattr(cls, "__audit__", None)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def _label(obj: Any) -> str:
    for name in ("username", "title", "name", "role", "email"):
        value = getattr(obj, name, None)
        if isinstance(value, str) and value:
            return value[:200]
    return ""


def _primary_key(obj: Any) -> int | None:
    """The id, also of an object inserted by this very flush (no identity key yet)."""
    state = inspect(obj)
    if state.identity:
        value = state.identity[0]
    else:
        value = state.dict.get(state.mapper.primary_key[0].key)
    return value if isinstance(value, int) else None


_COLUMNS: dict[type, list[str]] = {}


def _columns(obj: Any) -> list[str]:
    """The audited columns of ``obj``'s class, worked out once per class (every flush asks)."""
    cls = type(obj)
    found = _COLUMNS.get(cls)
    if found is None:
        skip = NOISE | set(getattr(cls, "__audit_skip__", ()))
        found = _COLUMNS[cls] = [a.key for a in inspect(cls).column_attrs if a.key not in skip]
    return found


def _value(key: str, value: Any) -> Any:
    return "***" if key in SECRET and value else _plain(value)


def _changes(obj: Any, kind: str) -> dict[str, Any]:
    state = inspect(obj)
    out: dict[str, Any] = {}
    for key in _columns(obj):
        if key == "id":
            continue
        if kind in ("create", "delete"):
            value = state.dict.get(key)  # what is loaded: a flush must not query
            if value not in (None, "", [], {}):
                out[key] = [None, _value(key, value)] if kind == "create" else [
                    _value(key, value), None]
        else:
            history = state.attrs[key].history
            if not history.has_changes():
                continue
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if old != new:
                out[key] = [_value(key, old), _value(key, new)]
    return out


def _actor() -> tuple[int | None, str, str]:
    if not has_request_context():
        return None, "", ""
    user = getattr(g, "_login_user", None)  # never loaded here: a flush may not query
    ip = (request.remote_addr or "")[:45]
    if user is None or not getattr(user, "is_authenticated", False):
        return None, "", ip
    return user.id, user.username, ip


def _entry(action: str, kind: str | None, object_id: int | None, label: str,
           changes: dict[str, Any]) -> dict[str, Any]:
    actor_id, actor, ip = _actor()
    return {"at": utcnow(), "actor_id": actor_id,
            "actor": actor, "action": action, "object_type": kind or "",
            "object_id": object_id, "label": label[:200], "changes": changes, "ip": ip}


def _collect(session: Session, _flush_context: Any) -> None:
    rows: list[dict[str, Any]] = []
    for kind_of, objects in (("create", session.new), ("update", session.dirty),
                             ("delete", session.deleted)):
        for obj in objects:
            if isinstance(obj, AuditEntry):
                continue
            if isinstance(obj, UserRole):
                if kind_of != "update":
                    verb = "role_granted" if kind_of == "create" else "role_revoked"
                    rows.append(_entry(verb, "user", obj.user_id, obj.role,
                                       {"role": [None, obj.role] if kind_of == "create"
                                        else [obj.role, None]}))
                continue
            if isinstance(obj, TeamMember):
                if kind_of != "update":
                    verb = "member_added" if kind_of == "create" else "member_removed"
                    rows.append(_entry(verb, "team", obj.team_id, "",
                                       {"user_id": [None, obj.user_id] if kind_of == "create"
                                        else [obj.user_id, None]}))
                continue
            kind = object_type(obj)
            if kind is None:
                continue
            if kind_of == "update" and not session.is_modified(obj, include_collections=False):
                continue
            changes = _changes(obj, kind_of)
            if kind_of == "update" and not changes:
                continue
            rows.append(_entry(kind_of, kind, _primary_key(obj), _label(obj), changes))
    if rows:
        session.connection().execute(_INSERT, rows)


_INSERT = insert(AuditEntry.__table__)  # built once: every audited flush runs it


def record(action: str, *, object_type: str = "", object_id: int | None = None,
           label: str = "", changes: dict[str, Any] | None = None,
           actor: Any = None) -> None:
    """Add an entry to the current transaction (committed with it): a sign-in, an admin
    action of a plugin — anything not already recorded as a model change."""
    from .extensions import db

    row = _entry(action, object_type, object_id, label, _plain(changes or {}))
    if actor is not None:
        row["actor_id"], row["actor"] = actor.id, actor.username
    db.session.add(AuditEntry(**row))


def install() -> None:
    """Listen to every ORM session's flushes (once per process)."""
    if not event.contains(Session, "after_flush", _collect):
        event.listen(Session, "after_flush", _collect)


def uninstall() -> None:
    """Benchmarks only: the same app without the trail, to measure what it costs."""
    if event.contains(Session, "after_flush", _collect):
        event.remove(Session, "after_flush", _collect)
