"""Security headers on every page, and no inline script or handler the CSP would have to allow.

Walks every GET route of the bare core and of an app with every built-in plugin (as the role
matrix does), signed in as the admin, and reads each HTML page: a ``<script>`` or ``<style>``
element without this response's nonce, an ``on…=`` handler attribute, a ``style=`` attribute or a
``javascript:`` URL is a page the Content-Security-Policy breaks (or a hole it must be opened for).
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from conveyor import crm
from conveyor.extensions import db
from conveyor.models import Stage, User
from conveyor.security import content_security_policy
from conveyor.testing import client_as

from .test_route_permissions import PLUGIN_SETS, get_routes

NONCE = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{16,})'")


class InlineCode(HTMLParser):
    """Collects what a strict CSP refuses on a page."""

    def __init__(self, nonce: str) -> None:
        super().__init__()
        self.nonce = nonce
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag in ("script", "style") and "src" not in names and names.get("nonce") != self.nonce:
            self.problems.append(f"<{tag}> without the nonce")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            elif name == "style":
                self.problems.append(f"<{tag} style=…>")
            elif name in ("href", "src", "action", "formaction") and (value or "").strip(
                    ).lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:…>")


def check_headers(response: Any) -> list[str]:
    headers = response.headers
    wrong = []
    csp = headers.get("Content-Security-Policy", "")
    if not NONCE.search(csp):
        wrong.append(f"CSP without a script nonce: {csp!r}")
    for needed in ("frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'"):
        if needed not in csp:
            wrong.append(f"CSP lacks {needed}")
    if "unsafe-inline" in csp or "unsafe-eval" in csp:
        wrong.append("CSP allows unsafe-inline/eval")
    expected = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "strict-origin-when-cross-origin"}
    wrong += [f"{k}: {headers.get(k)!r}" for k, v in expected.items() if headers.get(k) != v]
    return wrong


def seed_records(app: Flask) -> None:
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        customer = crm.create_customer({"name": "Acme <b>"}, admin)
        db.session.flush()
        stage = db.session.scalar(select(Stage).order_by(Stage.position))
        crm.create_deal({"title": "Deal", "customer_id": customer.id, "stage": stage}, admin)
        db.session.commit()


@pytest.mark.parametrize("plugins", list(PLUGIN_SETS), ids=list(PLUGIN_SETS))
def test_every_page_has_the_headers_and_no_inline_code(make_app: Any, plugins: str) -> None:
    app = make_app(plugins=PLUGIN_SETS[plugins])
    seed_records(app)
    client = client_as(app, "admin")
    anonymous = app.test_client()
    wrong, pages = [], 0
    for _endpoint, url, _perm in get_routes(app):
        for who, c in (("admin", client), ("anonymous", anonymous)):
            response = c.get(url)
            wrong += [f"{who} {url}: {w}" for w in check_headers(response)]
            if response.mimetype == "text/html" and response.status_code == 200:
                pages += 1
                nonce = NONCE.search(response.headers["Content-Security-Policy"]).group(1)
                parser = InlineCode(nonce)
                parser.feed(response.get_data(as_text=True))
                wrong += [f"{who} {url}: {p}" for p in parser.problems]
    assert pages >= 10
    assert not wrong, "\n".join(wrong)


def test_the_nonce_differs_per_response_and_reaches_templates(app: Flask) -> None:
    @app.get("/_nonce")
    def nonce_page() -> str:
        from flask import render_template_string

        return render_template_string('<script nonce="{{ csp_nonce() }}">x()</script>')

    nonce_page.__conveyor_permission__ = None
    client = app.test_client()
    first, second = client.get("/_nonce"), client.get("/_nonce")
    nonces = [NONCE.search(r.headers["Content-Security-Policy"]).group(1) for r in (first, second)]
    assert nonces[0] != nonces[1]
    assert f'nonce="{nonces[0]}"'.encode() in first.data


def test_api_error_and_static_responses_have_them_too(app: Flask) -> None:
    client = app.test_client()
    for url in ("/api/v1/customers", "/no-such-page", "/static/conveyor.css", "/login"):
        response = client.get(url)
        problems = check_headers(response)
        response.close()  # the static file's handle
        assert not problems, (url, problems)


def test_a_view_may_set_its_own_policy(app: Flask) -> None:
    @app.get("/_own")
    def own() -> Any:
        return "x", 200, {"X-Frame-Options": "SAMEORIGIN",
                          "Content-Security-Policy": "frame-ancestors 'self'"}

    own.__conveyor_permission__ = None
    response = app.test_client().get("/_own")
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'self'"


def test_extra_sources_from_config(make_app: Any) -> None:
    app = make_app(config={"content_security_policy": {"img-src": "https://cdn.example.com",
                                                       "media-src": "'self'"}})
    csp = app.test_client().get("/login").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://cdn.example.com" in csp and "media-src 'self'" in csp
    assert content_security_policy("n").count("nonce-n") == 2


def test_cookies_and_hsts_follow_the_settings(make_app: Any) -> None:
    plain = make_app()
    response = plain.test_client().get("/login", base_url="https://crm.example.com")
    assert "Strict-Transport-Security" not in response.headers
    assert plain.config["SESSION_COOKIE_SECURE"] is False

    strict = make_app(config={"secure_cookies": True, "hsts_seconds": 31536000})
    assert strict.config["SESSION_COOKIE_SECURE"] is True
    client = strict.test_client()
    secure = client.get("/login", base_url="https://crm.example.com")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get("/login").headers  # plain http
    cookie = secure.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie
