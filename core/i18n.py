"""Locale selection and lazy strings; the catalogs live in core/translations."""
from __future__ import annotations

from flask import current_app, has_request_context, request
from flask_babel import gettext, lazy_gettext, lazy_pgettext, ngettext, pgettext
from flask_login import current_user

_ = gettext
_l = lazy_gettext

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
    # Browsers say zh-CN / zh; our catalog is zh_Hans.
    matches = {lang.replace("_Hans", "").replace("_", "-"): lang for lang in languages}
    best = request.accept_languages.best_match([*matches, "zh-CN", "zh-Hans"])
    if best in ("zh-CN", "zh-Hans"):
        best = "zh"
    return matches.get(best or "", current_app.config["CONVEYOR"]["default_locale"])


def _may_be_signed_in() -> bool:
    """Without a session or remember cookie or an Authorization header nobody is signed in:
    public endpoints (web-to-lead) then skip loading a user just to pick a language."""
    config, cookies = current_app.config, request.cookies
    return bool(request.headers.get("Authorization")
                or config.get("SESSION_COOKIE_NAME", "session") in cookies
                or config.get("REMEMBER_COOKIE_NAME", "remember_token") in cookies)


__all__ = ["LANGUAGE_NAMES", "_", "_l", "gettext", "lazy_gettext", "lazy_pgettext", "ngettext",
           "pgettext", "select_locale"]
