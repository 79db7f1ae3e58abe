"""Liveness and database status for load balancers and monitors."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import text

from ..extensions import db
from ..permissions import public

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
    return jsonify(status="ok" if ok else "error", database=database,
                   backend=db.engine.dialect.name), 200 if ok else 503
