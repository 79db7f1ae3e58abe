"""Bearer tokens for machines: ``Authorization: Bearer cvr_…``; only hashes are stored."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import g
from sqlalchemy import String, bindparam, select, update
from sqlalchemy.orm import joinedload

from . import change_stamps
from .extensions import db
from .hookspecs import hookimpl
from .models import ApiToken, User
from .types import utcnow


@lru_cache(maxsize=1)
def _token_statement() -> Any:
    """The token's user, its last use and what the session load carries (role and pipeline
    stamps, unread notifications: ``conveyor.auth``), in one statement built once. Before, a
    token request ran three (token, its user, the roles stamp)."""
    from .auth import user_row_columns

    return (select(User, ApiToken.id, ApiToken.last_used_at, *user_row_columns(User.id))
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == bindparam("token_hash", type_=String))
            .options(joinedload(User.role_grants)))


@hookimpl(trylast=True)
def user_from_request(request: Any) -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    row = db.session.execute(_token_statement(),
                             {"token_hash": ApiToken.hash(secret.strip())}).unique().first()
    if row is None:
        return None
    user, token_id, last_used_at, settings_count, settings_at, unread, *stamps = row
    if not user.active:
        return None
    g.conveyor_roles_stamp = (settings_count, settings_at)
    change_stamps.remember(stamps)
    g.unread_notifications = unread or 0
    now = utcnow()
    if last_used_at is None or (now - last_used_at).total_seconds() > 60:
        # written at most once a minute, not on every call
        db.session.execute(update(ApiToken).where(ApiToken.id == token_id)
                           .values(last_used_at=now))
        db.session.commit()
    return user
