"""Locale selection and lazy strings; the catalogs live in core/translations."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import Request, current_app, g, has_request_context, request
from flask_babel import LazyString, get_translations, lazy_pgettext
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup


def request_translations() -> Any:
    """The request's catalog, looked up once and reused while the locale stays the same object
    (``force_locale`` swaps it, and then the lookup runs again). Flask-Babel's own lookup walks
    the domain, locale and cache on each of a page's dozens of ``_()`` calls."""
    if not has_request_context():
        return get_translations()
    app_g = g._get_current_object()  # type: ignore[attr-defined]
    babel_ctx = getattr(app_g, "_flask_babel", None)
    locale = getattr(babel_ctx, "babel_locale", None)
    cached = getattr(app_g, "conveyor_translations", None)
    if cached is not None and locale is not None and cached[0] is locale:
        return cached[1]
    translations = get_translations()
    babel_ctx = getattr(app_g, "_flask_babel", None)
    app_g.conveyor_translations = (getattr(babel_ctx, "babel_locale", None), translations)
    return translations


# Flask-Babel's gettext family, word for word, on the request's catalog.
def gettext(string: str, **variables: Any) -> str:
    text = request_translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    return request_translations().ungettext(singular, plural, num) % variables


def pgettext(context: str, string: str, **variables: Any) -> str:
    text = request_translations().upgettext(context, string)
    return text % variables if variables else text


def lazy_gettext(string: str, **variables: Any) -> LazyString:
    """Flask-Babel's ``lazy_gettext`` on :func:`gettext` (labels of forms, menus, widgets)."""
    return LazyString(gettext, string, **variables)


_ = gettext
_l = lazy_gettext


def template_gettext_callables() -> dict[str, Any]:
    """Templates' ``_``, ``gettext``, ``ngettext``, ``pgettext`` and ``npgettext``: what Jinja's
    newstyle i18n callables do (the text as Markup where the template escapes, then always
    ``% variables``), in one call instead of three nested ``Context.call`` each. A page says
    ``_()`` 50-90 times; the three layers cost 0.2-0.3 ms of every page. Formatting is skipped
    only where it changes nothing (no ``%`` in the text)."""

    def finish(context: Any, text: str, variables: dict[str, Any]) -> Any:
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables if "%" in text else text

    @pass_context
    def gettext_(__context: Any, __string: str, **variables: Any) -> Any:
        return finish(__context, request_translations().ugettext(__string), variables)

    @pass_context
    def ngettext_(__context: Any, __singular: str, __plural: str, __num: int,
                  **variables: Any) -> Any:
        variables.setdefault("num", __num)
        return finish(__context, request_translations().ungettext(__singular, __plural, __num),
                      variables)

    @pass_context
    def pgettext_(__context: Any, __string_ctx: str, __string: str, **variables: Any) -> Any:
        variables.setdefault("context", __string_ctx)
        return finish(__context, request_translations().upgettext(__string_ctx, __string),
                      variables)

    @pass_context
    def npgettext_(__context: Any, __string_ctx: str, __singular: str, __plural: str,
                   __num: int, **variables: Any) -> Any:
        variables.setdefault("context", __string_ctx)
        variables.setdefault("num", __num)
        return finish(__context, request_translations().unpgettext(
            __string_ctx, __singular, __plural, __num), variables)

    return {"_": gettext_, "gettext": gettext_, "ngettext": ngettext_, "pgettext": pgettext_,
            "npgettext": npgettext_}


LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "zh_Hans": "简体中文"}


def select_locale() -> str | None:
    """The user's own setting, then ``?lang=``, then the browser's Accept-Language."""
    languages = current_app.config["CONVEYOR"]["languages"]
    if not has_request_context():  # CLI, workers: the configured default
        return current_app.config["CONVEYOR"]["default_locale"]
    if _may_be_signed_in() and getattr(current_user, "is_authenticated", False) and \
            current_user.locale in languages:
        return current_user.locale
    asked = request.args.get("lang") or request.cookies.get("lang")
    if asked in languages:
        return asked
    header = request.headers.get("Accept-Language", "")
    default = current_app.config["CONVEYOR"]["default_locale"]
    if len(header) > 200:  # not a browser's: not worth keeping
        return _accepted.__wrapped__(header, tuple(languages), default)
    return _accepted(header, tuple(languages), default)


@lru_cache(maxsize=256)
def _accepted(header: str, languages: tuple[str, ...], default: str) -> str:
    """The catalog an Accept-Language header asks for, kept per header: browsers send the same
    few, and parsing and matching one cost ~50 µs of every page."""
    from werkzeug.datastructures import LanguageAccept
    from werkzeug.http import parse_accept_header

    # Browsers say zh-CN / zh; our catalog is zh_Hans.
    matches = {lang.replace("_Hans", "").replace("_", "-"): lang for lang in languages}
    best = parse_accept_header(header, LanguageAccept).best_match([*matches, "zh-CN", "zh-Hans"])
    if best in ("zh-CN", "zh-Hans"):
        best = "zh"
    return matches.get(best or "", default)


def select_timezone() -> str | None:
    """The signed-in user's own time zone, else the configured ``default_timezone``."""
    if has_request_context() and _may_be_signed_in() and \
            getattr(current_user, "is_authenticated", False) and current_user.timezone:
        return current_user.timezone
    return current_app.config["CONVEYOR"]["default_timezone"]


def _may_be_signed_in() -> bool:
    """Without a session or remember cookie or an Authorization header nobody is signed in:
    public endpoints (web-to-lead) then skip loading a user just to pick a language."""
    config, cookies = current_app.config, request.cookies
    return bool(request.headers.get("Authorization")
                or config.get("SESSION_COOKIE_NAME", "session") in cookies
                or config.get("REMEMBER_COOKIE_NAME", "remember_token") in cookies)


__all__ = ["LANGUAGE_NAMES", "_", "_l", "gettext", "lazy_gettext", "lazy_pgettext", "ngettext",
           "pgettext", "request_translations", "select_locale", "select_timezone"]


@lru_cache(maxsize=32)
def _wtforms_catalog(locale: str) -> Any:
    from babel import support
    from wtforms.i18n import messages_path

    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class ConveyorRequest(Request):
    """Flask's request, with WTForms' own messages ("Not a valid decimal value") read once per
    language and process: Flask-WTF loads that catalog from disk on each request that builds a
    form (8 % of a deal card) unless the request already carries it."""

    @property
    def wtforms_translations(self) -> Any:
        from flask_babel import get_locale

        return _wtforms_catalog(str(get_locale()))
