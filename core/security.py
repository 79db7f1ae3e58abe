"""Security headers on every response, the CSP nonce, cookie flags and the reverse proxy fix.

Every response gets a Content-Security-Policy without inline script: scripts and styles come
from this site's own files, and anything that must be inline carries the request's nonce
(``<script nonce="{{ csp_nonce() }}">``). Pages may not be framed (``frame-ancestors 'none'``
and ``X-Frame-Options: DENY``), types are not sniffed, referrers don't leave the site whole.
A view may set any of these headers itself; ours only fill in what it left unset.
"""
from __future__ import annotations

import secrets
from typing import Any

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

NONCE_KEY = "conveyor_csp_nonce"


def csp_nonce() -> str:
    """This request's CSP nonce: give it to every inline ``<script>`` or ``<style>`` you must
    have (``nonce="{{ csp_nonce() }}"``); the Content-Security-Policy header names it."""
    nonce = g.get(NONCE_KEY)
    if nonce is None:
        nonce = g.setdefault(NONCE_KEY, secrets.token_urlsafe(16))
    return nonce


def content_security_policy(nonce: str, extra: dict[str, str] | None = None) -> str:
    """The policy: own files only, nonce'd inline script and style, no plugins, no framing."""
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{nonce}'",
        "style-src": f"'self' 'nonce-{nonce}'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    for name, sources in (extra or {}).items():
        directives[name] = f"{directives[name]} {sources}" if name in directives else sources
    return "; ".join(f"{name} {sources}" for name, sources in directives.items())


def _add_headers(response: Any) -> Any:
    cfg = _config()
    headers = response.headers
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = content_security_policy(csp_nonce(), cfg["csp"])
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if cfg["hsts_seconds"] and request.is_secure:
        headers.setdefault("Strict-Transport-Security",
                           f"max-age={cfg['hsts_seconds']}; includeSubDomains")
    return response


def _config() -> dict[str, Any]:
    from flask import current_app

    return current_app.extensions["conveyor_security"]


def init_security(app: Flask, cfg: dict[str, Any]) -> None:
    """Wire the settings ``trusted_proxies``, ``secure_cookies``, ``hsts_seconds`` and
    ``content_security_policy`` into the app."""
    proxies = int(cfg.get("trusted_proxies") or 0)
    if proxies < 0:
        raise ValueError("trusted_proxies must be 0 or more")
    if proxies:
        # X-Forwarded-For/-Proto/-Host/-Port as set by that many proxies in front, and no more:
        # a client's own X-Forwarded-For entries are never believed.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies,  # type: ignore
                                x_host=proxies, x_port=proxies, x_prefix=0)
    secure = bool(cfg.get("secure_cookies"))
    app.config.update(SESSION_COOKIE_SECURE=secure, REMEMBER_COOKIE_SECURE=secure,
                      REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE="Lax")
    extra = cfg.get("content_security_policy") or {}
    if not isinstance(extra, dict) or not all(isinstance(v, str) for v in extra.values()):
        raise ValueError("content_security_policy must be a table of directive = \"sources\"")
    app.extensions["conveyor_security"] = {"hsts_seconds": int(cfg.get("hsts_seconds") or 0),
                                           "csp": extra}
    app.after_request(_add_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
