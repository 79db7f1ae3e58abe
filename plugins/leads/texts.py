"""Translation helpers that also work outside a request (CLI, the import's worker thread).

Flask-Babel's ``gettext`` needs an app (the locale: the request's, a forced one, else the
configured default); without one a message falls back to its English source. Named ``_``/``_l``
so the catalog extraction finds the strings.
"""
from __future__ import annotations

from typing import Any

from flask import has_app_context
from flask_babel import LazyString, gettext, pgettext


def _(message: str, **variables: Any) -> str:
    if has_app_context():
        return gettext(message, **variables)
    return message % variables if variables else message


def _l(message: str, **variables: Any) -> LazyString:
    return LazyString(_, message, **variables)


def _p(context: str, message: str, **variables: Any) -> str:
    """``pgettext``: one English word with several meanings, each translated on its own."""
    if has_app_context():
        return pgettext(context, message, **variables)
    return message % variables if variables else message


def lazy_pgettext(context: str, message: str, **variables: Any) -> LazyString:
    return LazyString(_p, context, message, **variables)


__all__ = ["_", "_l", "_p", "lazy_pgettext"]
