"""The timeline box of the customer and deal cards: newest entries as plain rows."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select

from ..models import TimelineEntry, User
from ..queries import written_limit
from .listing import plain_rows

TIMELINE_ROWS = 50


def timeline_rows(statement: Select[Any], **params: Any) -> list[Any]:
    """The rows of a :func:`timeline_statement`, with its bind parameters."""
    return plain_rows(statement, params)


def timeline_statement(*criteria: ColumnElement[bool], limit: int = TIMELINE_ROWS
                       ) -> Select[Any]:
    """The newest entries matching ``criteria``, with who posted them (``by_label``) joined in
    the same statement: rows, not ORM objects, since a card only reads them."""
    return (select(TimelineEntry.at, TimelineEntry.kind, TimelineEntry.message,
                   func.coalesce(User.display_name, User.username).label("by_label"))
            .outerjoin(User, User.id == TimelineEntry.by_id).where(*criteria)
            .order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc()).limit(written_limit(limit)))


@lru_cache(maxsize=1)
def deal_timeline() -> Select[Any]:
    """A deal's entries (``deal_id`` bound): visible to whoever sees the deal, so built once."""
    return timeline_statement(TimelineEntry.deal_id == bindparam("deal_id"))
