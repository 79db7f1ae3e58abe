"""Deal rows as each flush changed them, handed to plugins inside the same transaction.

A plugin that keeps its own summary of deals (like the core's ``deal_stage_totals``) implements
the ``deal_rows_flushed`` hook: after every flush that inserted, changed or deleted deals or
added stage-history rows it gets the values the database held before and holds now, whoever
made the change through the ORM. Its writes go through the flush's connection, so the summary
commits or rolls back with the change. Nothing is read or computed when no plugin listens.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from .models import Deal, StageHistory

TRACKED = ("owner_id", "stage_id", "pipeline_id", "currency", "amount", "margin", "lost_reason",
           "closed_at", "stage_entered_at", "created_at")
HISTORY = ("id", "deal_id", "from_stage_id", "to_stage_id", "at")
_KEY = "conveyor_deal_changes"


@dataclass(frozen=True)
class DealRowChange:
    """One deal's row across a flush: ``old`` is None for an inserted deal, ``new`` for a
    deleted one; both are ``{column: value}`` over :data:`TRACKED`."""

    deal_id: int
    old: dict[str, Any] | None
    new: dict[str, Any] | None


def _hook() -> Any:
    if not has_app_context():
        return None
    state = current_app.extensions.get("conveyor")
    hook = getattr(state, "hook", None) if state is not None else None
    if hook is None or not hook.deal_rows_flushed.get_hookimpls():
        return None
    return hook


def _before(deal: Deal) -> dict[str, Any]:
    """What the database holds for ``deal`` before this flush (changed columns' old values)."""
    state = inspect(deal)
    out = {}
    for name in TRACKED:
        history = state.attrs[name].load_history()
        if history.added or history.deleted:
            out[name] = history.deleted[0] if history.deleted else None
        else:
            out[name] = history.unchanged[0] if history.unchanged else getattr(deal, name)
    return out


def _now(deal: Deal) -> dict[str, Any]:
    return {name: getattr(deal, name) for name in TRACKED}


@event.listens_for(Session, "before_flush")
def _note_old_rows(session: Session, flush_context: Any, instances: Any) -> None:
    if _hook() is None:
        return
    old: dict[int, tuple[Deal, dict[str, Any], bool]] = {}
    for obj in session.deleted:
        if isinstance(obj, Deal):
            old[id(obj)] = (obj, _before(obj), True)
    for obj in session.dirty:
        if isinstance(obj, Deal) and id(obj) not in old and session.is_modified(obj):
            old[id(obj)] = (obj, _before(obj), False)
    removed: dict[int, list[dict[str, Any]]] = {}
    gone = [obj.id for obj, _v, deleted in old.values() if deleted and obj.id is not None]
    if gone:  # their history goes with them (database cascade): read it while it is there
        h = StageHistory.__table__
        for row in session.connection().execute(
                select(*(h.c[c] for c in HISTORY)).where(h.c.deal_id.in_(gone))
                .order_by(h.c.deal_id, h.c.at, h.c.id)):
            removed.setdefault(row.deal_id, []).append(dict(row._mapping))
    flush_context.attributes[_KEY] = (old, removed)


@event.listens_for(Session, "after_flush")
def _hand_over(session: Session, flush_context: Any) -> None:
    hook = _hook()
    if hook is None:
        return
    old, removed = flush_context.attributes.get(_KEY, ({}, {}))
    changes: list[DealRowChange] = []
    history: list[dict[str, Any]] = []
    for obj in session.new:
        if isinstance(obj, Deal):
            changes.append(DealRowChange(obj.id, None, _now(obj)))
        elif isinstance(obj, StageHistory):
            history.append({c: getattr(obj, c) for c in HISTORY})
    for obj, before, deleted in old.values():
        if deleted:
            changes.append(DealRowChange(obj.id, before, None))
            continue
        after = _now(obj)
        if after != before:
            changes.append(DealRowChange(obj.id, before, after))
    if changes or history:
        hook.deal_rows_flushed(connection=session.connection(), session=session,
                               changes=changes, history=history, removed_history=removed)
