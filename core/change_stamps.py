"""Change stamps: how a process learns that something it keeps between requests went stale.

Each name (``NAMES``) has a random token in ``change_stamps`` (conveyor.models.ChangeStamp),
renewed by :func:`touch` in the same transaction as every change to what the name covers:
"pipelines" (pipelines and stages: conveyor.pipelines), "rates" (exchange rates:
conveyor.money). A process keeps its copy with the token it was built under and rebuilds when
the database's token differs. The tokens ride along the signed-in user's load (conveyor.auth:
:func:`stamp_columns`), so checking them costs no statement of its own.

Code that writes what a name covers without the ORM or the module's own writer (raw SQL, a bulk
loader) must call :func:`touch` in the same transaction. No row yet (a database filled before
any touch): nothing is kept, as there would be nothing to compare with later.
"""
from __future__ import annotations

import secrets
from typing import Any

from flask import g, has_request_context
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .dialects import dialect_module
from .extensions import db
from .models import ChangeStamp

NAMES = ("pipelines", "rates")


def stamp_columns() -> list[Any]:
    """Each name's token as a scalar subquery, in ``NAMES`` order, to ride along another
    statement; give what comes back to :func:`remember`."""
    return [select(ChangeStamp.token).where(ChangeStamp.name == name)
            .scalar_subquery().label(f"{name}_stamp") for name in NAMES]


def remember(tokens: Any) -> None:
    """Keep this request's tokens (``stamp_columns``' values, in order)."""
    g.conveyor_stamps = dict(zip(NAMES, tokens, strict=True))


def current(name: str) -> str | None:
    """``name``'s token as this request read it (read now if the request hasn't: no user load,
    or outside a request)."""
    known = g.get("conveyor_stamps") if has_request_context() else None
    if known is not None and name in known:
        return known[name]
    token = db.session.scalar(select(ChangeStamp.token).where(ChangeStamp.name == name))
    if has_request_context():
        g.conveyor_stamps = {**(known or {}), name: token}
    return token


def touch(session: Session, name: str) -> None:
    """Renew ``name``'s token in the session's transaction: every process rebuilds its copy."""
    conn = session.connection()
    token = secrets.token_hex(16)
    dialect = dialect_module(conn.dialect.name)
    table = ChangeStamp.__table__
    if dialect is not None:
        stmt = dialect.insert(table).values(name=name, token=token)
        conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"token": token}))
    elif not conn.execute(update(table).where(table.c.name == name)
                          .values(token=token)).rowcount:
        conn.execute(table.insert().values(name=name, token=token))
    if has_request_context() and g.get("conveyor_stamps") is not None:
        g.conveyor_stamps.pop(name, None)  # this request reads the new token from now on
