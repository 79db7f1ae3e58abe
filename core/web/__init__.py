"""The web shell: layout, navigation, home screen, cards; the core's screens as blueprints."""
from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel import Locale, numbers
from flask import (
    Flask,
    before_render_template,
    current_app,
    g,
    has_request_context,
    jsonify,
    render_template,
    request,
)
from flask_babel import (
    format_currency,
    format_date,
    get_locale,
    get_timezone,
)
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup, escape

from ..crm import timeline_label
from ..i18n import LANGUAGE_NAMES, _, template_gettext_callables
from ..permissions import can, permissions_of

log = logging.getLogger("conveyor.web")


def init_web(app: Flask) -> None:
    from . import (
        admin,
        customers,
        deals,
        exchange_rates,
        health,
        home,
        notifications,
        profile,
        rows,
    )

    for module in (home, customers, deals, admin, exchange_rates, profile, notifications, health):
        app.register_blueprint(module.bp)
    from ..search.views import init_search
    init_search(app)
    app.context_processor(_shell_context)
    app.before_request(_keep_csrf_token)
    before_render_template.connect(_plugin_template_vars, app)
    app.jinja_env.globals.update(render_widget=render_widget, render_panel=render_panel,
                                 timeline_label=timeline_label,
                                 can=lambda perm: can(current_user, perm), url_maker=url_maker,
                                 board_columns=rows.board_columns,
                                 deal_list_rows=rows.deal_list_rows,
                                 customer_list_rows=rows.customer_list_rows,
                                 total_cell_html=total_cell_html, csrf_token=csrf_token,
                                 kept_url=kept_url)
    from ..charts import register as register_charts

    register_charts(app.jinja_env)
    app.jinja_env.filters.update(money=_money_filter, money_compact=_compact_filter,
                                 date=_date_filter, datetime=_datetime,
                                 duration=_duration, number=_number_filter,
                                 percent=_percent_filter)
    # Flask-Babel's catalogs, kept per request; {% trans %} in Jinja's newstyle
    app.jinja_env.newstyle_gettext = True  # type: ignore[attr-defined]
    app.jinja_env.globals.update(template_gettext_callables())
    for code in (400, 403, 404, 405, 409, 413, 422, 429, 500):
        app.register_error_handler(code, _error_page)
    from ..stage_gates import StageGateRefused

    app.register_error_handler(StageGateRefused, _stage_gate_refused)


def _stage_gate_refused(refused: Any) -> Any:
    """A move refused by a stage gate that its view did not handle itself (a plugin's bulk
    action, say): nothing is kept; the API answers 409 ``stage_gate``, a page flashes why and
    goes back where the user came from."""
    from flask import flash, redirect, url_for

    from ..extensions import db
    from .deals import safe_next

    db.session.rollback()
    if request.path.startswith("/api/"):
        from ..api.common import stage_gate_response

        return stage_gate_response(refused)
    flash(_("The deal was not moved: %(reasons)s", reasons=refused.message), "error")
    referrer = request.referrer or ""
    host = request.host_url.rstrip("/")
    back = safe_next(referrer[len(host):] if referrer.startswith(host) else None)
    return redirect(back or url_for("deals.board"), 303)


def _shell_context() -> dict[str, Any]:
    """What the layout reads, worked out once per request, user and language: a page renders
    its widgets and panels with ``render_template`` too, which runs this again for each."""
    locale = str(get_locale() or "en")
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    key = (locale, id(user), getattr(user, "is_authenticated", False),
           g.get("unread_notifications"))
    kept = g.get("conveyor_shell_context")
    if kept is not None and kept[0] == key:
        return dict(kept[1])
    ctx = _shell_values(locale)
    g.conveyor_shell_context = (key, ctx)
    return dict(ctx)


def _shell_values(locale: str) -> dict[str, Any]:
    state = current_app.extensions["conveyor"]
    ctx: dict[str, Any] = {"languages": {k: LANGUAGE_NAMES.get(k, k) for k in
                                         current_app.config["CONVEYOR"]["languages"]},
                           "current_locale": locale,
                           "csrf_token": csrf_token}  # over Flask-WTF's context processor
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


@pass_context
def _money_filter(ctx: Any, value: Any, currency: str = "USD") -> str:
    """The ``money`` filter: the page's locale comes from the template context (a dict lookup),
    not from ``g`` through a proxy on every one of a list's fifty rows."""
    return _money(value, currency, ctx.get("current_locale"))


@pass_context
def _compact_filter(ctx: Any, value: Any, currency: str = "USD") -> str:
    """``{{ total|money_compact(currency) }}``: CLDR's compact form for summaries ("$35.1M")."""
    from ..money import compact_money

    return compact_money(value, currency, ctx.get("current_locale") or _locale_name())


@pass_context
def _number_filter(ctx: Any, value: Any, digits: int = 1) -> str:
    """``{{ x|number(1) }}``: a decimal in the page's locale ("25.7", "25,7")."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return numbers.format_decimal(value, format=pattern, locale=ctx.get("current_locale") or "en")


@pass_context
def _percent_filter(ctx: Any, ratio: Any, digits: int = 1) -> str:
    """``{{ 0.257|percent(1) }}``: a ratio as a percentage in the page's locale ("25,7 %")."""
    if ratio is None:
        return "—"
    locale = Locale.parse(ctx.get("current_locale") or "en")
    pattern = locale.percent_formats[None].pattern  # "#,##0%", "#,##0 %": the locale's shape
    if digits:
        pattern = pattern.replace("0", "0." + "0" * digits, 1)
    return numbers.format_percent(ratio, format=pattern, locale=locale)


@pass_context
def _date_filter(ctx: Any, value: Any) -> str:
    return _date(value, ctx.get("current_locale"))


def _money(value: Any, currency: str = "USD", locale: str | None = None) -> str:
    """An amount in the page's locale, as Babel's ``format_currency`` writes it, but cheaper:
    the locale's currency shape is worked out once per (locale, currency) and then applied with
    plain string formatting (Babel takes ~0.1 ms a call; a list shows fifty)."""
    if value is None:
        return ""
    locale = locale or _locale_name()
    shape = _money_shape(locale, currency)
    if shape is None:
        return format_currency(value, currency)
    return _apply_shape(shape, Decimal(value))


def total_cell_html(total: Any) -> Markup:
    """A converted total (``conveyor.money.Total``) as ``widgets/_total.html``'s ``total_cell``
    shows it: the amount in the company currency (compact), the original amounts in its title,
    the currencies without a rate named below it. Memoized per values and language: the macro
    formatted every part of every cell with Jinja and Babel (the home page's summary has twenty
    cells, a hundred amounts)."""
    parts = _field(total, "parts") or {}
    return Markup(_total_cell(_field(total, "amount"), _field(total, "currency"),
                              tuple(sorted(parts.items())), tuple(_field(total, "missing") or ()),
                              _locale_name()))


def _field(obj: Any, name: str) -> Any:
    return getattr(obj, name) if hasattr(obj, name) else obj[name]


@lru_cache(maxsize=2048)
def _total_cell(amount: Any, currency: str, parts: tuple[tuple[str, Any], ...],
                missing: tuple[str, ...], locale: str) -> str:
    from ..money import compact_money

    out = ""
    if parts and len(parts) > len(missing):
        title = ""
        if len(parts) > 1 or currency not in dict(parts):
            title = ' title="{}"'.format(" + ".join(str(escape(_money(a, cur, locale)))
                                                    for cur, a in parts))
        out = (f'<span class="total"{title}>'
               f"{escape(compact_money(amount, currency, locale))}</span>")
    if missing:
        out += ('<br><small class="warn">{}</small>'.format(escape(
            _("no exchange rate for %(currencies)s", currencies=", ".join(missing)))))
    return out


def _keep_csrf_token() -> None:
    """Put the request's signed CSRF token in ``g`` before the view runs: a form the view builds
    (Flask-WTF) takes it from there instead of signing the session's token again (~60 µs of a
    deal card). Only where the session has a token already: none is made here."""
    from flask import session

    if current_app.config.get("SESSION_COOKIE_NAME", "session") in request.cookies \
            and isinstance(session.get("csrf_token"), str):
        csrf_token()


def csrf_token() -> str:
    """Flask-WTF's ``csrf_token()`` for templates, with the signed token kept per session token:
    signing it (itsdangerous: a key derivation, JSON, HMAC, base64) cost ~0.1 ms of every page.
    Tokens have no time limit here (``WTF_CSRF_TIME_LIMIT=None``), so a token signed a while
    ago validates exactly as a fresh one; ``g.csrf_token`` is set as Flask-WTF sets it, so forms
    of the same request carry the same token."""
    from flask import session
    from flask_wtf.csrf import generate_csrf

    token = g.get("csrf_token")
    if token is not None:
        return token  # type: ignore[no-any-return]
    raw = session.get("csrf_token")
    config = current_app.config
    if not isinstance(raw, str) or config.get("WTF_CSRF_TIME_LIMIT") is not None or \
            config.get("WTF_CSRF_FIELD_NAME", "csrf_token") != "csrf_token":
        return generate_csrf()  # type: ignore[no-any-return]
    token = _signed_csrf(config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key, raw)
    g.csrf_token = token
    return token


@lru_cache(maxsize=4096)
def _signed_csrf(secret_key: Any, raw: str) -> str:
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(secret_key, salt="wtf-csrf-token").dumps(raw)


def _locale_name() -> str:
    if "conveyor_locale" not in g:
        g.conveyor_locale = str(get_locale() or "en")
    return g.conveyor_locale


_SAMPLES = [Decimal(v) for v in ("0", "5", "-5", "0.5", "999.995", "1234.5", "1234567.891",
                                 "-1234.56", "1000000", "12.345", "-0.004", "-0")]


@lru_cache(maxsize=512)
def _money_shape(locale_name: str, currency: str) -> tuple[str, str, str, str, int, str] | None:
    """(prefix, suffix, group separator, decimal separator, digits, minus sign) of ``currency``
    in ``locale_name``, or None when plain formatting can't reproduce Babel exactly (then Babel
    formats every amount of that pair). Checked against Babel on sample amounts."""
    try:
        locale = Locale.parse(locale_name)
        babel = lambda v: numbers.format_currency(v, currency, locale=locale)  # noqa: E731
        digits = numbers.get_currency_precision(currency)
        sample = babel(Decimal("1234567"))  # e.g. "$1,234,567.00", "1 234 567,00 ₽", "¥1,234,567"
        found = re.search(r"1(\D?)234(\D?)567((\D)0+)?", sample)
        if found is None:
            return None
        group, decimal = found.group(1), found.group(4) or ""
        shape = (sample[:found.start()], sample[found.end():], group, decimal, digits,
                 numbers.get_minus_sign_symbol(locale))
        if all(_apply_shape(shape, v) == babel(v) for v in _SAMPLES):
            return shape
    except Exception:  # noqa: BLE001 - any surprise: leave it to Babel
        log.debug("no fast money format for %s/%s", locale_name, currency, exc_info=True)
    return None


def _apply_shape(shape: tuple[str, str, str, str, int, str], value: Decimal) -> str:
    prefix, suffix, group, decimal, digits, minus = shape
    text = f"{abs(value):,.{digits}f}".replace(",", "\0").replace(".", decimal)
    return f"{minus if value.is_signed() else ''}{prefix}{text.replace(chr(0), group)}{suffix}"


def _date(value: Any, locale: str | None = None) -> str:
    if not value:
        return ""
    if isinstance(value, date) and not isinstance(value, datetime):  # no time zone to apply
        return _plain_date(locale or _locale_name(), value)
    return format_date(value, "medium")


@lru_cache(maxsize=8192)
def _plain_date(locale_name: str, value: date) -> str:
    from babel.dates import format_date as babel_date

    return babel_date(value, "medium", locale=locale_name)


def kept_url(endpoint: str, **values: Any) -> str:
    """``url_for`` for the layout's fixed links (home, menu, static files, forms' targets), kept
    per app, script root and values like :class:`url_maker`'s shapes: a page has a dozen, at
    ~20 µs each."""
    from flask import url_for

    try:
        memo = (id(current_app._get_current_object()),  # type: ignore[attr-defined]
                request.script_root, request.blueprint, endpoint, tuple(sorted(values.items())))
        url = _URL_SHAPES.get(memo)
    except TypeError:
        return url_for(endpoint, **values)
    if url is None:
        if len(_URL_SHAPES) >= 2048:
            _URL_SHAPES.clear()
        url = _URL_SHAPES[memo] = url_for(endpoint, **values)  # type: ignore[assignment]
    return url  # type: ignore[return-value]


# A relative URL's shape depends on the app's routes, the script root, the endpoint (relative to
# the request's blueprint for ".name") and the values: kept per those (url_for ~20 µs, and a
# board makes five url_makers).
_URL_SHAPES: dict[tuple[Any, ...], Any] = {}


class url_maker:  # noqa: N801 - used like a function in templates
    """``url_for(endpoint, **{key: id})`` for many ids at the cost of one: the URL is built once
    with a placeholder id, then filled in (url_for takes ~20 µs; a board has hundreds of links)."""

    PLACEHOLDER = 2147483647

    def __init__(self, endpoint: str, key: str, **values: Any) -> None:
        from flask import url_for

        memo = None
        if has_request_context() and not values.get("_external"):
            try:
                memo = (id(current_app._get_current_object()),  # type: ignore[attr-defined]
                        request.script_root, request.blueprint, endpoint, key,
                        tuple(sorted(values.items())))
                hash(memo)
            except TypeError:
                memo = None
        if memo is not None and memo in _URL_SHAPES:
            self.head, self.tail = _URL_SHAPES[memo]
            return
        url = url_for(endpoint, **{key: self.PLACEHOLDER}, **values)
        head, _, tail = url.partition(str(self.PLACEHOLDER))
        self.head, self.tail = str(escape(head)), str(escape(tail))
        if memo is not None:
            if len(_URL_SHAPES) >= 2048:
                _URL_SHAPES.clear()
            _URL_SHAPES[memo] = (self.head, self.tail)

    def __call__(self, ident: int) -> Markup:
        """The URL, already HTML-escaped (the template's autoescape has nothing left to do)."""
        return Markup(f"{self.head}{int(ident)}{self.tail}")


def _datetime(value: Any) -> str:
    """Flask-Babel's ``format_datetime(value, "short")`` (the page's language and time zone),
    memoized: a card's history and timeline show dozens, at ~15 µs each in Babel."""
    if not value:
        return ""
    return _short_datetime(_locale_name(), get_timezone(), value)


@lru_cache(maxsize=2048)  # keyed by instants: one per record shown, so kept small (~0.6 MB)
def _short_datetime(locale_name: str, tzinfo: Any, value: datetime) -> str:
    from babel.dates import format_datetime as babel_datetime

    return babel_datetime(value, "short", tzinfo=tzinfo, locale=locale_name)


def _duration(value: Any) -> str:
    """How long something lasted, in words ("3 days"); minutes are the finest grain shown.
    Flask-Babel's ``format_timedelta``, memoized like :func:`_datetime`."""
    return _words_duration(_locale_name(), value) if value is not None else ""


@lru_cache(maxsize=2048)  # one per stay shown: kept small like _short_datetime
def _words_duration(locale_name: str, value: timedelta) -> str:
    from babel.dates import format_timedelta as babel_timedelta

    return babel_timedelta(value, granularity="minute", threshold=0.9, locale=locale_name)


def _error_page(error: Any) -> Any:
    code = getattr(error, "code", 500) or 500
    if code == 500:
        log.exception("unhandled error", exc_info=getattr(error, "original_exception", error))
    # Allow on 405 (RFC 9110), Retry-After on 429/503, WWW-Authenticate on 401: kept on every page
    kept = [(name, value) for name, value in (error.get_headers() if hasattr(
        error, "get_headers") else []) if name.lower() in ("allow", "retry-after",
                                                            "www-authenticate")]
    if request.path.startswith("/api/"):
        if code == 500 or not hasattr(error, "code"):
            return jsonify(code=500, status="Internal Server Error"), 500
        response = current_app.make_response(
            current_app.extensions["conveyor_api"].handle_http_exception(error))
        for name, value in kept:
            response.headers[name] = value  # smorest's handler drops them
        return response
    if request.is_json or request.accept_mimetypes.best == "application/json" or (
            request.path.startswith("/public/") and not _browser()):
        return jsonify(code=code, status=getattr(error, "name", "Error"),
                       message=getattr(error, "description", "")), code, kept
    return render_template("error.html", code=code,
                           description=escape(getattr(error, "description", ""))), code, kept


def _browser() -> bool:
    """Does the client name text/html and prefer it to JSON? Endpoints under ``/public/`` are
    called by scripts and servers: they answer JSON to anyone else (``Accept: */*`` too)."""
    accept = request.accept_mimetypes
    return any(value == "text/html" for value, _q in accept) and \
        accept.quality("text/html") >= accept.quality("application/json")
