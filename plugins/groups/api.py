"""REST: /api/v1/groups — list, get, create, members, export, push; unsubscribes."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint, abort
from sqlalchemy import select

from conveyor import csrf, db, get_visible_or_404, require, scoped
from conveyor.api.common import PageQuery, envelope, keyset_page, page_size

from .export import csv_response, request_push
from .models import Group, Unsubscribe
from .schemas import (
    GroupMemberAddSchema,
    GroupMemberPageSchema,
    GroupPageSchema,
    GroupPushSchema,
    GroupSchema,
    UnsubscribePageSchema,
    UnsubscribeSchema,
)
from .services import (
    GroupError,
    add_member,
    leads_enabled,
    member_page,
    remove_member,
    save_group,
    unsubscribe,
)

blp = Blueprint("groups_api", __name__, url_prefix="/api/v1/groups",
                description="Segments of customers or leads for mailing services.")
csrf.exempt(blp)
ID = "<int(max=2147483647):group_id>"


def _me() -> Any:
    return current_user._get_current_object()


def _fail(exc: GroupError, location: str = "json") -> None:
    db.session.rollback()
    abort(422, errors={location: {exc.field: [exc.message]}})


def _usable(group_id: int) -> Group:
    group = get_visible_or_404(Group, group_id, current_user)
    if group.kind == "leads" and not leads_enabled():
        abort(409, message="Lead groups need the leads plugin, which is disabled.")
    return group


@blp.route("/")
class Groups(MethodView):
    @require("groups.view")
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, GroupPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Groups you may see, newest first."""
        return keyset_page(scoped(Group, current_user), Group.id, args)

    @require("groups.edit")
    @blp.arguments(GroupSchema)
    @blp.response(201, GroupSchema)
    def post(self, data: dict[str, Any]) -> Group:
        """Create a group: ``mode`` filter (``filters`` evaluated in SQL when used) or manual."""
        try:
            group = save_group(None, data, by=_me())
            db.session.commit()
        except GroupError as exc:
            _fail(exc)
        return group


@blp.route(f"/{ID}")
class GroupOne(MethodView):
    @require("groups.view")
    @blp.response(200, GroupSchema)
    def get(self, group_id: int) -> Group:
        return get_visible_or_404(Group, group_id, current_user)


@blp.route(f"/{ID}/members")
class Members(MethodView):
    @require("groups.view")
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, GroupMemberPageSchema)
    def get(self, args: dict[str, Any], group_id: int) -> Any:
        """Members (newest first) with their addresses, unsubscribed ones marked."""
        group = _usable(group_id)
        size = page_size(args)
        items, addresses, next_before = member_page(group, current_user, args.get("before"),
                                                    size)
        return envelope([{"id": m.id, "label": getattr(m, "label", None) or m.name,
                          "region": m.region, "industry": m.industry,
                          "addresses": addresses[m.id]} for m in items],
                        size, args.get("before"), next_before)

    @require("groups.edit")
    @blp.arguments(GroupMemberAddSchema)
    @blp.response(201, GroupMemberAddSchema)
    def post(self, data: dict[str, Any], group_id: int) -> dict[str, Any]:
        """Add a customer or lead (by the group's kind) to a manual group."""
        group = _usable(group_id)
        try:
            add_member(group, data["id"], by=_me())
            db.session.commit()
        except GroupError as exc:
            _fail(exc)
        return data


@blp.route(f"/{ID}/members/<int(max=2147483647):member_id>")
class MemberOne(MethodView):
    @require("groups.edit")
    @blp.response(204)
    def delete(self, group_id: int, member_id: int) -> None:
        group = _usable(group_id)
        if not remove_member(group, member_id):
            abort(404, message="Not a member.")
        db.session.commit()


@blp.route(f"/{ID}/export")
class Export(MethodView):
    @require("groups.view")
    @blp.doc(responses={"200": {"description": "CSV (UTF-8 with BOM): email, name, company, "
                                               "phone, region, industry; unsubscribed left out.",
                                "content": {"text/csv": {"schema": {"type": "string"}}}}})
    def get(self, group_id: int) -> Any:
        return csv_response(_usable(group_id), _me())


@blp.route(f"/{ID}/push")
class Push(MethodView):
    @require("groups.edit")
    @blp.response(202, GroupPushSchema)
    def post(self, group_id: int) -> Any:
        """Push the group to its webhook after this request; poll the group for the result."""
        group = _usable(group_id)
        try:
            push = request_push(group, by=_me())
            db.session.commit()
        except GroupError as exc:
            _fail(exc)
        return push


@blp.route("/unsubscribes")
class Unsubscribes(MethodView):
    @require("groups.view")
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, UnsubscribePageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        return keyset_page(select(Unsubscribe), Unsubscribe.id, args)

    @require("groups.edit")
    @blp.arguments(UnsubscribeSchema)
    @blp.response(201, UnsubscribeSchema(many=True))
    def post(self, data: dict[str, Any]) -> list[Unsubscribe]:
        """Mark an email and/or phone unsubscribed; returns the rows added ([] if already)."""
        try:
            rows = unsubscribe(data.get("email"), data.get("phone"), data.get("reason", ""),
                               by=_me())
            db.session.commit()
        except GroupError as exc:
            _fail(exc)
        return rows
