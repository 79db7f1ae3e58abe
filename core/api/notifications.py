"""/api/v1/notifications: the caller's in-app notifications, newest first; mark one read.

Only the caller's own rows are ever read or changed: another user's notification is a 404,
exactly like one that does not exist.
"""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from ..extensions import db
from ..models import Notification
from ..permissions import login_required
from ..types import utcnow
from .common import PageQuery, errors, id_rule, keyset_page, not_found, page_schema

blp = Blueprint("api_notifications", __name__, url_prefix="/api/v1/notifications",
                description="The caller's in-app notifications (the header's bell).")
TAG = "notifications"


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "What it is about, e.g. `discussions.mention`."})
    message = fields.String(metadata={"description": "In the recipient's language."})
    url = fields.String(metadata={"description": "Where it points (a path on this site)."})
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class NotificationQuerySchema(PageQuery):
    unread = fields.Boolean(metadata={"description": "Only unread ones."})


NotificationPageSchema = page_schema(NotificationSchema, "NotificationPage")


@blp.route("", tags=[TAG])
class Notifications(MethodView):
    @login_required
    @errors(401)
    @blp.arguments(NotificationQuerySchema, location="query")
    @blp.response(200, NotificationPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List my notifications

        Newest first, a page at a time (`before`, `page_size`); `unread=true` leaves out the
        ones already read.
        """
        query = select(Notification).where(Notification.user_id == current_user.id)
        if args.get("unread"):
            query = query.where(Notification.read_at.is_(None))
        page, headers = keyset_page(query, Notification.id, args)
        return page, 200, headers


@blp.route(f"/{id_rule('note_id')}/read", tags=[TAG])
class NotificationRead(MethodView):
    @login_required
    @errors(401, 404)
    @blp.response(200, NotificationSchema)
    def post(self, note_id: int) -> Any:
        """Mark a notification read

        Idempotent: a notification already read keeps its first `read_at`.
        """
        note = db.session.scalar(select(Notification).where(
            Notification.id == note_id, Notification.user_id == current_user.id))
        if note is None:
            not_found("notification")
        if note.read_at is None:
            note.read_at = utcnow()
            db.session.commit()
        return note
