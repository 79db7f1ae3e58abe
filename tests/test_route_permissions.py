"""The role matrix: every route declares its permission, and the declaration holds.

Walks ``app.url_map`` of the bare core and of an app with every built-in plugin, so a route
added later — by the core or by a plugin — without a check fails here automatically.
"""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from conveyor.role_layers import ROLE_NAMES
from conveyor.testing import (
    UNDECLARED,
    _skipped,
    client_as,
    declared_permissions,
    get_routes,
    route_problems,
    token_headers,
)

ALL_PLUGINS = ["leads", "calls", "groups", "funnel", "relationships", "documents", "approvals",
               "discussions", "activities"]
PLUGIN_SETS = {"core": [], "all-plugins": ALL_PLUGINS}
def skipped(endpoint: str) -> bool:
    return _skipped(endpoint)


def declared(app: Flask, endpoint: str) -> dict[str, Any]:
    return declared_permissions(app, endpoint)


@pytest.fixture(params=list(PLUGIN_SETS), ids=list(PLUGIN_SETS))
def any_app(request: Any, make_app: Any) -> Flask:
    return make_app(plugins=PLUGIN_SETS[request.param])


def test_every_view_declares_its_permission(any_app: Flask) -> None:
    missing = [f"{rule.rule} {method} ({rule.endpoint})"
               for rule in any_app.url_map.iter_rules() if not skipped(rule.endpoint)
               for method, perm in declared(any_app, rule.endpoint).items()
               if perm is UNDECLARED]
    assert not missing, "routes without require/login_required/public:\n" + "\n".join(missing)


def test_the_matrix_covers_the_core_screens(make_app: Any) -> None:
    core = {e for e, _u, _p in get_routes(make_app())}
    assert {"deals.index", "deals.board", "customers.index", "admin.index",
            "profile.index", "notifications.index"} <= core


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_each_role_gets_exactly_what_its_permissions_allow(any_app: Flask, role: str) -> None:
    perms = any_app.extensions["conveyor"].roles[role].permissions
    client = client_as(any_app, role)
    bearer = token_headers(any_app, role)
    wrong = []
    for endpoint, url, perm in get_routes(any_app):
        if perm is None:
            continue  # public
        headers = bearer if url.startswith("/api/") else {}
        response = client.get(url, headers=headers)
        status = response.status_code
        to_login = status == 302 and "/login" in response.headers.get("Location", "")
        allowed = perm == "login" or perm in perms
        if status >= 500:
            wrong.append(f"{url}: {status}")
        elif allowed and (status in (401, 403) or to_login):
            wrong.append(f"{url}: {status} though {role} holds {perm}")
        elif not allowed and not (status in (401, 403) or to_login):
            wrong.append(f"{url}: {status} though {role} lacks {perm}")
    assert not wrong, "\n".join(wrong)


def test_anonymous_requests_never_reach_a_protected_page(any_app: Flask) -> None:
    client = any_app.test_client()
    leaks = []
    for endpoint, url, perm in get_routes(any_app):
        if perm is None:
            continue
        response = client.get(url)
        redirected_to_login = response.status_code == 302 and "/login" in response.headers.get(
            "Location", "")
        if not (response.status_code == 401 or redirected_to_login):
            leaks.append(f"{url}: {response.status_code}")
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_navigation_shows_only_the_modules_a_role_holds(any_app: Flask, role: str) -> None:
    state = any_app.extensions["conveyor"]
    perms = state.roles[role].permissions
    home = client_as(any_app, role).get("/")
    assert home.status_code == 200
    page = home.get_data(as_text=True)
    for item in state.nav_items:
        shown = f'data-nav="{item.id}"' in page
        assert shown == (item.permission in perms), (role, item.id, item.permission)


def test_a_plugin_author_runs_the_same_walk_on_a_plugin(make_app: Any, check_routes: Any) -> None:
    app = make_app(plugins=["leads", "calls"])
    check_routes(app, plugin="calls")
    assert route_problems(app, lambda e: e.startswith("calls"), roles=["seller"]) == []
