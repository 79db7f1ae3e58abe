"""Liveness, database and (when configured) Redis status for load balancers and monitors."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from ..extensions import db
from ..permissions import public
from ..rq_backend import backend

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz() -> Any:
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # noqa: BLE001 - the answer is the status, not a traceback
        db.session.rollback()
        database = f"error: {type(exc).__name__}"
    ok = database == "ok"
    extra: dict[str, str] = {}
    rq = backend(current_app)
    if rq is not None:
        # Reported, not failed on: without Redis requests still succeed (the outbox holds
        # the work), so a load balancer must not take every instance out for it.
        extra["redis"] = "ok" if rq.ping() else "error: unreachable"
    status = "ok" if ok and extra.get("redis", "ok") == "ok" else ("degraded" if ok else "error")
    return jsonify(status=status, database=database, backend=db.engine.dialect.name,
                   **extra), 200 if ok else 503
