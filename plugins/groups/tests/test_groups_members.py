"""Manual groups: members added and removed by hand; lead groups."""
from __future__ import annotations

from sqlalchemy import func, select

from conveyor.extensions import db
from conveyor.plugins.groups.models import GroupMember


def _manual(api, kind="customers"):
    made = api("marketer").post("/api/v1/groups/", json={"name": "Hand", "mode": "manual",
                                                          "kind": kind})
    assert made.status_code == 201, made.json
    return made.json["id"]


def _members(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(GroupMember))


def test_members_added_by_hand_are_exported(app, api, login_as, make_customer):
    a = make_customer("Alpha", contacts=[("A", "a@alpha.io", "")])
    make_customer("Beta", contacts=[("B", "b@beta.io", "")])
    gid = _manual(api)
    client = login_as("marketer")
    found = client.get(f"/groups/{gid}?q=alp")
    assert found.status_code == 200 and f'value="{a}"'.encode() in found.data
    assert client.post(f"/groups/{gid}/members", data={"entity_id": a}).status_code == 302
    assert client.post(f"/groups/{gid}/members", data={"entity_id": a}).status_code == 302
    assert _members(app) == 1
    export = client.get(f"/groups/{gid}/export.csv").get_data().decode("utf-8-sig")
    assert "a@alpha.io" in export and "b@beta.io" not in export
    assert client.post(f"/groups/{gid}/members/{a}/remove").status_code == 302
    assert _members(app) == 0
    assert client.post(f"/groups/{gid}/members/{a}/remove").status_code == 404


def test_bad_members_are_refused_and_nothing_is_written(app, api, login_as, make_customer):
    gid = _manual(api)
    client = login_as("marketer")
    assert client.post(f"/groups/{gid}/members", data={"entity_id": "x"}).status_code == 400
    assert client.post(f"/groups/{gid}/members", data={"entity_id": 99999}).status_code == 404
    assert api("marketer").post(f"/api/v1/groups/{gid}/members",
                                json={"id": 99999}).status_code == 422
    assert api("marketer").post(f"/api/v1/groups/{gid}/members", json={}).status_code == 422
    filtered = api("marketer").post("/api/v1/groups/", json={"name": "F"}).json["id"]
    cid = make_customer("Gamma")
    assert api("marketer").post(f"/api/v1/groups/{filtered}/members",
                                json={"id": cid}).status_code == 422
    assert _members(app) == 0


def test_a_manager_adds_only_customers_they_may_see(app, api, make_customer):
    gid = api("manager").post("/api/v1/groups/", json={"name": "M", "mode": "manual"}).json["id"]
    mine = make_customer("Team's", owner="seller")
    other = make_customer("South's", owner="seller3")
    url = f"/api/v1/groups/{gid}/members"
    assert api("manager").post(url, json={"id": mine}).status_code == 201
    assert api("manager").post(url, json={"id": other}).status_code == 422
    assert [m["id"] for m in api("manager").get(f"/api/v1/groups/{gid}/members").json["items"]] \
        == [mine]


def test_member_pages_are_keyset_and_do_not_repeat(app, api, make_customer):
    gid = _manual(api)
    ids = [make_customer(f"C{i}") for i in range(5)]
    for cid in ids:
        api("marketer").post(f"/api/v1/groups/{gid}/members", json={"id": cid})
    first = api("marketer").get(f"/api/v1/groups/{gid}/members?page_size=3").json
    cursor = first["pagination"]["next_before"]
    rest = api("marketer").get(f"/api/v1/groups/{gid}/members?page_size=3&before={cursor}").json
    assert [m["id"] for m in first["items"] + rest["items"]] == ids[::-1]
    assert rest["pagination"]["next_before"] is None


def test_lead_groups_filter_on_status_and_source(make_app):
    from conveyor.plugins.leads.services import create_lead

    app = make_app(plugins=["leads", "groups"])
    client = app.test_client()
    from conveyor.testing import token_headers

    client.environ_base["HTTP_AUTHORIZATION"] = token_headers(app, "admin")["Authorization"]
    with app.test_request_context():
        create_lead({"company": "Web Co", "email": "web@co.io", "region": "North"},
                    source="website")
        create_lead({"company": "Call Co", "email": "call@co.io", "region": "North"},
                    source="call")
        create_lead({"company": "Quiet Co", "email": "quiet@co.io"}, source="website")
        db.session.commit()
    made = client.post("/api/v1/groups/", json={"name": "Web leads", "kind": "leads",
                                                 "filters": {"source": "website",
                                                             "status": "new"}})
    assert made.status_code == 201, made.json
    client.post("/api/v1/groups/unsubscribes", json={"email": "QUIET@co.io"})
    export = client.get(f"/api/v1/groups/{made.json['id']}/export").get_data().decode("utf-8-sig")
    assert "web@co.io" in export and "call@co.io" not in export and "quiet@co.io" not in export
    hand = client.post("/api/v1/groups/", json={"name": "Hand", "kind": "leads", "mode": "manual"})
    from conveyor.plugins.leads.models import Lead

    with app.app_context():
        lead_id = db.session.scalar(select(Lead.id).where(Lead.company == "Call Co"))
    assert client.post(f"/api/v1/groups/{hand.json['id']}/members",
                       json={"id": lead_id}).status_code == 201
    members = client.get(f"/api/v1/groups/{hand.json['id']}/members").json["items"]
    assert [m["label"] for m in members] == ["Call Co"]
