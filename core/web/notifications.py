"""In-app notifications: the user's list, mark read, open (mark read and follow the link).

``conveyor.notify()`` creates them (usually from a plugin's ``track_event``); the header shows
the unread count through :func:`unread_count`, one indexed query per page.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select, update

from ..extensions import db
from ..i18n import _
from ..models import Notification
from ..permissions import login_required
from ..queries import written_limit
from ..types import utcnow
from .listing import before_arg, keyset_page

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
ID = "<int(max=2147483647):note_id>"
UNREAD_CAP = 100  # the badge says "99+" beyond this; counting further would cost without use


def unread_count(user: Any) -> int:
    """Unread notifications of ``user``, counted up to ``UNREAD_CAP`` (index on user, read_at)."""
    capped = (select(Notification.id).where(Notification.user_id == user.id)
              .where(Notification.read_at.is_(None)).limit(UNREAD_CAP).subquery())
    return db.session.scalar(select(func.count()).select_from(capped)) or 0


def unread_count_column(user_id: Any) -> Any:
    """:func:`unread_count` as a scalar subquery, so the user's own load can carry it."""
    # A subquery in FROM is not correlated by itself: without correlate_except, a column such
    # as ``User.id`` (the bearer-token load) put ``users`` in its own FROM and counted
    # everyone's unread notifications.
    capped = (select(Notification.id).where(Notification.user_id == user_id)
              .where(Notification.read_at.is_(None)).correlate_except(Notification)
              .limit(written_limit(UNREAD_CAP)).subquery())
    return select(func.count()).select_from(capped).scalar_subquery()


def _own(note_id: int) -> Notification:
    note = db.session.scalar(select(Notification).where(
        Notification.id == note_id, Notification.user_id == current_user.id))
    if note is None:
        abort(404)
    return note


@bp.get("/")
@login_required
def index() -> Any:
    query = select(Notification).where(Notification.user_id == current_user.id)
    if request.args.get("unread") == "1":
        query = query.where(Notification.read_at.is_(None))
    page = keyset_page(query, Notification.id, before_arg())
    args = {k: v for k, v in request.args.items() if k != "before"}
    return render_template("notifications/index.html", page=page, args=args,
                           unread_only=request.args.get("unread") == "1")


@bp.post(f"/{ID}/read")
@login_required
def mark_read(note_id: int) -> Any:
    note = _own(note_id)
    if note.read_at is None:
        note.read_at = utcnow()
        db.session.commit()
    return redirect(url_for(".index"))


@bp.post(f"/{ID}/open")
@login_required
def open_(note_id: int) -> Any:
    """Mark read and go where the notification points (same-site links only)."""
    note = _own(note_id)
    if note.read_at is None:
        note.read_at = utcnow()
        db.session.commit()
    url = note.url or ""
    if url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return redirect(url)
    return redirect(url_for(".index"))


@bp.post("/read-all")
@login_required
def mark_all_read() -> Any:
    db.session.execute(update(Notification)
                       .where(Notification.user_id == current_user.id)
                       .where(Notification.read_at.is_(None)).values(read_at=utcnow()))
    db.session.commit()
    flash(_("All notifications are marked as read."), "success")
    return redirect(url_for(".index"))
