"""What the one-click actions of a list print on every row, worked out once per page: the
translated labels, the actions' base address and the CSRF token (a row costs string joins)."""
from __future__ import annotations

from typing import Any

from flask import url_for
from flask_wtf.csrf import generate_csrf

from conveyor.i18n import _


def action_context() -> dict[str, Any]:
    return {"csrf": generate_csrf(), "t": {
        "base": url_for("activities.index"), "done": _("Done"), "mark_done": _("Mark done"),
        "plus_day": _("+1 day"), "monday": _("Next Monday"), "pick": _("Pick a date"),
        "move": _("Move")}}
