"""JSON bodies parsed with limits, so bad input is a 400/422 with a message, never a 500.

Python's ``json`` accepts what the database or the interpreter then chokes on: a lone surrogate
(``"\\ud800"``, valid JSON, not encodable text), a document nested tens of thousands deep
(RecursionError), an integer of thousands of digits (ValueError past 4300 digits, overflow in
any float or decimal column before that). :func:`loads` refuses them: nesting deeper than
``MAX_DEPTH`` or bytes that are not UTF-8 are a malformed body (400); a lone surrogate or an
integer longer than ``MAX_INT_DIGITS`` is an error of the field that holds it (422, shaped like
marshmallow's: ``{"name": ["…"]}``, nested fields nested). It is the app's JSON loader
(``request.get_json``) and the API's (webargs), installed by :func:`install`.
"""
from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 64
MAX_INT_DIGITS = 30  # far beyond any id (10) or amount (14); Python refuses > 4300 anyway
_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONProblem(ValueError):
    """A body :func:`loads` refuses: ``errors`` per field (422), or only a message (400)."""

    def __init__(self, message: str, errors: dict[Any, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class _TooLong:
    """Stands for an integer with too many digits until the walk reports it."""


_TOO_LONG = _TooLong()


def _parse_int(text: str) -> Any:
    digits = len(text) - (text[0] == "-")
    return _TOO_LONG if digits > MAX_INT_DIGITS else int(text)


def _message(which: str) -> str:
    """Looked up only when a body is refused: ``loads`` also reads the session cookie, before
    the request's language can be known."""
    from .i18n import _

    if which == "deep":
        return _("The JSON is nested too deeply.")
    if which == "surrogate":
        return _("Text with a lone surrogate (\\ud800–\\udfff) is not valid Unicode.")
    if which == "nul":
        return _("Text with a NUL character (\\u0000) is not accepted.")
    if which == "long":
        return _("A number with at most %(n)s digits.", n=MAX_INT_DIGITS)
    return _("The body is not valid UTF-8.")


def loads(data: str | bytes) -> Any:
    """Parse a JSON body; raise :class:`JSONProblem` for what must not reach a model."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise JSONProblem(_message("utf8")) from None
    try:
        value = json.loads(data, parse_int=_parse_int)
    except RecursionError:
        raise JSONProblem(_message("deep")) from None
    except json.JSONDecodeError as exc:
        raise JSONProblem(f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    errors: dict[Any, Any] = {}
    found: set[str] = set()
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise JSONProblem(_message("deep"))
        if isinstance(node, dict):
            for key, item in node.items():
                if _SURROGATE.search(key):
                    found.add("surrogate")
                    _add(errors, path, "surrogate")
                stack.append((item, (*path, key)))
        elif isinstance(node, list):
            stack.extend((item, (*path, i)) for i, item in enumerate(node))
        elif isinstance(node, str) and _SURROGATE.search(node):
            found.add("surrogate")
            _add(errors, path, "surrogate")
        elif isinstance(node, str) and "\x00" in node:  # PostgreSQL refuses it in text: a 500
            found.add("nul")
            _add(errors, path, "nul")
        elif node is _TOO_LONG:
            found.add("long")
            _add(errors, path, "long")
    if errors:
        messages = {which: _message(which) for which in found}
        raise JSONProblem(" ".join(messages.values()), _translated(errors, messages))
    return value


def _translated(errors: Any, messages: dict[str, str]) -> Any:
    if isinstance(errors, dict):
        return {key: _translated(value, messages) for key, value in errors.items()}
    return [messages[which] for which in errors]


def _add(errors: dict[Any, Any], path: tuple[Any, ...], message: str) -> None:
    """``errors[a][b] = [message]`` for the path ``(a, b)``; the body itself is ``_schema``."""
    if not path:
        path = ("_schema",)
    node = errors
    for key in path[:-1]:
        key = _printable(key)
        node = node.setdefault(key, {}) if isinstance(node.get(key, {}), dict) else node
    messages = node.setdefault(_printable(path[-1]), [])
    if isinstance(messages, list) and message not in messages:
        messages.append(message)


def _printable(key: Any) -> Any:
    return _SURROGATE.sub("\ufffd", key) if isinstance(key, str) else key


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with :func:`loads` for ``request.get_json``: a refused body is a
    ValueError there, which Flask answers with 400."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)


def _webargs_raw_load_json(self: Any, req: Any) -> Any:
    from marshmallow import ValidationError
    from webargs import core
    from webargs.flaskparser import is_json_request

    data = req.get_data(cache=True)
    if not is_json_request(req) or not data:
        return core.missing  # no body: the schema's required fields say what is missing
    try:
        return loads(data)
    except JSONProblem as exc:
        if exc.errors:  # the fields' own messages: 422 {"errors": {"json": {...}}}
            raise ValidationError(exc.errors) from None
        raise json.JSONDecodeError(exc.message, "(body)", 0) from None


def _webargs_invalid_json(self: Any, error: Any, req: Any, *args: Any, **kwargs: Any) -> Any:
    from flask_smorest import abort

    message = getattr(error, "msg", None) or "Invalid JSON body."
    if isinstance(error, UnicodeDecodeError):
        message = "The body is not valid UTF-8."
    abort(400, message=message, errors={"json": [message]})


def _wtf_wrap_formdata(original: Any) -> Any:
    """Flask-WTF reads a JSON body as the form's data with ``ImmutableMultiDict(body)``: a list,
    a number or ``null`` there is a TypeError — a 500 on every page's form. It is a 400."""
    def wrap_formdata(self: Any, form: Any, formdata: Any) -> Any:
        from flask import abort, request
        from flask_wtf.form import _Auto, _is_submitted

        if formdata is _Auto and _is_submitted() and request.is_json and not request.files \
                and not request.form and not isinstance(request.get_json(), dict):
            abort(400)
        return original(self, form, formdata)

    wrap_formdata.__conveyor_checked__ = True  # type: ignore[attr-defined]
    return wrap_formdata


def _refuse_nul(original: Any) -> Any:
    """A text field of a page's form refuses a NUL character with a field message, as the API
    does (PostgreSQL refuses it in text columns: a 500)."""
    def process_formdata(self: Any, valuelist: Any) -> None:
        original(self, valuelist)
        if isinstance(self.data, str) and "\x00" in self.data:
            self.data = self.data.replace("\x00", "")
            raise ValueError(_message("nul"))

    process_formdata.__conveyor_checked__ = True  # type: ignore[attr-defined]
    return process_formdata


def install(app: Flask) -> None:
    """Use :func:`loads` for every JSON body: Flask's, and webargs' (the API's arguments; the
    parser class is patched, as flask-smorest builds its parsers when blueprints are imported)."""
    from webargs.flaskparser import FlaskParser

    app.json = SafeJSONProvider(app)
    FlaskParser._raw_load_json = _webargs_raw_load_json  # type: ignore[method-assign]
    FlaskParser._handle_invalid_json_error = _webargs_invalid_json  # type: ignore[method-assign]
    from flask_wtf import FlaskForm
    from wtforms import StringField

    if not getattr(StringField.process_formdata, "__conveyor_checked__", False):
        StringField.process_formdata = _refuse_nul(  # type: ignore[method-assign]
            StringField.process_formdata)

    if not getattr(FlaskForm.Meta.wrap_formdata, "__conveyor_checked__", False):
        FlaskForm.Meta.wrap_formdata = _wtf_wrap_formdata(  # type: ignore[method-assign]
            FlaskForm.Meta.wrap_formdata)
