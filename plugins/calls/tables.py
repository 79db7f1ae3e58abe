"""Lookups and CSV output shared by the calls screens and API."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Response
from sqlalchemy import select

from conveyor import colleagues, db
from conveyor.csv_export import csv_response
from conveyor.i18n import _
from conveyor.models import User

from .stats import StatRow


def users_by_id(ids: Iterable[int]) -> dict[int, User]:
    """One query for the labels of a page's users."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def visible_people(user: Any) -> list[User]:
    """People who log calls and whose calls ``user`` may see (the owner filter's choices)."""
    return list(db.session.scalars(colleagues(user, "calls.log")))


def stats_csv_response(rows: list[StatRow], users: dict[int, User], filename: str) -> Response:
    """UTF-8 with a BOM so Excel reads Cyrillic and Chinese names; names that look like formulas
    are neutralised (``conveyor.csv_export``)."""
    header = [_("Period"), _("User id"), _("User"), _("Calls"), _("Interested"),
              _("Leads found"), _("No answer"), _("Call back"), _("Not interested")]
    return csv_response(filename, header, (
        [r.period, r.owner_id, users[r.owner_id].label if r.owner_id in users else "", r.calls,
         r.interested, r.leads, r.no_answer, r.call_back, r.not_interested] for r in rows))
