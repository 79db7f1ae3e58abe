"""How a request's database transaction ends: a request that wrote nothing commits.

On PostgreSQL, psycopg drops every prepared statement of a connection when it sees a ROLLBACK
(a rolled-back DDL may have changed what they refer to). Ending each page view with one, as a
session closed without committing does, made every statement be parsed and planned again on
the next request: 0.5–1 ms for the board's cards at 100k deals. Committing a transaction that
wrote nothing is as cheap and changes nothing, and the prepared statements stay.

"Wrote nothing": a safe method (GET, HEAD, OPTIONS), no exception, nothing pending in the
session, no ORM flush and no statement other than a SELECT or an ``Explain`` of one (a long
list's "about N") in this request (listeners below keep the flag in ``g``). Until the
``EXPLAIN`` counted as a read, every long list ended in a ROLLBACK and re-planned all its
statements on the next view: a team's deals list took 7.3 ms instead of 4.9. Anything else
ends as before: the session is closed and rolls back.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql import CompoundSelect, Select

from .extensions import db
from .queries import Explain

log = logging.getLogger("conveyor.db")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def init_request_transactions(app: Flask) -> None:
    app.teardown_request(_end_transaction)  # runs before Flask-SQLAlchemy removes the session


def _end_transaction(exc: BaseException | None) -> None:
    session = db.session()  # the request's Session (db.session is its scoped registry)
    if exc is not None or request.method not in SAFE_METHODS or g.get("conveyor_wrote") \
            or not session.in_transaction() or session.new or session.dirty or session.deleted:
        return
    expire, session.expire_on_commit = session.expire_on_commit, False  # nothing changed:
    try:  # what was read stays readable (a streamed response may still use it)
        session.commit()
    except Exception:  # noqa: BLE001 - the session's removal rolls back and reports it
        log.warning("could not end a read-only request's transaction", exc_info=True)
    finally:
        session.expire_on_commit = expire


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, flush_context: Any) -> None:
    if has_request_context():
        g.conveyor_wrote = True


@event.listens_for(Engine, "before_cursor_execute")
def _statement(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
    if not has_request_context() or g.get("conveyor_wrote"):
        return
    compiled = getattr(context, "compiled", None)
    if compiled is not None and isinstance(compiled.statement, (Select, CompoundSelect, Explain)):
        return
    if statement.lstrip().upper().startswith("SELECT"):
        return
    g.conveyor_wrote = True
