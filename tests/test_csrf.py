"""Every state-changing page refuses a request without a CSRF token: 400, nothing changed.

Walks ``app.url_map`` of the bare core and of an app with every built-in plugin (as the role
matrix does), so a route added later — or an exemption slipped in — fails here. The API is
left out: it takes bearer tokens only for writes (tests/test_api_auth.py), never the cookie.
"""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, url_for
from sqlalchemy import func, inspect, select

from conveyor import crm
from conveyor.extensions import db
from conveyor.models import Stage, User
from conveyor.testing import client_as, path_args

from .test_route_permissions import PLUGIN_SETS, skipped

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
# Deliberately without CSRF: a cross-origin form post from the company's website.
EXEMPT = {"leads_public.capture"}


def row_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        present = set(inspect(db.engine).get_table_names())
        return {t.name: db.session.scalar(select(func.count()).select_from(t))
                for t in db.metadata.sorted_tables if t.name in present}


def seed(app: Flask) -> None:
    """A record of each core kind with id 1, so a route's id points at something real."""
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        customer = crm.create_customer({"name": "Acme"}, admin)
        db.session.flush()
        stage = db.session.scalar(select(Stage).order_by(Stage.position))
        crm.create_deal({"title": "Deal", "customer_id": customer.id, "stage": stage}, admin)
        db.session.commit()


def unsafe_routes(app: Flask) -> list[tuple[str, str, str]]:
    routes = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if skipped(rule.endpoint) or rule.rule.startswith("/api/"):
                continue
            args = path_args(rule)
            for method in sorted(set(rule.methods) & set(UNSAFE)):
                routes.append((rule.endpoint, method, url_for(rule.endpoint, **args)))
    return routes


@pytest.mark.parametrize("plugins", list(PLUGIN_SETS), ids=list(PLUGIN_SETS))
def test_every_state_changing_page_refuses_a_request_without_a_token(make_app: Any,
                                                                     plugins: str) -> None:
    app = make_app(plugins=PLUGIN_SETS[plugins])
    assert app.config["WTF_CSRF_ENABLED"]
    seed(app)
    admin = client_as(app, "admin")  # signed in, no token
    before = row_counts(app)
    wrong, checked = [], 0
    for endpoint, method, url in unsafe_routes(app):
        if endpoint in EXEMPT:
            continue
        checked += 1
        response = admin.open(url, method=method, data={"name": "x", "title": "x"})
        if response.status_code != 400:
            wrong.append(f"{method} {url} ({endpoint}): {response.status_code}")
        elif b"CSRF" not in response.data and b"csrf" not in response.data:
            wrong.append(f"{method} {url} ({endpoint}): 400 but not for the token")
    assert checked >= (10 if plugins == "core" else 40)
    assert not wrong, "refused without a token expected:\n" + "\n".join(wrong)
    assert row_counts(app) == before


@pytest.mark.parametrize("plugins", list(PLUGIN_SETS), ids=list(PLUGIN_SETS))
def test_only_the_known_public_endpoints_are_exempt(make_app: Any, plugins: str) -> None:
    app = make_app(plugins=PLUGIN_SETS[plugins])
    csrf = app.extensions["csrf"]
    exempt = {v for v in csrf._exempt_views if v.rpartition(".")[0] in {
        f.__module__ for f in app.view_functions.values()}}
    # one CSRFProtect per process: keep the exemptions that concern this app's blueprints
    exempt_blueprints = {getattr(b, "name", b) for b in csrf._exempt_blueprints} & set(
        app.blueprints)
    under = {}
    for rule in app.url_map.iter_rules():
        under.setdefault(rule.endpoint.rpartition(".")[0], set()).add(
            rule.rule.startswith("/api/"))
    api_blueprints = {name for name, places in under.items() if places == {True}}
    views = {f"{v.__module__}.{v.__name__}" for e, v in app.view_functions.items()
             if e in EXEMPT}
    assert exempt <= views, exempt - views
    assert exempt_blueprints - api_blueprints <= {"leads_public"}


def test_a_wrong_or_foreign_token_is_refused_too(make_app: Any) -> None:
    app = make_app()
    seed(app)
    seller = client_as(app, "seller", csrf=True)
    other = client_as(app, "seller2", csrf=True)
    token = other.environ_base.pop("HTTP_X_CSRFTOKEN")  # valid, for another session
    seller.environ_base["HTTP_X_CSRFTOKEN"] = token
    before = row_counts(app)
    assert seller.post("/customers/new", data={"name": "Evil"}).status_code == 400
    seller.environ_base["HTTP_X_CSRFTOKEN"] = "garbage"
    assert seller.post("/customers/new", data={"name": "Evil"}).status_code == 400
    assert row_counts(app) == before
    ok = client_as(app, "seller", csrf=True).post("/customers/new", data={"name": "Fine"})
    assert ok.status_code == 302  # the walk above is not passing for some other reason
