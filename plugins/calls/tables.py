"""Lookups and CSV output shared by the calls screens and API."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response
from sqlalchemy import select

from conveyor import colleagues, db
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


def _csv_line(values: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow(values)
    return buf.getvalue()


def stats_csv_response(rows: list[StatRow], users: dict[int, User], filename: str) -> Response:
    """UTF-8 with a BOM so Excel reads Cyrillic and Chinese names correctly."""

    def lines() -> Iterator[str]:
        yield "\ufeff" + _csv_line([_("Period"), _("User id"), _("User"), _("Calls"),
                                    _("Interested"), _("Leads found"), _("No answer"),
                                    _("Call back"), _("Not interested")])
        for r in rows:
            label = users[r.owner_id].label if r.owner_id in users else ""
            yield _csv_line([r.period, r.owner_id, label, r.calls, r.interested, r.leads,
                             r.no_answer, r.call_back, r.not_interested])

    return Response("".join(lines()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})
