"""Keyset pages in the core API's envelope: ``{"items": [...], "pagination": {...}}``.

Same shape, parameters and ``Link`` header as docs/api.md describes for the core resources
(``page_size`` capped at ``max_page_size``; ``before`` = the last id seen). The core's helper is
not part of the public facade, so this small copy keeps the plugin on the public API.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import current_app, request
from marshmallow import Schema, fields, validate
from sqlalchemy import Select

from conveyor import db

MAX_ID = 2147483647


class GroupsPageQuery(Schema):
    page_size = fields.Integer(validate=validate.Range(min=1, max=1000), metadata={
        "description": "Rows per page; the server caps it at max_page_size (200 by default)."})
    before = fields.Integer(validate=validate.Range(min=1, max=MAX_ID), metadata={
        "description": "Return rows with an id below this one: pass `pagination.next_before` "
                       "of the previous page."})


class GroupsPageInfo(Schema):
    page_size = fields.Integer(required=True)
    before = fields.Integer(allow_none=True)
    next_before = fields.Integer(allow_none=True)
    next = fields.String(allow_none=True)


def page_size(args: dict[str, Any]) -> int:
    cfg = current_app.config["CONVEYOR"]
    return min(args.get("page_size") or cfg["page_size"], cfg["max_page_size"])


def envelope(items: list[Any], size: int, before: int | None, next_before: int | None
             ) -> tuple[dict[str, Any], dict[str, str]]:
    """The response body and its ``Link: <next>; rel="next"`` header."""
    next_url = None
    headers: dict[str, str] = {}
    if next_before is not None:
        params = [(k, v) for k, v in request.args.items(multi=True) if k != "before"]
        next_url = request.base_url + "?" + urlencode([*params, ("before", next_before)])
        headers["Link"] = f'<{next_url}>; rel="next"'
    return {"items": items, "pagination": {"page_size": size, "before": before,
                                           "next_before": next_before, "next": next_url}}, headers


def keyset_page(query: Select[Any], id_column: Any, args: dict[str, Any]
                ) -> tuple[dict[str, Any], dict[str, str]]:
    """Rows newest first below ``args["before"]``; one query whatever the page."""
    size = page_size(args)
    before = args.get("before")
    if before is not None:
        query = query.where(id_column < before)
    rows = list(db.session.scalars(query.order_by(id_column.desc()).limit(size + 1)))
    next_before = rows[size - 1].id if len(rows) > size else None
    return envelope(rows[:size], size, before, next_before)


# Distinct names: apispec names components after the class, and the core has PageInfo too.
PageQuery = GroupsPageQuery
PageInfo = GroupsPageInfo
