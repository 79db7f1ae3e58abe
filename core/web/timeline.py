"""The timeline box of the customer and deal cards: newest entries as plain rows."""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select

from ..extensions import db
from ..models import TimelineEntry, User
from .listing import plain_rows

TIMELINE_ROWS = 50


def timeline_rows(*criteria: ColumnElement[bool], limit: int = TIMELINE_ROWS) -> list[Any]:
    """The newest entries matching ``criteria``, with who posted them (``by_label``) joined in
    the same statement: rows, not ORM objects, since a card only reads them."""
    return plain_rows(db.session.execute(
        select(TimelineEntry.at, TimelineEntry.kind, TimelineEntry.message,
               func.coalesce(User.display_name, User.username).label("by_label"))
        .outerjoin(User, User.id == TimelineEntry.by_id).where(*criteria)
        .order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc()).limit(limit)))
