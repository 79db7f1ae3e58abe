"""Core events and their two-phase dispatch.

``emit(event)`` calls ``handle_event`` at once, inside the caller's transaction (raising aborts
it), and queues the event; after the session commits, ``track_event`` runs — never in the
request, so notifications never hold up the user.

Durable delivery: when some plugin implements ``track_event``, the transaction's events are
written, just before it commits, as one outbox row (job ``core.track_events``) — so a crash
after the commit loses nothing, and with Redis a worker runs the trackers. ORM objects travel by
identity and are loaded again by the job. Each implementation runs all the events of the row
in one transaction of its own: committed when it returns, rolled back when it raises (a plugin
never commits by hand); a failing one is retried alone, with backoff, by the outbox.
Events that cannot be written as JSON, and tests (``CONVEYOR_TRACK_INLINE``), keep the
in-memory path: trackers run after the commit, retried a few times, never raised.
"""
from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from decimal import Decimal
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
TRACK_JOB = "core.track_events"


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


@dataclass
class Event:
    """Base of every event. ``at`` is set when it is created."""

    def __post_init__(self) -> None:
        self.at = utcnow()
        names = _FIELD_NAMES.get(type(self))
        if names is None:  # dataclasses.fields() on every event cost more than the rest
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in fields(self))
        for name in names:
            value = getattr(self, name)
            if isinstance(value, LocalProxy):  # current_user: keep the user, not the proxy
                setattr(self, name, value._get_current_object())

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


TRACKS = "conveyor_tracks"


def tracked_event_names(app: Any) -> frozenset[str] | None:
    """The event names some ``track_event`` implementation takes, or ``None`` when one of them
    takes any event (it declared nothing). An implementation declares its events with
    ``track_event.conveyor_tracks = {"DealWon", …}`` (see the hookspec): a write whose events
    no tracker takes then costs no outbox row and no delivery (two commits) after it."""
    names: set[str] = set()
    for impl in app.extensions["conveyor"].pm.hook.track_event.get_hookimpls():
        declared = getattr(impl.function, TRACKS, None)
        if declared is None:
            return None
        names.update(declared)
    return frozenset(names)


@sa_event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    """Write the transaction's events as an outbox row in the transaction itself."""
    events = session.info.get(PENDING)
    if not events or session.in_nested_transaction():
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config.get("CONVEYOR_TRACK_INLINE"):
        return
    wanted = tracked_event_names(app)
    if wanted is not None:  # every tracker said which events it takes: keep only those
        events = [ev for ev in events if type(ev).__name__ in wanted]
        if not events:  # nobody tracks these: no outbox row, no delivery after the response
            session.info.pop(PENDING, None)
            return
        session.info[PENDING] = events
    from .jobs import enqueue

    session.flush()  # objects added since the last flush get their identity
    try:
        payload = [encode_event(ev, app) for ev in events]
    except Unencodable as exc:
        log.warning("events kept in memory for track_event (%s)", exc)
        return
    session.info.pop(PENDING, None)
    enqueue(TRACK_JOB, session=session, order_key=_order_key(payload), events=payload)


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


# --- events as outbox rows -----------------------------------------------------------------------


class Unencodable(TypeError):
    """An event holding a value the outbox can't carry as JSON (it stays in memory)."""


def _path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, LocalProxy):
        value = value._get_current_object()
    try:
        state = sa_inspect(value)
    except NoInspectionAvailable:
        state = None
    if state is not None and getattr(state, "mapper", None) is not None:
        if state.identity is None:
            raise Unencodable(f"unsaved {type(value).__name__}")
        return {"$orm": _path(state.mapper.class_), "id": list(state.identity)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"$dict": {k: _encode(v) for k, v in value.items()}}
    raise Unencodable(f"a {type(value).__name__} value")


def encode_event(ev: Event, app: Any) -> dict[str, Any]:
    """``ev`` as JSON: its class, its time and its fields (ORM objects by class and identity)."""
    cls = type(ev)
    if cls not in app.extensions["conveyor"].events and "<locals>" in cls.__qualname__:
        raise Unencodable(f"{cls.__qualname__} is neither registered nor importable")
    return {"type": _path(cls), "at": ev.at.isoformat(),
            "fields": {f.name: _encode(getattr(ev, f.name)) for f in fields(ev)}}


def _order_key(payload: list[dict[str, Any]]) -> str | None:
    """The first record the events are about: its events are tracked in commit order."""
    for ev in payload:
        for value in ev["fields"].values():
            if isinstance(value, dict) and "$orm" in value:
                return f"track:{value['$orm'].rpartition(':')[2]}:{value['id'][0]}"[:120]
    return None


def _resolve(path: str, app: Any) -> Any:
    for cls in app.extensions["conveyor"].events:
        if _path(cls) == path:
            return cls
    module, _, name = path.partition(":")
    found: Any = importlib.import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    return found


def decode_events(payload: list[dict[str, Any]], session: Session, app: Any) -> list[Event]:
    """The events again, their ORM objects loaded in ``session`` (one query per class; a
    record deleted meanwhile comes back as ``None``)."""
    wanted: dict[str, set[tuple[Any, ...]]] = {}

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            if "$orm" in value:
                wanted.setdefault(value["$orm"], set()).add(tuple(value["id"]))
            else:
                for v in value.values():
                    collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)

    for ev in payload:
        collect(ev["fields"])
    loaded: dict[tuple[str, tuple[Any, ...]], Any] = {}
    for path, identities in wanted.items():
        cls = _resolve(path, app)
        pk = sa_inspect(cls).primary_key
        if len(pk) != 1:
            loaded.update({(path, i): session.get(cls, i) for i in identities})
            continue
        for obj in session.scalars(select(cls).where(pk[0].in_([i[0] for i in identities]))):
            loaded[(path, tuple(sa_inspect(obj).identity))] = obj

    def decode(value: Any) -> Any:
        if isinstance(value, list):
            return [decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "$orm" in value:
            return loaded.get((value["$orm"], tuple(value["id"])))
        if "$datetime" in value:
            return datetime.fromisoformat(value["$datetime"])
        if "$date" in value:
            return date.fromisoformat(value["$date"])
        if "$decimal" in value:
            return Decimal(value["$decimal"])
        if "$tuple" in value:
            return tuple(decode(v) for v in value["$tuple"])
        return {k: decode(v) for k, v in value["$dict"].items()}

    out = []
    for ev in payload:
        cls = _resolve(ev["type"], app)
        obj = cls.__new__(cls)  # no __post_init__: ``at`` is the original moment
        for name, value in ev["fields"].items():
            setattr(obj, name, decode(value))
        obj.at = datetime.fromisoformat(ev["at"])
        out.append(obj)
    return out


def track_events(events: list[dict[str, Any]], only: list[str] | None = None) -> None:
    """The ``core.track_events`` job: every ``track_event`` implementation (or those named in
    ``only``) over one transaction's events, each implementation in a transaction of its own.
    A failing one is queued again on its own (so the others don't run twice); when it is the
    only one, the job raises and the outbox retries it with backoff."""
    from .extensions import db
    from .jobs import enqueue

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    impls = [impl for impl in app.extensions["conveyor"].pm.hook.track_event.get_hookimpls()
             if only is None or impl.plugin_name in only]
    if not impls:
        return
    session = db.session()
    session.expire_on_commit = False  # the reloaded objects stay readable between trackers
    decoded = decode_events(events, session, app)
    failed: list[str] = []
    for impl in impls:
        try:
            for ev in decoded:
                impl.function(**_args(impl, ev))
            session.commit()  # the core owns the session: a plugin never commits
        except Exception:
            session.rollback()
            if len(impls) == 1:
                raise  # the outbox records it and retries with backoff
            log.exception("track_event of %s failed; queued again on its own",
                          impl.plugin_name)
            failed.append(impl.plugin_name)
    for name in failed:
        enqueue(TRACK_JOB, events=events, only=[name])
