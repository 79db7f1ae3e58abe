"""Translation helpers that also work outside a request (CLI, the import's worker thread).

Flask-Babel's ``gettext`` needs an app (the locale: the request's, a forced one, else the
configured default); without one a message falls back to its English source. Named ``_``/``_l``
so the catalog extraction finds the strings.
"""
from __future__ import annotations

from typing import Any

from flask import has_app_context
from flask_babel import LazyString, gettext


def _(message: str, **variables: Any) -> str:
    if has_app_context():
        return gettext(message, **variables)
    return message % variables if variables else message


def _l(message: str, **variables: Any) -> LazyString:
    return LazyString(_, message, **variables)


__all__ = ["_", "_l"]
