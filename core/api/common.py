"""What every API resource shares: keyset pages, plugin extra fields, field types, errors.

Pagination is keyset, not offset: ``?page_size=N&before=<id>`` returns rows newest first
(id descending) whose id is below ``before``. Page 1000 costs what page 1 costs, and a row
inserted while a client walks the list never shifts the pages it has not read yet.
"""
from __future__ import annotations

import decimal
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import current_app, g, request
from flask_login import current_user
from flask_smorest import abort
from marshmallow import Schema, fields, post_dump, validate
from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..queries import written_limit

F = TypeVar("F", bound=Callable[..., Any])
MAX_ID = 2147483647
ID = f"<int(max={MAX_ID}):%s>"
EXTRA_KEY = "conveyor_api_extra"


def id_rule(name: str) -> str:
    """A path segment for an integer id, bounded so a huge id is a 404, not an overflow."""
    return ID % name


def errors(*codes: int) -> Callable[[F], F]:
    """Document the error answers an operation may give (they use smorest's error shape).

    Writes what smorest's ``alt_response(code, response=NAME)`` would, but into one new doc
    dict on the view itself: ``alt_response`` wraps the view once per code (a call layer per
    code on every request) and deep-copies its whole doc each time, response schemas
    included — ~1 MB of copies over the API's operations, kept for the process's life."""

    def decorator(func: F) -> F:
        doc = dict(getattr(func, "_apidoc", {}))  # shared with the functions it wraps:
        response = doc["response"] = dict(doc.get("response", {}))  # copied where written
        responses = response["responses"] = dict(response.get("responses", {}))
        for code in codes:
            responses[code] = [*responses.get(code, ()), HTTPStatus(code).name]
        func._apidoc = doc  # type: ignore[attr-defined]
        return func

    return decorator


def acting_user() -> Any:
    """The real User behind ``current_user``: events keep it after the request has ended,
    when the ``current_user`` proxy no longer resolves."""
    return current_user._get_current_object()


# --- Fields ---------------------------------------------------------------------------------


class Text(fields.String):
    """A string trimmed of surrounding spaces before validation (as the web forms do).

    NUL characters are refused: PostgreSQL cannot store them, and no real name holds one.
    """

    default_error_messages = {"nul": "Must not contain NUL characters."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        return text.strip()


class Money(fields.Decimal):
    """A Decimal with at most two places, sent and received as a string: ``"1250.00"``.

    Numbers are accepted on input too, but a float loses cents in most JSON libraries, so
    clients should send strings. More than two decimal places is an error, never rounded.
    The range is checked here rather than by a ``Range`` validator so that the OpenAPI
    document describes a string, which is what travels.
    """

    MAX = decimal.Decimal("999999999999.99")  # Numeric(14, 2)
    default_error_messages = {
        "places": "Use at most two decimal places.",
        "type": "Send the amount as a decimal string, e.g. \"1250.00\".",
        "range": "Must be between {minimum} and {maximum}.",
    }

    def __init__(self, *, minimum: decimal.Decimal | int = 0, **kwargs: Any) -> None:
        self.minimum = decimal.Decimal(minimum)
        metadata = {"type": "string", "format": "decimal", "example": "1250.00",
                    "pattern": r"^-?\d{1,12}(\.\d{1,2})?$",
                    "description": f"A decimal string with at most two places, from "
                                   f"{self.minimum} to {self.MAX}.",
                    **kwargs.pop("metadata", {})}
        super().__init__(as_string=True, allow_nan=False, metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.make_error("type")
        if isinstance(value, str) and not re.fullmatch(r"\s*-?\d{1,15}(\.\d+)?\s*", value):
            raise self.make_error("invalid")
        number = super()._deserialize(value, attr, data, **kwargs)
        if number.as_tuple().exponent < -2:  # type: ignore[operator]
            raise self.make_error("places")
        if not self.minimum <= number <= self.MAX:
            raise self.make_error("range", minimum=self.minimum, maximum=self.MAX)
        return number.quantize(decimal.Decimal("0.01"))


def ref_id(*, strict: bool = True, **kwargs: Any) -> fields.Integer:
    """An id within the database's range: a real JSON integer in a body (``strict``), digits
    in a query string."""
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def query_id(**kwargs: Any) -> fields.Integer:
    return ref_id(strict=False, **kwargs)


# --- Pages ----------------------------------------------------------------------------------


class PageQuery(Schema):
    """``page_size`` (default and maximum from config) and ``before`` (the last id seen)."""

    page_size = fields.Integer(validate=validate.Range(min=1, max=1000), metadata={
        "description": "Rows per page; the server caps it at max_page_size (200 by default)."})
    before = query_id(metadata={"description": "Return rows with an id below this one: pass "
                                             "`pagination.next_before` of the previous page."})


class PageInfo(Schema):
    page_size = fields.Integer(required=True)
    before = fields.Integer(allow_none=True)
    next_before = fields.Integer(allow_none=True, metadata={
        "description": "Pass as `before` for the next page; null on the last page."})
    next = fields.String(allow_none=True, metadata={"description": "URL of the next page."})


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A list envelope ``{"items": [...], "pagination": {...}}`` for ``item``."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item), required=True),
        "pagination": fields.Nested(PageInfo, required=True),
    }, name=name)


def page_size(args: dict[str, Any]) -> int:
    """The requested page size, capped by config (``page_size`` default, ``max_page_size``)."""
    cfg = current_app.config["CONVEYOR"]
    return min(args.get("page_size") or cfg["page_size"], cfg["max_page_size"])


def envelope(items: list[Any], size: int, before: int | None, next_before: int | None
             ) -> tuple[dict[str, Any], dict[str, str]]:
    """The list body ``{"items", "pagination"}`` and its ``Link: <next>; rel="next"`` header."""
    headers: dict[str, str] = {}
    next_url = None
    if next_before is not None:
        params = [(k, v) for k, v in request.args.items(multi=True) if k != "before"]
        next_url = request.base_url + "?" + urlencode([*params, ("before", next_before)])
        headers["Link"] = f'<{next_url}>; rel="next"'
    info = {"page_size": size, "before": before, "next_before": next_before, "next": next_url}
    return {"items": items, "pagination": info}, headers


MAX_PAGE_ID = 2**31 - 1  # the largest id of a 32-bit id column (a larger bind overflows it)


def keyset_page(query: Select[Any], id_column: Any, args: dict[str, Any],
                params: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """One page of ``query`` (newest first) and its Link header; a constant two-row overhead.
    ``params``: values of bind parameters the query holds."""
    size = page_size(args)
    before = args.get("before")
    # Always a bound on the id, as the web lists have: with one, SQLite reads a team's deals
    # by (owner_id, id) newest first and stops at the page; without, it read all 250k of a
    # manager's team and sorted them (118 ms of a 144 ms request at 1M deals).
    query = query.where(id_column <= (before - 1 if before is not None else MAX_PAGE_ID))
    rows = list(db.session.scalars(query.order_by(id_column.desc())
                                   .limit(written_limit(size + 1)), params or {}))
    more = len(rows) > size
    rows = rows[:size]
    return envelope(rows, size, before, rows[-1].id if more and rows else None)


def keyset_statement_page(statement: Select[Any], params: dict[str, Any], args: dict[str, Any],
                          ) -> tuple[dict[str, Any], dict[str, str]]:
    """One page of a statement built by :func:`list_statement` (kept per process, so nothing
    is rebuilt per request): ``params`` are its bind values, the id bound comes from
    ``before``. The same page and Link header as :func:`keyset_page`."""
    size = page_size(args)
    before = args.get("before")
    values = {**params, "before_id": before - 1 if before is not None else MAX_PAGE_ID}
    rows = list(db.session.scalars(statement, values))
    more = len(rows) > size
    rows = rows[:size]
    return envelope(rows, size, before, rows[-1].id if more and rows else None)


def list_statement(model: type, user: Any, key: tuple[Any, ...], size: int,
                   where: Callable[[Select[Any]], Select[Any]]) -> Select[Any]:
    """``scoped(model, user)`` narrowed by ``where`` (filters as bind parameters), newest first,
    ``size + 1`` rows below ``:before_id``; built once per process for (``key``, size, the
    user's scope) unless a plugin narrows ``model`` (``permissions.scoped_statement``).
    Building a statement with its scope cost as much as running it (6 ms of a 24 ms list)."""
    from sqlalchemy import bindparam

    from ..permissions import scoped, scoped_statement

    id_column = model.id  # type: ignore[attr-defined]

    def build() -> Select[Any]:
        query = where(scoped(model, user))
        return (query.where(id_column <= bindparam("before_id"))
                .order_by(id_column.desc()).limit(written_limit(size + 1)))

    return scoped_statement(model, user, ("api_list", *key, size), build)  # type: ignore


# --- Plugin fields --------------------------------------------------------------------------


def with_extra_fields(resource: str, objects: list[Any]) -> list[Any]:
    """Ask plugins once for the whole batch (``api_extra_fields``) before serialising it."""
    merged: dict[int, dict[str, Any]] = {}
    if objects:
        hook = current_app.extensions["conveyor"].hook
        for answer in hook.api_extra_fields(resource=resource, objects=list(objects),
                                            user=acting_user()):
            for ident, extra in (answer or {}).items():
                merged.setdefault(ident, {}).update(extra or {})
    g.setdefault(EXTRA_KEY, {})[resource] = merged
    return objects


class ExtensibleSchema(Schema):
    """An output schema whose objects may carry plugin fields (``additionalProperties``)."""

    resource = ""

    class Meta:
        unknown = "include"  # documented as additionalProperties: plugins add fields

    @post_dump
    def _plugin_fields(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        extra = g.get(EXTRA_KEY, {}).get(self.resource, {}).get(data.get("id"), {})
        for key, value in extra.items():
            data.setdefault(key, value)  # a plugin never overwrites a core field
        return data


# --- Errors ---------------------------------------------------------------------------------


def field_error(field: str, message: str, location: str = "json") -> None:
    """Answer 422 in smorest's shape: ``{"errors": {"json": {field: [message]}}}``."""
    abort(422, errors={location: {field: [message]}})


@contextmanager
def saving() -> Iterator[None]:
    """Run the writes in the block and commit them, all or nothing.

    A concurrent writer that got there first (the versioned UPDATE matched no row) and a
    constraint held elsewhere (another writer, a plugin's table) are 409s, never 500s.
    """
    session = db.session()
    try:
        yield
        # What was written stays loaded: the answer prints it without reading it back (a
        # SELECT per written object after each commit otherwise).
        expire, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()
        finally:
            session.expire_on_commit = expire
    except StaleDataError:
        db.session.rollback()
        abort(409, message="The record was changed by someone else meanwhile. Fetch it again "
                           "and reapply your change. Nothing was saved.")
    except IntegrityError:
        db.session.rollback()
        abort(409, message="The change conflicts with other data (it may be referenced "
                           "elsewhere). Nothing was saved.")


def stage_gate_response(refused: Any) -> Any:
    """The API's answer to a move a stage gate refused (``conveyor.StageGateRefused``): 409
    ``{"code": "stage_gate", "message": …, "gates": [{"gate", "stage_id", "message"}]}``."""
    from flask import jsonify

    response = jsonify(refused.as_json())
    response.status_code = 409
    return response


def not_found(what: str) -> None:
    abort(404, message=f"No such {what}, or you may not see it.")


def require_json_body() -> None:
    """A body that is not JSON would otherwise be read as ``{}``: refuse it instead."""
    if request.method in ("POST", "PUT", "PATCH") and request.get_data(cache=True) \
            and not request.is_json:
        abort(415, message="Send the body as JSON with Content-Type: application/json.")


__all__ = ["ExtensibleSchema", "Money", "acting_user", "PageInfo", "PageQuery", "Text", "errors",
           "field_error", "id_rule", "keyset_page", "not_found", "page_schema", "query_id",
           "ref_id", "saving", "stage_gate_response", "with_extra_fields"]


def apply_list_filters(query: Any, target: str, given: list[str]) -> Any:
    """Apply plugin ``ListFilter``s named ``name:value``; an unknown name or value is a 422."""
    registered = {f.name: f for f in current_app.extensions["conveyor"].list_filters
                  if f.model == target}
    for item in given:
        name, sep, value = item.partition(":")
        flt = registered.get(name)
        if not sep or flt is None:
            field_error("filter", f"Unknown filter {name!r}; known: "
                        f"{', '.join(sorted(registered)) or 'none'}.", "query")
        if value not in {str(v) for v, _ in flt.choices()}:
            field_error("filter", f"Unknown value {value!r} for the filter {name!r}.", "query")
        query = flt.apply(query, value)
    return query
