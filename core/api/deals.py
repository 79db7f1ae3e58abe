"""/api/v1/deals: list, get, create, update with optimistic locking, stage moves, history.

Every write goes through :mod:`conveyor.crm`, so stage history, the timeline and events
(``DealCreated``, ``DealUpdated``, ``DealStageChanged``, ``DealWon``…) are the web's exactly.
"""
from __future__ import annotations

import re
from typing import Any

from flask import request
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint, abort
from sqlalchemy import and_, bindparam, select

from .. import crm
from ..extensions import db
from ..models import Customer, Deal, Stage, StageHistory
from ..permissions import require, scope, scoped, scoped_statement
from .common import (
    acting_user,
    errors,
    field_error,
    id_rule,
    keyset_statement_page,
    list_statement,
    not_found,
    page_size,
    saving,
    stage_gate_response,
    with_extra_fields,
)
from .customers import check_assignable
from .fastdump import dumped
from .schemas import (
    DealCreateSchema,
    DealPageSchema,
    DealPatchSchema,
    DealQuerySchema,
    DealSchema,
    HistorySchema,
    StageMoveSchema,
)

blp = Blueprint("api_deals", __name__, url_prefix="/api/v1/deals",
                description="Deals and their way through the pipeline. Changes are "
                            "optimistically locked by `version`.")
ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,10})"?\s*$')
STATUS = {
    "open": and_(Stage.is_won.is_(False), Stage.is_lost.is_(False)),
    "won": Stage.is_won.is_(True),
    "lost": Stage.is_lost.is_(True),
}
TAG = "deals"
# A move's target and current stage: built once (building it cost as much as running it).
_STAGE_PAIR = select(Stage).where(Stage.id.in_(bindparam("ids", expanding=True)))


def visible_deal(deal_id: int) -> Deal:
    # Kept per user and scope (scoped_statement): a write built this statement on every call.
    statement = scoped_statement(Deal, current_user, ("api_deal",), lambda: scoped(
        Deal, current_user).where(Deal.id == bindparam("deal_id")))
    deal = db.session.scalar(statement, {"deal_id": deal_id})
    if deal is None:
        not_found("deal")
    return deal


def etag(deal: Deal) -> dict[str, str]:
    return {"ETag": f'"{deal.version}"'}


def expected_versions(body_version: int | None) -> list[int]:
    """The versions the client says it read: the body's ``version`` and/or ``If-Match``."""
    found = [] if body_version is None else [body_version]
    header = request.headers.get("If-Match")
    if header is not None:
        match = ETAG.match(header)
        if match is None:
            abort(400, message='If-Match must hold the deal\'s version, e.g. If-Match: "3".')
        found.append(int(match.group(1)))
    return found


def check_version(deal: Deal, versions: list[int]) -> None:
    if any(v != deal.version for v in versions):
        abort(409, message=f"The deal was changed since you read it (it is now version "
                           f"{deal.version}). Fetch it again and reapply your change.",
              headers=etag(deal))


def visible_customer_id(customer_id: int) -> None:
    statement = scoped_statement(Customer, current_user, ("api_customer_id",), lambda: select(
        Customer.id).where(scope(Customer, current_user), Customer.id == bindparam("cid")))
    if db.session.scalar(statement, {"cid": customer_id}) is None:
        field_error("customer_id", "Unknown customer, or one you may not see.")


@blp.route("", tags=[TAG])
class Deals(MethodView):
    @require("deals.view")
    @errors(401, 403)
    @blp.arguments(DealQuerySchema, location="query")
    @blp.response(200, DealPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List deals

        Newest first, a page at a time (`pagination.next_before`, or the `Link` header).
        `status` is `open`, `won` or `lost`.
        """
        given = tuple(k for k in ("q", "customer_id", "owner_id", "stage_id", "pipeline_id")
                      if args.get(k))
        status = args.get("status")
        params = {k: args[k] for k in given}
        if "q" in params:
            params["q"] = f"%{params['q']}%"

        def where(query: Any) -> Any:
            for key in given:
                column = getattr(Deal, "title" if key == "q" else key)
                query = query.where(column.ilike(bindparam(key)) if key == "q"
                                    else column == bindparam(key))
            if status:
                query = query.where(Deal.stage_id.in_(select(Stage.id).where(STATUS[status])))
            return query

        statement = list_statement(Deal, current_user, (given, status), page_size(args), where)
        page, headers = keyset_statement_page(statement, params, args)
        with_extra_fields("deal", page["items"])
        return dumped(DealPageSchema, page, 200, headers)

    @require("deals.edit")
    @errors(401, 403)
    @blp.arguments(DealCreateSchema)
    @blp.response(201, DealSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a deal

        `customer_id`, `title` and `amount` (a decimal string) are required; the deal
        starts in `stage_id` or the first stage of the default pipeline.
        """
        visible_customer_id(data["customer_id"])
        if "stage_id" in data:
            stage = db.session.get(Stage, data.pop("stage_id"))
            if stage is None:
                field_error("stage_id", "Unknown stage.")
            data["stage"] = stage
        if "owner_id" in data:
            check_assignable(data["owner_id"])
        with saving():
            deal = crm.create_deal(data, acting_user())
        with_extra_fields("deal", [deal])
        return dumped(DealSchema, deal, 201, etag(deal))


@blp.route(f"/{id_rule('deal_id')}", tags=[TAG])
class DealItem(MethodView):
    @require("deals.view")
    @errors(401, 403, 404)
    @blp.response(200, DealSchema, headers={"ETag": {
        "description": "The deal's version, for If-Match", "schema": {"type": "string"}}})
    def get(self, deal_id: int) -> Any:
        """Get a deal

        The `ETag` header carries `version`.
        """
        deal = visible_deal(deal_id)
        with_extra_fields("deal", [deal])
        return dumped(DealSchema, deal, 200, etag(deal))

    @require("deals.edit")
    @errors(401, 403, 404, 409, 428)
    @blp.arguments(DealPatchSchema)
    @blp.response(200, DealSchema)
    def patch(self, data: dict[str, Any], deal_id: int) -> Any:
        """Update a deal

        Send the fields to change and the `version` you read (in the body or as
        `If-Match: "<version>"`). A stale version is refused with 409, a missing one with 428:
        nothing is silently overwritten. Change the stage with `POST /deals/{id}/stage`.
        """
        deal = visible_deal(deal_id)
        versions = expected_versions(data.pop("version", None))
        if not versions:
            abort(428, message='Send the version you read: "version" in the body or '
                               'If-Match: "<version>".', headers=etag(deal))
        check_version(deal, versions)
        if "customer_id" in data and data["customer_id"] != deal.customer_id:
            visible_customer_id(data["customer_id"])
        if "owner_id" in data and data["owner_id"] != deal.owner_id:
            check_assignable(data["owner_id"])
        with saving():
            crm.update_deal(deal, data, acting_user())
        with_extra_fields("deal", [deal])
        return dumped(DealSchema, deal, 200, etag(deal))

    @require("deals.delete")
    @errors(401, 403, 404, 409)
    @blp.response(204)
    def delete(self, deal_id: int) -> Any:
        """Delete a deal

        Its stage history and timeline go with it; the customer's timeline keeps a
        `deal.deleted` entry. An `If-Match` version, if sent, must be current.
        """
        deal = visible_deal(deal_id)
        check_version(deal, expected_versions(None))
        with saving():
            crm.delete_deal(deal, acting_user())
        return None


@blp.route(f"/{id_rule('deal_id')}/stage", tags=[TAG])
class DealStage(MethodView):
    @require("deals.edit")
    @errors(401, 403, 404, 409)
    @blp.arguments(StageMoveSchema)
    @blp.response(200, DealSchema)
    def post(self, data: dict[str, Any], deal_id: int) -> Any:
        """Move a deal to another stage

        Writes the stage history and timeline and emits `DealStageChanged`, then `DealWon`,
        `DealLost` or `DealReopened` as it applies. `lost_reason` is kept for a lost stage.
        Moving to the stage the deal is already in changes nothing. A move a stage gate
        refuses answers 409 `{"code": "stage_gate", "message": …, "gates": [...]}`.
        """
        deal = visible_deal(deal_id)
        check_version(deal, expected_versions(data.get("version")))
        # The target and the deal's current stage in one statement (move_deal reads both; the
        # current one then comes from the identity map).
        found = {s.id: s for s in db.session.scalars(
            _STAGE_PAIR, {"ids": sorted({data["stage_id"], deal.stage_id})})}
        stage = found.get(data["stage_id"])
        if stage is None:
            field_error("stage_id", "Unknown stage.")
        if stage.pipeline_id != deal.pipeline_id:
            field_error("stage_id", "This stage is not in the deal's pipeline.")
        with saving():
            try:
                crm.move_deal(deal, stage, acting_user(), lost_reason=data["lost_reason"])
            except crm.StageGateRefused as refused:  # the stage gates said no: 409, nothing saved
                db.session.rollback()
                return stage_gate_response(refused)
            except crm.StageError as error:  # move_deal's own refusal, should it add rules
                db.session.rollback()
                field_error("stage_id", str(error))
        with_extra_fields("deal", [deal])
        return dumped(DealSchema, deal, 200, etag(deal))


@blp.route(f"/{id_rule('deal_id')}/history", tags=[TAG])
class DealHistory(MethodView):
    @require("deals.view")
    @errors(401, 403, 404)
    @blp.response(200, HistorySchema(many=True))
    def get(self, deal_id: int) -> Any:
        """A deal's stage history

        Every stage the deal entered, oldest first: append-only.
        """
        deal = visible_deal(deal_id)
        return list(db.session.scalars(select(StageHistory).where(StageHistory.deal_id == deal.id)
                                       .order_by(StageHistory.at, StageHistory.id)))
