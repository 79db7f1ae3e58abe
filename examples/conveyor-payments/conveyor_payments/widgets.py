"""The home widget: money received this month, one line per currency."""
from __future__ import annotations

from typing import Any

from flask import render_template

from conveyor.types import utcnow

from .services import paid_per_currency


def render_widget(user: Any) -> str:
    today = utcnow().date()
    return render_template("payments/widget.html",
                           totals=paid_per_currency(user, today.replace(day=1)))
