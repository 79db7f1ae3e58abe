"""The REST API under /api/v1 (flask-smorest): core resources, the auth rule, the docs page.

The credentials rule for every ``/api/`` path (core and plugin blueprints alike):

* The API is exempt from CSRF tokens, because it is meant for machines holding a bearer token.
* So a browser session alone may only *read* (GET/HEAD/OPTIONS). POST, PATCH, PUT and DELETE
  need credentials in the request itself (``Authorization: Bearer …``, or whatever a plugin's
  ``user_from_request`` accepts); a cookie-only write gets 401. A cross-site page can make the
  browser send cookies, never an Authorization header, so this closes CSRF without tokens.
* When a request carries an Authorization header, that header decides who it is: a bad token
  is 401 even if a session cookie came along.
* Views marked ``@public`` are left alone.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, jsonify, request
from flask_smorest import Blueprint as ApiBlueprint

from ..extensions import csrf
from ..permissions import public
from ..search import api as search_api
from . import (
    contacts,
    customers,
    deals,
    docs,
    exchange_rates,
    notifications,
    parsing,
    stages,
    users,
)
from .common import require_json_body

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CORE_MODULES = (customers, contacts, deals, stages, users, exchange_rates, notifications,
                search_api)
SPEC_DESCRIPTION = (
    "Conveyor's REST API. Authenticate with `Authorization: Bearer <token>` (create one on "
    "your profile page or with `conveyor token create USER`). Lists are keyset-paginated: "
    "`page_size` and `before`. Errors are JSON `{code, status, message, errors}`; validation "
    "errors are 422 with per-field messages under `errors.json` or `errors.query`. "
    "Human-readable reference: /api/v1/docs."
)


def init_api(app: Flask, api: Any) -> None:
    """Register the core resources on ``api`` and apply the credentials rule to ``/api/``."""
    api.spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer",
        "description": "A personal API token: `conveyor token create USER` or the profile page.",
    })
    api.spec.options["security"] = [{"bearerAuth": []}]
    api.spec.options.setdefault("info", {})["description"] = SPEC_DESCRIPTION
    for module in CORE_MODULES:
        api.register_blueprint(module.blp)
    _retag(api)
    for blp in list(app.blueprints.values()):
        if isinstance(blp, ApiBlueprint) and (blp.url_prefix or "").startswith("/api/"):
            csrf.exempt(blp)
    spec_view = app.view_functions.get("api-docs.openapi_json")
    if spec_view is not None:
        app.view_functions["api-docs.openapi_json"] = public(_plain(spec_view))
    app.register_blueprint(docs.bp)
    app.before_request(_api_credentials)
    parsing.install()


def _retag(api: Any) -> None:
    """Tag core operations by resource ("deals"), not by blueprint name ("api_deals").

    smorest adds a tag per blueprint; ours are named ``api_*`` only to stay apart from the web
    blueprints, so those tags are swapped for the resource names the operations carry.
    """
    names = {module.blp.name for module in CORE_MODULES}
    tags = getattr(api.spec, "_tags", None)
    if isinstance(tags, list):
        tags[:] = [t for t in tags if t.get("name") not in names]
    for module in CORE_MODULES:
        api.spec.tag({"name": module.TAG, "description": module.blp.description})


def _plain(view: Any) -> Any:
    """A plain function around smorest's bound method, so it can carry ``@public``."""

    def openapi_json() -> Any:
        return view()

    return openapi_json


def _declared_permission(view: Any, method: str) -> Any:
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        view = getattr(view_class, method.lower(), None) or getattr(view_class, "get", None)
    return getattr(view, "__conveyor_permission__", "undeclared")


def _api_credentials() -> Any:
    if not request.path.startswith("/api/"):
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or _declared_permission(view, request.method) is None:
        return None  # unknown route (404 follows) or a deliberately public view
    unsafe = request.method not in SAFE_METHODS
    if unsafe or "Authorization" in request.headers:
        user = current_app.extensions["conveyor"].hook.user_from_request(request=request)
        if user is None or not getattr(user, "is_active", False):
            return _unauthorized(unsafe and "Authorization" not in request.headers)
        g._login_user = user  # Flask-Login's current user: the credential wins over a cookie
    if unsafe:
        require_json_body()
    return None


def _unauthorized(cookie_write: bool) -> Any:
    message = ("Writes to the API need Authorization: Bearer <token>; a browser session may "
               "only read." if cookie_write else
               "Send a valid Authorization: Bearer <token> (see `conveyor token create`).")
    response = jsonify(code=401, status="Unauthorized", message=message)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="conveyor"'
    return response
