"""Who may call the API: bearer tokens, read-only sessions, permissions, declared checks."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from conveyor.extensions import db
from conveyor.models import Customer, User

LISTS = ["/api/v1/customers", "/api/v1/deals", "/api/v1/stages", "/api/v1/pipelines",
         "/api/v1/users/me"]


def customers(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Customer))


@pytest.mark.parametrize("url", LISTS)
def test_no_token_is_401_json(client, url):
    response = client.get(url)
    assert response.status_code == 401
    assert response.get_json()["code"] == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_bad_token_is_401_even_with_a_session(login_as):
    browser = login_as("seller")
    assert browser.get("/api/v1/customers").status_code == 200
    bad = browser.get("/api/v1/customers", headers={"Authorization": "Bearer cvr_nope"})
    assert bad.status_code == 401


def test_an_inactive_users_token_is_401(client, api_headers, app, users):
    h = api_headers("seller")
    with app.app_context():
        db.session.get(User, users["seller"]).active = False
        db.session.commit()
    assert client.get("/api/v1/users/me", headers=h).status_code == 401


def test_token_writes_need_no_csrf_token(client, api_headers, app):
    assert app.config["WTF_CSRF_ENABLED"]
    response = client.post("/api/v1/customers", headers=api_headers("seller"),
                           json={"name": "Acme"})
    assert response.status_code == 201


@pytest.mark.parametrize("method", ["post", "patch", "delete"])
def test_a_session_alone_may_not_write(login_as, app, users, method):
    with app.app_context():
        customer = Customer(name="Acme", owner_id=users["seller"])
        db.session.add(customer)
        db.session.commit()
        cid = customer.id
    url = "/api/v1/customers" if method == "post" else f"/api/v1/customers/{cid}"
    response = getattr(login_as("seller"), method)(url, json={"name": "Changed"})
    assert response.status_code == 401
    assert "Bearer" in response.get_json()["message"]
    with app.app_context():
        assert [c.name for c in db.session.scalars(select(Customer))] == ["Acme"]


def test_the_token_decides_who_is_calling(login_as, api_headers, users):
    """A session cookie for one user and a token for another: the token wins."""
    browser = login_as("seller")
    me = browser.get("/api/v1/users/me", headers=api_headers("manager")).get_json()
    assert me["id"] == users["manager"]


def test_users_me(client, api_headers, users):
    me = client.get("/api/v1/users/me", headers=api_headers("seller")).get_json()
    assert me["id"] == users["seller"] and me["username"] == "seller"
    assert me["roles"] == ["seller"] and me["scope"] == "own"
    assert "deals.edit" in me["permissions"] and "customers.delete" not in me["permissions"]
    assert set(me) >= {"display_name", "email", "locale", "team_ids"}


def test_missing_permission_is_403(client, api_headers, app):
    marketer = api_headers("marketer")  # customers.view only
    assert client.get("/api/v1/customers", headers=marketer).status_code == 200
    assert client.post("/api/v1/customers", headers=marketer,
                       json={"name": "Nope"}).status_code == 403
    assert client.get("/api/v1/deals", headers=marketer).status_code == 403
    assert customers(app) == 0


def test_a_body_that_is_not_json_is_415(client, api_headers, app):
    response = client.post("/api/v1/customers", headers=api_headers("seller"),
                           data="name=Acme", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert customers(app) == 0


def test_every_api_operation_declares_its_permission(app):
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        targets = ([getattr(view_class, m.lower()) for m in view_class.methods]
                   if view_class else [view])
        for target in targets:
            assert hasattr(target, "__conveyor_permission__"), (rule.rule, target)
            checked += 1
    assert checked >= 20


def test_openapi_and_docs_are_public(client):
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/docs").status_code == 200
