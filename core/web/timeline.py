"""The timeline of the customer and deal cards: newest entries as plain rows.

One place decides what a card's timeline holds for a reader (:func:`card_timeline_statement`),
so a panel that shows the timeline merged into its own list (the discussions thread) reads the
same entries as the card's box would, and the card then leaves its box out
(:func:`card_timeline`, ``Panel.merges_timeline``): the timeline is shown once.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select

from ..models import Deal, TimelineEntry, User
from ..permissions import can, scope, scoped_statement
from ..queries import written_limit
from ..types import UTCDateTime
from .listing import plain_rows

TIMELINE_ROWS = 50


def timeline_rows(statement: Select[Any], **params: Any) -> list[Any]:
    """The rows of a :func:`timeline_statement`, with its bind parameters."""
    return plain_rows(statement, params)


def timeline_statement(*criteria: ColumnElement[bool], limit: int = TIMELINE_ROWS
                       ) -> Select[Any]:
    """The newest entries matching ``criteria``, with who posted them (``by_label``) joined in
    the same statement: rows, not ORM objects, since a card only reads them."""
    return (select(TimelineEntry.id, TimelineEntry.at, TimelineEntry.kind, TimelineEntry.message,
                   func.coalesce(User.display_name, User.username).label("by_label"))
            .outerjoin(User, User.id == TimelineEntry.by_id).where(*criteria)
            .order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc()).limit(written_limit(limit)))


def _paged(paged: bool) -> list[ColumnElement[bool]]:
    return [TimelineEntry.at < bindparam("before", type_=UTCDateTime)] if paged else []


@lru_cache(maxsize=16)
def _deal_timeline(limit: int, paged: bool) -> Select[Any]:
    # visible to whoever sees the deal: built once per process
    return timeline_statement(TimelineEntry.deal_id == bindparam("record_id"), *_paged(paged),
                              limit=limit)


def card_timeline_statement(target: str, user: Any, limit: int = TIMELINE_ROWS,
                            paged: bool = False) -> Select[Any]:
    """What the ``target`` card's timeline ("deal" or "customer") shows ``user``, newest first;
    bind ``record_id`` (and ``before``, an aware datetime, when ``paged``). A customer's entries
    about a deal show only to those who may see that deal (a marketer sees none of them)."""
    if target == "deal":
        return _deal_timeline(limit, paged)
    if target != "customer":
        raise ValueError(f"no card timeline for {target!r}")
    sees_deals = can(user, "deals.view")

    def build() -> Select[Any]:
        about_deals = or_(TimelineEntry.deal_id.is_(None), TimelineEntry.deal_id.in_(
            select(Deal.id).where(scope(Deal, user)))) if sees_deals \
            else TimelineEntry.deal_id.is_(None)
        return timeline_statement(TimelineEntry.customer_id == bindparam("record_id"),
                                  about_deals, *_paged(paged), limit=limit)

    return scoped_statement(Deal, user, ("card_timeline", sees_deals, limit, paged), build)


def card_timeline(target: str, record_id: int, user: Any, panels: list[Any]) -> list[Any] | None:
    """The rows of the card's timeline box, or ``None`` when one of the card's ``panels``
    shows the timeline itself (``merges_timeline``): the card then has no box of its own and
    spends no statement on it."""
    if timeline_merged(panels):
        return None
    return timeline_rows(card_timeline_statement(target, user), record_id=record_id)


def timeline_merged(panels: list[Any]) -> bool:
    """Whether one of a card's ``panels`` shows the timeline itself (``merges_timeline``)."""
    return any(getattr(panel, "merges_timeline", False) for panel in panels)
