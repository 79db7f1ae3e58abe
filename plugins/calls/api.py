"""REST: /api/v1/calls — list, get, log a call; /api/v1/calls/stats."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint, abort
from sqlalchemy import select

from conveyor import csrf, db, require
from conveyor.api.common import keyset_page, saving
from conveyor.api.fastdump import dumped
from conveyor.types import utcnow

from .models import Call
from .schemas import (
    CallPageSchema,
    CallQuerySchema,
    CallSchema,
    CallStatsQuerySchema,
    CallStatsSchema,
)
from .services import CallError, log_call, visible_calls
from .stats import call_stats

blp = Blueprint("calls_api", __name__, url_prefix="/api/v1/calls",
                description="Calls logged by telemarketers, and their counts per period.")
csrf.exempt(blp)
ID = "<int(max=2147483647):call_id>"


@blp.route("/")
class Calls(MethodView):
    @require("calls.log")
    @blp.arguments(CallQuerySchema, location="query")
    @blp.response(200, CallPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Calls you may see, newest first; page on with ``before=<next_before>``."""
        query = select(Call).where(visible_calls(current_user))
        for key, column in (("owner_id", Call.owner_id), ("result", Call.result),
                            ("customer_id", Call.customer_id)):
            if key in args:
                query = query.where(column == args[key])
        if "start" in args:
            query = query.where(Call.created_at >= args["start"])
        if "end" in args:
            query = query.where(Call.created_at < args["end"])
        return keyset_page(query, Call.id, args)

    @require("calls.log")
    @blp.arguments(CallSchema)
    @blp.response(201, CallSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Log a call as the token's user: a call back books a queue item, interest a lead."""
        try:
            with saving():  # the call stays loaded after the commit: no SELECT to answer
                call = log_call(data, by=current_user._get_current_object())
        except CallError as exc:
            db.session.rollback()
            abort(422, errors={"json": {exc.field: [exc.message]}})
        return dumped(CallSchema, call, 201)


@blp.route(f"/{ID}")
class CallOne(MethodView):
    @require("calls.log")
    @blp.response(200, CallSchema)
    def get(self, call_id: int) -> Call:
        call = db.session.scalar(select(Call).where(Call.id == call_id)
                                 .where(visible_calls(current_user)))
        if call is None:
            abort(404, message="No such call.")
        return call


@blp.route("/stats")
class Stats(MethodView):
    @require("calls.log")
    @blp.arguments(CallStatsQuerySchema, location="query")
    @blp.response(200, CallStatsSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Calls, interested calls and distinct leads found per (period, telemarketer), in UTC.

        Without ``calls.view_team`` only your own calls are counted.
        """
        end = args.get("end") or utcnow().date()
        start = args.get("start") or end - timedelta(days=29)
        if (end - start).days < 0:
            abort(422, errors={"query": {"to": ["The end is before the start."]}})
        rows = call_stats(current_user, args["period"], start, end, args.get("owner_id"))
        return {"period": args["period"], "start": start, "end": end, "rows": rows}
