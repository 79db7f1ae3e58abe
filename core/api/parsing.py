"""One instance per argument schema class, kept for the process.

``@blp.arguments(SomeSchema)`` hands webargs the class, and webargs builds an instance of it on
every request (``Schema.__init__`` deep-copies every declared field): on a write that was a
tenth of the API's own Python time. A schema instance holds no per-load state (``load`` takes
``partial`` and ``unknown`` as arguments), so one per class serves every request alike; the
OpenAPI document still comes from the classes the decorators name.
"""
from __future__ import annotations

from typing import Any

from marshmallow import Schema

_INSTANCES: dict[type[Schema], Schema] = {}


def _get_schema(self: Any, argmap: Any, req: Any) -> Schema:
    if isinstance(argmap, type) and issubclass(argmap, Schema):
        found = _INSTANCES.get(argmap)
        if found is None:
            found = _INSTANCES[argmap] = argmap()
        return found
    return _ORIGINAL(self, argmap, req)


_ORIGINAL: Any = None


def install() -> None:
    """Patch webargs' parser class (flask-smorest builds its parsers at import)."""
    global _ORIGINAL
    from webargs.core import Parser

    if _ORIGINAL is None:
        _ORIGINAL = Parser._get_schema
        Parser._get_schema = _get_schema  # type: ignore[method-assign]
