"""Output schemas compiled into plain functions: marshmallow's ``dump``, field for field.

Marshmallow looks up, wraps and dispatches every field of every object on every dump; for a
list of 50 deals that was about a third of the request (issue 18). ``compiled(Schema)`` walks
the schema's fields once and returns a function producing the same dict: the same keys, the
same formats (``int``, ``str``, ``bool``, ISO dates and datetimes, the fields' own
``_serialize`` for anything else such as ``Money``), nested schemas compiled the same way, and
the schema's own ``post_dump`` hooks (plugin fields) run on each object. The schemas remain the
one description of the API: flask-smorest still documents the responses from them, and
``tests/test_api_fastdump.py`` checks compiled == ``Schema().dump`` for every output schema.
A schema this module does not know how to compile (a ``pre_dump`` or collection hook, an
unknown container) raises at compile time, never silently differs.
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Response, current_app
from marshmallow import Schema, fields
from marshmallow.decorators import POST_DUMP, PRE_DUMP

Dumper = Callable[[Any], dict[str, Any]]
_COMPILED: dict[type[Schema], Dumper] = {}


def _converter(schema: Schema, field: fields.Field) -> Callable[[Any, Any], Any]:
    """(value, obj) -> dumped value, for one field."""
    kind = type(field)
    if kind is fields.Integer and not field.as_string:
        return lambda v, _o: None if v is None else int(v)
    if kind is fields.String:
        return lambda v, _o: None if v is None else str(v)
    if kind is fields.Boolean:
        return lambda v, _o: None if v is None else bool(v)
    if kind is fields.DateTime and field.format in (None, "iso"):
        return lambda v, _o: None if v is None else v.isoformat()
    if kind is fields.Date and field.format in (None, "iso"):
        return lambda v, _o: None if v is None else v.isoformat()
    if isinstance(field, fields.Decimal) and field.as_string and field.places is None \
            and not field.allow_nan and type(field)._serialize is fields.Decimal._serialize:
        # Money and plain decimals as strings: what Decimal._serialize does for a number, minus
        # marshmallow's per-value validation calls.
        return lambda v, _o: None if v is None else format(Decimal(str(v)), "f")
    if kind is fields.Nested:
        inner = compiled(type(field.schema))
        if field.many:
            return lambda v, _o: None if v is None else [inner(x) for x in v]
        return lambda v, _o: None if v is None else inner(v)
    if kind is fields.List and isinstance(field.inner, fields.Nested):
        inner = compiled(type(field.inner.schema))
        return lambda v, _o: None if v is None else [inner(x) for x in v]
    if kind is fields.List:
        each = _converter(schema, field.inner)
        return lambda v, o: None if v is None else [each(x, o) for x in v]
    if kind is fields.Method:
        method = getattr(schema, field.serialize_method_name)  # type: ignore[arg-type]
        return lambda _v, o: method(o)
    serialize = field._serialize
    name = field.attribute or field.name
    return lambda v, o: serialize(v, name, o)


def compiled(schema_cls: type[Schema]) -> Dumper:
    """The dump function of ``schema_cls`` (built once per process)."""
    found = _COMPILED.get(schema_cls)
    if found is not None:
        return found
    schema = schema_cls()
    hooks = schema._hooks
    if hooks[PRE_DUMP] or any(many for _n, many, _k in hooks[POST_DUMP]):
        raise TypeError(f"{schema_cls.__name__}: pre_dump or collection hooks are not compiled")
    post = [getattr(schema, name) for name, _many, kw in hooks[POST_DUMP]
            if not kw.get("pass_original")]
    if len(post) != len(hooks[POST_DUMP]):
        raise TypeError(f"{schema_cls.__name__}: pass_original hooks are not compiled")
    # The function is written out as Python source once (attribute reads and converter calls,
    # no per-field loop): the closure version spent most of its time walking its own steps.
    namespace: dict[str, Any] = {"post": post}
    on_object = ["def dump(o):", "    if isinstance(o, dict):", "        return on_dict(o)",
                 "    out = {}"]
    on_dict = ["def on_dict(o):", "    out = {}"]
    for i, (name, field) in enumerate(schema.dump_fields.items()):
        key = field.data_key or name
        namespace[f"c{i}"] = _converter(schema, field)
        if isinstance(field, fields.Method):
            on_object.append(f"    out[{key!r}] = c{i}(None, o)")
            on_dict.append(f"    out[{key!r}] = c{i}(None, o)")
            continue
        attr = field.attribute or name
        if "." in attr:
            raise TypeError(f"{schema_cls.__name__}.{name}: dotted attributes are not compiled")
        read = f"o.{attr}" if attr.isidentifier() else f"getattr(o, {attr!r}, None)"
        on_object.append(f"    out[{key!r}] = c{i}({read}, o)")
        on_dict.append(f"    if {attr!r} in o:")  # marshmallow leaves out a key a dict lacks
        on_dict.append(f"        out[{key!r}] = c{i}(o[{attr!r}], o)")
    tail = ["    for hook in post:", "        out = hook(out, many=False)", "    return out"]
    exec("\n".join(on_dict + tail), namespace)  # noqa: S102 - our own field names only
    exec("\n".join(on_object + tail), namespace)  # noqa: S102
    dump: Dumper = namespace["dump"]
    _COMPILED[schema_cls] = dump
    return dump


def dumped(schema_cls: type[Schema], obj: Any, status: int = 200,
           headers: dict[str, str] | None = None) -> Response:
    """The JSON response flask-smorest would send for ``obj`` with ``@blp.response(status,
    schema_cls)``, dumped by the compiled function (smorest passes a Response through)."""
    response = current_app.json.response(compiled(schema_cls)(obj))
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


__all__ = ["compiled", "dumped"]
