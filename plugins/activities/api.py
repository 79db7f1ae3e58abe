"""REST: /api/v1/activities — list, create, change, mark done."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint, abort
from sqlalchemy import select

from conveyor import csrf, db, require
from conveyor.api.common import keyset_page

from .models import Activity
from .schemas import (
    ActivityPageSchema,
    ActivityQuerySchema,
    ActivityRecordPatchSchema,
    ActivityRecordSchema,
    DoneSchema,
)
from .services import ActivityError, complete, create_activity, update_activity, visible

blp = Blueprint("activities_api", __name__, url_prefix="/api/v1/activities",
                description="Tasks, calls, meetings and visits: the seller's next steps.")
csrf.exempt(blp)
ID = "<int(max=2147483647):activity_id>"


def _refused(exc: ActivityError) -> None:
    db.session.rollback()
    abort(422, errors={"json": {exc.field: [exc.message]}})


def _visible_or_404(activity_id: int) -> Activity:
    activity = db.session.scalar(select(Activity).where(Activity.id == activity_id,
                                                        visible(current_user)))
    if activity is None:
        abort(404, message="No such activity.")
    return activity


@blp.route("/")
class Activities(MethodView):
    @require("activities.use")
    @blp.arguments(ActivityQuerySchema, location="query")
    @blp.response(200, ActivityPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Activities you may see (yours, your scope's, those you handed out), newest first;
        page on with ``before=<next_before>``."""
        query = select(Activity).where(visible(current_user))
        if "assignee" in args:
            who = current_user.id if args["assignee"] == "me" else args["assignee"]
            query = query.where(Activity.assignee_id == who)
        for key, col in (("status", Activity.status), ("deal_id", Activity.deal_id),
                         ("customer_id", Activity.customer_id), ("kind", Activity.kind)):
            if key in args:
                query = query.where(col == args[key])
        if "due_before" in args:
            query = query.where(Activity.due_at < args["due_before"])
        if "due_after" in args:
            query = query.where(Activity.due_at >= args["due_after"])
        return keyset_page(query, Activity.id, args)

    @require("activities.use")
    @blp.arguments(ActivityRecordSchema)
    @blp.response(201, ActivityRecordSchema)
    def post(self, data: dict[str, Any]) -> Activity:
        """Plan an activity (for you, a colleague or the team's assistant)."""
        status = data.pop("status", "planned")
        result = data.pop("result", None)
        try:
            activity = create_activity(data, by=current_user._get_current_object())
            if status != "planned":
                update_activity(activity, {"status": status, "result": result or ""},
                                by=current_user._get_current_object())
            db.session.commit()
        except ActivityError as exc:
            _refused(exc)
        return activity


@blp.route(f"/{ID}")
class ActivityOne(MethodView):
    @require("activities.use")
    @blp.response(200, ActivityRecordSchema)
    def get(self, activity_id: int) -> Activity:
        return _visible_or_404(activity_id)

    @require("activities.use")
    @blp.arguments(ActivityRecordPatchSchema(partial=True))
    @blp.response(200, ActivityRecordSchema)
    def patch(self, data: dict[str, Any], activity_id: int) -> Activity:
        """Change the given fields (a new ``due_at`` reschedules, ``status`` closes or reopens)."""
        activity = _visible_or_404(activity_id)
        try:
            update_activity(activity, data, by=current_user._get_current_object())
            db.session.commit()
        except ActivityError as exc:
            _refused(exc)
        return activity


@blp.route(f"/{ID}/done")
class ActivityDone(MethodView):
    @require("activities.use")
    @blp.arguments(DoneSchema)
    @blp.response(200, ActivityRecordSchema)
    def post(self, data: dict[str, Any], activity_id: int) -> Activity:
        """Mark it done, with its result (and, for a visit, the percent of progress)."""
        activity = _visible_or_404(activity_id)
        try:
            complete(activity, by=current_user._get_current_object(), result=data["result"],
                     progress=data["progress"])
            db.session.commit()
        except ActivityError as exc:
            _refused(exc)
        return activity
