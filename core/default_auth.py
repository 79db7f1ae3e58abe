"""Bearer tokens for machines: ``Authorization: Bearer cvr_…``; only hashes are stored."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .extensions import db
from .hookspecs import hookimpl
from .models import ApiToken, User
from .types import utcnow


@hookimpl(trylast=True)
def user_from_request(request: Any) -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == ApiToken.hash(secret.strip()))
    )
    if token is None or not token.user.active:
        return None
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now  # written at most once a minute, not on every call
        db.session.commit()
    return token.user
