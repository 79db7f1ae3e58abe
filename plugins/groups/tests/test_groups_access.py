"""Who may use groups, and whose groups they see."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from conveyor.extensions import db
from conveyor.plugins.groups.models import Group
from conveyor.testing import client_as


@pytest.mark.parametrize("role,allowed", [
    ("marketer", True), ("manager", True), ("admin", True), ("seller", False),
    ("telemarketer", False), ("assistant", False), ("lawyer", False)])
def test_groups_pages_by_role(app, login_as, role, allowed):
    client = login_as(role)
    for url in ("/groups/", "/groups/new", "/groups/unsubscribes"):
        status = client.get(url).status_code
        assert status == (200 if allowed else 403), (role, url, status)
    assert (b'data-nav="groups"' in client.get("/").data) is allowed


def test_api_needs_a_token_and_the_permission(app, api):
    assert app.test_client().get("/api/v1/groups/").status_code == 401
    assert api("seller").get("/api/v1/groups/").status_code == 403
    assert api("seller").post("/api/v1/groups/", json={"name": "x"}).status_code == 403
    assert api("marketer").get("/api/v1/groups/").status_code == 200


def test_a_group_is_seen_by_its_maker_their_team_and_admins(app, api, login_as):
    made = api("manager").post("/api/v1/groups/", json={"name": "North customers"})
    assert made.status_code == 201, made.json
    gid = made.json["id"]
    assert login_as("manager").get(f"/groups/{gid}").status_code == 200
    assert login_as("admin").get(f"/groups/{gid}").status_code == 200
    assert login_as("marketer").get(f"/groups/{gid}").status_code == 200  # scope all
    # seller3 is on another team and, as a seller, has no groups permission at all; take a
    # manager's view of a marketer's group instead: the marketer is on no team.
    theirs = api("marketer").post("/api/v1/groups/", json={"name": "Everyone"}).json["id"]
    assert login_as("manager").get(f"/groups/{theirs}").status_code == 404
    assert api("manager").get(f"/api/v1/groups/{theirs}").status_code == 404
    listed = [g["name"] for g in api("manager").get("/api/v1/groups/").json["items"]]
    assert listed == ["North customers"]


@pytest.mark.parametrize("body,field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x", "kind": "people"}, "kind"),
    ({"name": "x", "filters": {"colour": "red"}}, "colour"),
    ({"name": "x", "filters": {"status": "new"}}, "status"),  # a lead filter on customers
    ({"name": "x", "filters": {"size": "huge"}}, "size"),
    ({"name": "x", "filters": {"created_from": "2026-02-01", "created_to": "2026-01-01"}},
     "created_to"),
    ({"name": "x", "webhook_url": "ftp://example.com/x"}, "webhook_url"),
    ({"name": "x", "kind": "leads", "filters": {"has_open_deal": True}}, "has_open_deal"),
])
def test_api_bad_group_is_422_and_nothing_is_written(app, api, body, field):
    response = api("marketer").post("/api/v1/groups/", json=body)
    assert response.status_code == 422, response.json
    assert field in str(response.json["errors"])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Group)) == 0


def test_web_form_errors_are_shown_in_place(app, login_as):
    response = login_as("marketer").post("/groups/new", data={
        "name": "Bad hook", "kind": "customers", "mode": "filter", "webhook_url": "javascript:x"})
    assert response.status_code == 400 and b"Give an http:// or https:// address." in response.data
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Group)) == 0


def test_groups_work_without_the_leads_plugin(make_app):
    app = make_app(plugins=["groups"])
    client = client_as(app, "marketer", csrf=True)
    page = client.get("/groups/new")
    assert page.status_code == 200 and b'value="leads"' not in page.data
    refused = client.post("/groups/new", data={"name": "L", "kind": "leads", "mode": "manual"})
    assert refused.status_code == 400
    made = client.post("/groups/new", data={"name": "C", "kind": "customers", "mode": "manual"})
    assert made.status_code == 302
    assert client.get(made.headers["Location"]).status_code == 200


def test_the_lead_status_filter_speaks_the_readers_language(login_as):
    page = login_as("marketer").get("/groups/new", headers={"Accept-Language": "ru"})
    assert 'value="in_progress">В работе<' in page.get_data(as_text=True)
