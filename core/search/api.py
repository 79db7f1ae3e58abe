"""``GET /api/v1/search?q=…``: the search box for machines — hits grouped by kind, each group
with its count, within the caller's record rules."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates

from ..api.common import errors
from ..api.fastdump import dumped
from ..permissions import login_required
from .engine import COUNT_UP_TO, KindResult, search
from .terms import QueryError, check, parse
from .views import error_message

blp = Blueprint("api_search", __name__, url_prefix="/api/v1/search",
                description="One query over customers, contacts, deals and what plugins add "
                            "(leads): by name, phone in any format, e-mail or tax id.")
TAG = "search"
MAX_PER_KIND = 50


class SearchQuerySchema(Schema):
    q = fields.String(required=True, metadata={
        "description": "Name, phone, e-mail or tax id: at least 3 characters (2 in Chinese), "
                       "at most 100.", "example": "Romashka"})
    kind = fields.String(load_default=None, validate=validate.Length(max=40), metadata={
        "description": "Only this kind (customers, contacts, deals, leads, …); one the caller "
                       "may not see gives no groups."})
    per_kind = fields.Integer(load_default=10, validate=validate.Range(min=1, max=MAX_PER_KIND),
                              metadata={"description": "Hits per kind, newest first."})

    @validates("q")
    def _check_q(self, value: str, **kwargs: Any) -> None:
        try:
            check(value)
        except QueryError as error:
            raise ValidationError(error_message(error)) from error


class SearchHitSchema(Schema):
    kind = fields.String(required=True)
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    detail = fields.String(required=True)
    url = fields.String(required=True, metadata={"description": "The record's page."})
    phones = fields.List(fields.String(), required=True)
    emails = fields.List(fields.String(), required=True)


class SearchGroupSchema(Schema):
    kind = fields.String(required=True)
    label = fields.String(required=True)
    count = fields.Integer(required=True, metadata={
        "description": f"Matching records the caller may see, counted up to {COUNT_UP_TO} "
                       "(or `per_kind` when that is more)."})
    more = fields.Boolean(required=True, metadata={
        "description": "True when there are more than `count`."})
    hits = fields.List(fields.Nested(SearchHitSchema), required=True)


class SearchResultSchema(Schema):
    query = fields.String(required=True)
    groups = fields.List(fields.Nested(SearchGroupSchema), required=True, metadata={
        "description": "One per kind the caller may see, in a fixed order, empty ones "
                       "included."})


@blp.route("", tags=[TAG])
class Search(MethodView):
    @login_required
    @errors(401)
    @blp.arguments(SearchQuerySchema, location="query")
    @blp.response(200, SearchResultSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search

        By name, phone (however it was typed), e-mail or tax id, over every kind the caller
        may see, within their record rules; newest first in each kind. A query that is
        missing, too short or too long is a 422 with a message under `errors.query.q`.
        """
        terms = parse(args["q"])
        kind = args["kind"]  # a kind the caller may not see, or none such: no groups
        groups = search(terms, current_user, args["per_kind"], only=kind)
        return dumped(SearchResultSchema, {"query": terms.text,
                                           "groups": [api_group(g) for g in groups]})


def api_group(result: KindResult) -> dict[str, Any]:
    """A group as :class:`SearchGroupSchema` reads it, its hits the :class:`SearchHit` objects
    themselves: the compiled dumper (``conveyor.api.fastdump``) reads their attributes, where
    marshmallow's own dump of ``views.group_dict``'s copies took ~12 µs a hit (150 at
    ``per_kind=50``)."""
    return {"kind": result.kind.name, "label": str(result.kind.label), "count": result.count,
            "more": result.more_than is not None, "hits": result.hits}
