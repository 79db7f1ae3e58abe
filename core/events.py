"""Core events and their two-phase dispatch.

``emit(event)`` calls ``handle_event`` at once, inside the caller's transaction (raising aborts
it), and queues the event; after the session commits, ``track_event`` runs — after the response
is sent when there is a request — so notifications never hold up the user. A failing
``track_event`` implementation is logged and retried; other implementations still run. The core
owns the trackers' session: what an implementation adds (``notify``, ``enqueue``) is committed
when it returns and rolled back when it raises — a plugin never commits by hand.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, fields, replace
from typing import Any

from flask import after_this_request, current_app, has_request_context
from sqlalchemy import event as sa_event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.exc import NoInspectionAvailable
from sqlalchemy.orm import Session
from werkzeug.local import LocalProxy

from .types import utcnow

log = logging.getLogger("conveyor.events")
PENDING = "conveyor_pending_events"
TRACK_ATTEMPTS = 3


@dataclass
class Event:
    """Base of every event. ``at`` is set when it is created."""

    def __post_init__(self) -> None:
        self.at = utcnow()
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, LocalProxy):  # current_user: keep the user, not the proxy
                setattr(self, f.name, value._get_current_object())

    @property
    def name(self) -> str:
        return type(self).__name__


@dataclass
class UserCreated(Event):
    user: Any
    by: Any = None


@dataclass
class CustomerCreated(Event):
    customer: Any
    by: Any = None


@dataclass
class CustomerUpdated(Event):
    customer: Any
    by: Any = None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)


@dataclass
class DealCreated(Event):
    deal: Any
    by: Any = None


@dataclass
class DealUpdated(Event):
    deal: Any
    by: Any = None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)


@dataclass
class DealStageChanged(Event):
    deal: Any
    old: Any
    new: Any
    by: Any = None


@dataclass
class DealWon(Event):
    deal: Any
    by: Any = None


@dataclass
class DealLost(Event):
    deal: Any
    by: Any = None
    reason: str = ""


@dataclass
class DealReopened(Event):
    """A closed (won or lost) deal moved back to an open stage."""

    deal: Any
    old: Any = None
    by: Any = None


@dataclass
class DealDeleted(Event):
    """A deal was deleted (its stage history and timeline with it). By the time trackers run it
    is gone, so the event carries what it was rather than the deal. Emitted once the session
    holds the deletion: a handler that flushes computes without the deal."""

    deal_id: int
    customer_id: int
    title: str = ""
    owner_id: int | None = None
    by: Any = None


CORE_EVENTS: list[type[Event]] = [
    UserCreated, CustomerCreated, CustomerUpdated, DealCreated, DealUpdated, DealStageChanged,
    DealWon, DealLost, DealReopened, DealDeleted,
]


def emit(event: Event, session: Session | None = None) -> Event:
    """Dispatch ``event``: handlers now (in the transaction), trackers after commit."""
    from .extensions import db

    session = session or db.session()
    state = current_app.extensions["conveyor"]
    state.hook.handle_event(event=event, session=session)
    session.info.setdefault(PENDING, []).append(event)
    return event


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT released: the real commit is still ahead
        return
    events = session.info.pop(PENDING, None)
    if not events:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if has_request_context() and not app.config.get("CONVEYOR_TRACK_INLINE"):

        def _defer(response: Any) -> Any:
            response.call_on_close(lambda: _run_tracked(app, events))
            return response

        try:
            after_this_request(_defer)
            return
        except (AssertionError, RuntimeError):  # commit after the view returned
            pass
    _run_tracked(app, events)


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)


def _identities(event: Event) -> dict[str, tuple[type, Any]]:
    out = {}
    for f in fields(event):
        value = getattr(event, f.name)
        try:
            state = sa_inspect(value)
        except NoInspectionAvailable:
            continue
        if getattr(state, "identity", None) is not None:
            out[f.name] = (state.mapper.class_, state.identity)
    return out


def _reloaded(events: list[Event], session: Session) -> list[Event]:
    """The events with their ORM objects fetched again in the tracker's own session — the
    request's session is gone by now and the commit expired its objects. One query per class
    for the whole batch, not one per object."""
    wanted = [_identities(ev) for ev in events]
    by_class: dict[type, set[Any]] = {}
    for idents in wanted:
        for cls, identity in idents.values():
            by_class.setdefault(cls, set()).add(identity)
    loaded: dict[tuple[type, Any], Any] = {}
    for cls, identities in by_class.items():
        pk = sa_inspect(cls).primary_key
        if len(pk) != 1:
            loaded.update({(cls, i): session.get(cls, i) for i in identities})
            continue
        for obj in session.scalars(select(cls).where(pk[0].in_([i[0] for i in identities]))):
            loaded[(cls, sa_inspect(obj).identity)] = obj
    fresh_events = []
    for ev, idents in zip(events, wanted, strict=True):
        if not idents:
            fresh_events.append(ev)
            continue
        fresh = replace(ev, **{name: loaded.get(key) for name, key in idents.items()})
        fresh.at = ev.at
        fresh_events.append(fresh)
    return fresh_events


def _run_tracked(app: Any, events: list[Event]) -> None:
    from .extensions import db

    with app.app_context():
        impls = app.extensions["conveyor"].pm.hook.track_event.get_hookimpls()
        if not impls:
            return  # nobody tracks: don't reload anything
        # This session lives for these events only: its commits need not expire what it loaded.
        db.session().expire_on_commit = False
        for ev in _reloaded(events, db.session):
            for impl in impls:
                for attempt in range(1, TRACK_ATTEMPTS + 1):
                    try:
                        impl.function(**_args(impl, ev))
                        db.session.commit()  # the core owns the session: a plugin never commits
                        break
                    except Exception:  # noqa: BLE001 - a tracker must never break the caller
                        db.session.rollback()
                        log.exception("track_event of %s failed on %s (attempt %d)",
                                      impl.plugin_name, ev.name, attempt)
                        time.sleep(0.05 * attempt)


def _args(impl: Any, ev: Event) -> dict[str, Any]:
    return {"event": ev} if "event" in impl.argnames else {}
