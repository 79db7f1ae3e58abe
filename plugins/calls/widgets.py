"""The telemarketer's home widget: the next people to call."""
from __future__ import annotations

from typing import Any

from flask import render_template
from sqlalchemy import func, select

from conveyor import Widget, db
from conveyor.i18n import _l
from conveyor.types import utcnow

from .models import QueueItem
from .services import my_queue
from .whom import whom

WIDGET_SIZE = 5


def render_my_queue(user: Any) -> str:
    now = utcnow()
    due, _later = my_queue(user, limit=WIDGET_SIZE, now=now)
    later_count = db.session.scalar(select(func.count()).select_from(QueueItem).where(
        QueueItem.owner_id == user.id, QueueItem.done_at.is_(None), QueueItem.due_at > now))
    return render_template("calls/widget_queue.html", due=due,
                           who=whom(due, user, phones=True), later_count=later_count or 0)


WIDGETS = [Widget("calls.my_queue", _l("My call queue"), "calls.log", render_my_queue)]
