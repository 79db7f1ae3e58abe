"""The web shell: layout, navigation, home screen, cards; the core's screens as blueprints."""
from __future__ import annotations

import logging
from typing import Any

from flask import (Flask, before_render_template, current_app, g, has_request_context, jsonify,
                   render_template, request)
from flask_babel import (format_currency, format_date, format_datetime, format_timedelta,
                         get_locale)
from flask_login import current_user
from markupsafe import Markup, escape

from ..i18n import LANGUAGE_NAMES, _
from ..permissions import can, permissions_of

log = logging.getLogger("conveyor.web")


def init_web(app: Flask) -> None:
    from . import admin, customers, deals, health, home, notifications, profile

    for module in (home, customers, deals, admin, profile, notifications, health):
        app.register_blueprint(module.bp)
    app.context_processor(_shell_context)
    before_render_template.connect(_plugin_template_vars, app)
    app.jinja_env.globals.update(render_widget=render_widget, render_panel=render_panel,
                                 can=lambda perm: can(current_user, perm))
    app.jinja_env.filters.update(money=_money, date=_date, datetime=_datetime, duration=_duration)
    for code in (400, 403, 404, 405, 409, 413, 422, 429, 500):
        app.register_error_handler(code, _error_page)


def _shell_context() -> dict[str, Any]:
    state = current_app.extensions["conveyor"]
    ctx: dict[str, Any] = {"languages": {k: LANGUAGE_NAMES.get(k, k) for k in
                                         current_app.config["CONVEYOR"]["languages"]},
                           "current_locale": str(get_locale() or "en")}
    if getattr(current_user, "is_authenticated", False):
        perms = permissions_of(current_user)
        ctx["nav_items"] = [n for n in state.nav_items if n.permission in perms]
        if "unread_notifications" not in g:
            from .notifications import unread_count

            g.unread_notifications = unread_count(current_user)
        ctx["unread_notifications"] = g.unread_notifications
    else:
        ctx["nav_items"] = []
        ctx["unread_notifications"] = 0
    return ctx


def _plugin_template_vars(sender: Flask, template: Any, context: dict[str, Any],
                          **_: Any) -> None:
    """extra_template_vars gets the template's name, which a context processor can't know."""
    if not has_request_context():
        return
    state = sender.extensions["conveyor"]
    for extra in state.hook.extra_template_vars(template=template.name, request=request,
                                                user=current_user):
        for key, value in (extra or {}).items():
            context.setdefault(key, value)


def _safe_render(kind: str, ident: str, title: Any, call: Any) -> Markup:
    """Render one plugin box; an exception becomes an error box, never a broken page."""
    try:
        return Markup(call())
    except Exception:  # noqa: BLE001 - a plugin's bug must not take the page down
        log.exception("%s %s failed to render", kind, ident)
        return Markup(
            '<section class="box error" role="alert"><h2>{}</h2><p>{}</p></section>'
        ).format(title, _("This box could not be shown. The error was logged."))


def render_widget(widget_id: str) -> Markup:
    widget = current_app.extensions["conveyor"].widgets.get(widget_id)
    if widget is None or not can(current_user, widget.permission):
        return Markup("")
    return _safe_render("widget", widget.id, widget.title, lambda: widget.render(current_user))


def render_panel(panel: Any, obj: Any) -> Markup:
    return _safe_render("panel", panel.id, panel.title, lambda: panel.render(obj, current_user))


def panels_for(target: str) -> list[Any]:
    perms = permissions_of(current_user)
    return [p for p in current_app.extensions["conveyor"].panels
            if p.target == target and p.permission in perms]


def _money(value: Any, currency: str = "USD") -> str:
    if value is None:
        return ""
    return format_currency(value, currency)


def _date(value: Any) -> str:
    return format_date(value, "medium") if value else ""


def _datetime(value: Any) -> str:
    return format_datetime(value, "short") if value else ""


def _duration(value: Any) -> str:
    """How long something lasted, in words ("3 days"); minutes are the finest grain shown."""
    return format_timedelta(value, granularity="minute", threshold=0.9) if value is not None else ""


def _error_page(error: Any) -> Any:
    code = getattr(error, "code", 500) or 500
    if code == 500:
        log.exception("unhandled error", exc_info=getattr(error, "original_exception", error))
    if request.path.startswith("/api/"):
        if code == 500 or not hasattr(error, "code"):
            return jsonify(code=500, status="Internal Server Error"), 500
        response = current_app.make_response(
            current_app.extensions["conveyor_api"].handle_http_exception(error))
        for name, value in error.get_headers():
            if name.lower() in ("allow", "retry-after", "www-authenticate"):
                response.headers[name] = value  # smorest's handler drops them
        return response
    if request.accept_mimetypes.best == "application/json":
        return jsonify(code=code, status=getattr(error, "name", "Error"),
                       message=getattr(error, "description", "")), code
    return render_template("error.html", code=code,
                           description=escape(getattr(error, "description", ""))), code
