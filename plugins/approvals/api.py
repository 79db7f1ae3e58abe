"""REST: /api/v1/approvals — the caller's queue, a request with its history, creating and
withdrawing requests, approving and sending back."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint, abort
from sqlalchemy import bindparam, select

from conveyor import db, require
from conveyor.api.common import errors, field_error, id_rule
from conveyor.queries import written_limit

from . import services
from .models import ApprovalRequest
from .resources import Approver
from .schemas import (
    ApprovalCreateSchema,
    ApprovalPageSchema,
    ApprovalQuerySchema,
    ApprovalSchema,
    ChangesSchema,
    CommentSchema,
)

blp = Blueprint("approvals_api", __name__, url_prefix="/api/v1/approvals",
                description="Approval requests: the caller's queue, decisions and history.")


def me() -> Any:
    return current_user._get_current_object()


def visible(request_id: int) -> ApprovalRequest:
    """The request when the caller requested it, may decide it or may see its record."""
    found = db.session.get(ApprovalRequest, request_id)
    if found is not None and (found.requested_by_id == me().id
                              or services.is_approver(found, me())):
        return found
    spec = services.approvables().get(found.resource) if found is not None else None
    if found is None or spec is None or spec.load(found.record_id, me()) is None:
        abort(404, message="No such approval request, or you may not see it.")
    return found


def with_history(item: ApprovalRequest) -> ApprovalRequest:
    item.history = [  # type: ignore[attr-defined]
        {"action": s.action, "at": s.at, "comment": s.comment, "version": s.version,
         "by_id": s.by_id} for s in _steps(item.id)]
    return item


def _steps(request_id: int) -> list[Any]:
    from .models import ApprovalStep

    return list(db.session.scalars(select(ApprovalStep).where(
        ApprovalStep.request_id == request_id).order_by(ApprovalStep.id)))


def refuse(error: services.ApprovalError) -> None:
    db.session.rollback()
    if error.status == 422 and error.field:
        field_error(error.field, str(error.message))
    abort(error.status, message=str(error.message))


def _latest_statement() -> Any:
    r = ApprovalRequest.__table__
    return (select(r.c.id, r.c.deal_id, r.c.status, r.c.version)
            .where(r.c.deal_id.in_(bindparam("deal_ids", expanding=True)),
                   r.c.resource == "deal").order_by(r.c.id))


_LATEST: list[Any] = []


def latest_by_deal(deal_ids: list[int]) -> dict[int, dict[str, Any]]:
    """``approval`` for the API's deals: their latest "deal" request (one statement, built once
    and run on the session's connection: every deal write's answer carries it)."""
    if not _LATEST:
        _LATEST.append(_latest_statement())
    out: dict[int, dict[str, Any]] = {i: {"approval": None} for i in deal_ids}
    for row in db.session.connection().execute(_LATEST[0], {"deal_ids": list(deal_ids)}):
        out[row.deal_id] = {"approval": {"id": row.id, "status": row.status,
                                         "version": row.version}}
    return out


@blp.route("", tags=["approvals"])
class Approvals(MethodView):
    @require("approvals.view")
    @errors(401, 403)
    @blp.arguments(ApprovalQuerySchema, location="query")
    @blp.response(200, ApprovalPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """The caller's approvals

        `status=pending` (the default): the requests waiting for the caller's decision, oldest
        first. Another status: the requests the caller decided with it. `mine=true`: the
        caller's own requests. Page on with `after=<next_after>`.
        """
        size, after, r = args["page_size"], args.get("after"), ApprovalRequest
        if args["status"] == "pending" and not args["mine"]:
            query = services.queue_statement(me(), size + 1, after)
            params = services.queue_params(me(), after)
        else:
            params = {}
            who = r.requested_by_id if args["mine"] else r.decided_by_id
            criteria = [who == me().id, r.status == args["status"]]
            if after is not None:
                criteria.append(r.id > after)
            query = services.rows_statement(*criteria).order_by(r.id).limit(
                written_limit(size + 1))
        rows = list(db.session.execute(query, params))
        more = len(rows) > size
        rows = rows[:size]
        return {"items": rows, "pagination": {"page_size": size, "after": after,
                                              "next_after": rows[-1].id if more else None}}

    @require("approvals.request")
    @errors(401, 403, 404, 409)
    @blp.arguments(ApprovalCreateSchema)
    @blp.response(201, ApprovalSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Send a record for approval

        The record's current version is what gets approved. An open request on the record is
        sent again (with the new version) instead of a second one being made.
        """
        spec = services.approvables().get(data["resource"])
        if spec is None:
            field_error("resource", "Nothing of this kind can be sent for approval.")
        record = spec.load(data["record_id"], me())
        if record is None:
            abort(404, message="No such record, or you may not see it.")
        given = data.get("approver")
        approver = None if given is None else Approver(given["rule"], role=given.get("role"),
                                                        user_id=given.get("user_id"))
        try:
            item = services.request_approval(data["resource"], record, me(), approver,
                                             data["note"])
            db.session.commit()
        except services.ApprovalError as error:
            refuse(error)
        return with_history(item)


@blp.route(f"/{id_rule('request_id')}", tags=["approvals"])
class ApprovalItem(MethodView):
    @require("approvals.view")
    @errors(401, 403, 404)
    @blp.response(200, ApprovalSchema)
    def get(self, request_id: int) -> Any:
        """An approval request with its history"""
        return with_history(visible(request_id))


def _decision(request_id: int, act: Any, comment: str) -> Any:
    item = visible(request_id)
    try:
        act(item, me(), comment)
        db.session.commit()
    except services.ApprovalError as error:
        refuse(error)
    return with_history(item)


@blp.route(f"/{id_rule('request_id')}/approve", tags=["approvals"])
class Approve(MethodView):
    @require("approvals.decide")
    @errors(401, 403, 404, 409)
    @blp.arguments(CommentSchema)
    @blp.response(200, ApprovalSchema)
    def post(self, data: dict[str, Any], request_id: int) -> Any:
        """Approve

        Only an approver may (403 otherwise, also for one's own request). A request decided
        meanwhile, or whose record changed since it was sent, is a 409.
        """
        return _decision(request_id, services.approve, data["comment"])


@blp.route(f"/{id_rule('request_id')}/request-changes", tags=["approvals"])
class RequestChanges(MethodView):
    @require("approvals.decide")
    @errors(401, 403, 404, 409)
    @blp.arguments(ChangesSchema)
    @blp.response(200, ApprovalSchema)
    def post(self, data: dict[str, Any], request_id: int) -> Any:
        """Send back for changes

        `comment` is required (422 without): say what needs to change.
        """
        return _decision(request_id, services.request_changes, data["comment"])


@blp.route(f"/{id_rule('request_id')}/withdraw", tags=["approvals"])
class Withdraw(MethodView):
    @require("approvals.request")
    @errors(401, 403, 404, 409)
    @blp.arguments(CommentSchema)
    @blp.response(200, ApprovalSchema)
    def post(self, data: dict[str, Any], request_id: int) -> Any:
        """Withdraw one's open request"""
        return _decision(request_id, services.withdraw, data["comment"])
