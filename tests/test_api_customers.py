"""The customers and contacts API: CRUD, filters, keyset pages, record rules, plugin fields."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from conveyor import hookimpl
from conveyor.extensions import db
from conveyor.models import Contact, Customer, Deal, TimelineEntry


def add_customers(app: Any, owner: int, count: int, **fields: Any) -> list[int]:
    with app.app_context():
        rows = [Customer(name=f"Company {i}", owner_id=owner, **fields) for i in range(count)]
        db.session.add_all(rows)
        db.session.commit()
        return [c.id for c in rows]


def count(app: Any, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_customer_crud_round_trip(client, api_headers, users, app, captured_events):
    h = api_headers("seller")
    created = client.post("/api/v1/customers", headers=h, json={
        "name": "  Acme Ltd  ", "industry": "Steel", "region": "North", "size": "51-200",
        "tax_id": "7701", "address": "1 Main St"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["name"] == "Acme Ltd" and body["owner_id"] == users["seller"]
    assert body["created_at"].endswith("+00:00")
    cid = body["id"]

    got = client.get(f"/api/v1/customers/{cid}", headers=h)
    assert got.status_code == 200 and got.get_json()["size"] == "51-200"

    client.post(f"/api/v1/customers/{cid}/contacts", headers=h, json={"name": "Ivan"})
    patched = client.patch(f"/api/v1/customers/{cid}", headers=h, json={"region": "South"})
    assert patched.status_code == 200 and patched.get_json()["region"] == "South"
    assert captured_events.names()[:2] == ["CustomerCreated", "CustomerUpdated"]
    assert captured_events.handled[1].changes == {"region": ("North", "South")}

    manager = api_headers("manager")  # customers.delete; same team
    assert client.delete(f"/api/v1/customers/{cid}", headers=manager).status_code == 204
    assert client.get(f"/api/v1/customers/{cid}", headers=h).status_code == 404
    assert count(app, Customer) == count(app, Contact) == count(app, TimelineEntry) == 0


def test_customer_with_deals_cannot_be_deleted(client, api_headers, app, users):
    (cid,) = add_customers(app, users["seller"], 1)
    h = api_headers("seller")
    assert client.post("/api/v1/deals", headers=h, json={
        "customer_id": cid, "title": "Boiler", "amount": "100.00"}).status_code == 201
    response = client.delete(f"/api/v1/customers/{cid}", headers=api_headers("admin"))
    assert response.status_code == 409
    assert "deals" in response.get_json()["message"]
    assert count(app, Customer) == 1


def test_seller_cannot_delete_customers(client, api_headers, app, users):
    (cid,) = add_customers(app, users["seller"], 1)
    assert client.delete(f"/api/v1/customers/{cid}",
                         headers=api_headers("seller")).status_code == 403
    assert count(app, Customer) == 1


def test_filters_narrow_the_list(client, api_headers, app, users):
    add_customers(app, users["seller"], 2, industry="Steel", region="North")
    add_customers(app, users["seller"], 3, industry="Food", region="South", size="1-10")
    with app.app_context():
        db.session.add(Customer(name="Zeta Logistics", owner_id=users["seller"], tax_id="99-1"))
        db.session.commit()
    h = api_headers("seller")

    def names(query: str) -> list[str]:
        response = client.get(f"/api/v1/customers?{query}", headers=h)
        assert response.status_code == 200, response.get_json()
        return [c["name"] for c in response.get_json()["items"]]

    assert len(names("industry=Steel")) == 2
    assert len(names("region=South&size=1-10")) == 3
    assert names("q=zeta") == ["Zeta Logistics"]
    assert names("q=99-1") == ["Zeta Logistics"]
    assert names(f"owner_id={users['seller2']}") == []


def test_search_finds_customers_by_contact(client, api_headers, app, users):
    (cid,) = add_customers(app, users["seller"], 1)
    add_customers(app, users["seller"], 2)
    h = api_headers("seller")
    client.post(f"/api/v1/customers/{cid}/contacts", headers=h,
                json={"name": "Olga Petrova", "email": "olga@example.com"})
    items = client.get("/api/v1/customers?q=petrova", headers=h).get_json()["items"]
    assert [c["id"] for c in items] == [cid]


def test_keyset_pages_walk_every_row_once(client, api_headers, app, users):
    ids = add_customers(app, users["seller"], 7)
    h = api_headers("seller")
    seen: list[int] = []
    url = "/api/v1/customers?page_size=3&industry="
    pages = 0
    while url:
        response = client.get(url, headers=h)
        assert response.status_code == 200
        body = response.get_json()
        assert len(body["items"]) <= 3 and body["pagination"]["page_size"] == 3
        seen += [c["id"] for c in body["items"]]
        pages += 1
        url = body["pagination"]["next"]
        if url:
            assert response.headers["Link"] == f'<{url}>; rel="next"'
            assert "industry=" in url  # filters survive into the next page's URL
        else:
            assert "Link" not in response.headers
    assert seen == sorted(ids, reverse=True) and pages == 3


def test_page_size_is_capped(client, api_headers, app, users):
    app.config["CONVEYOR"]["max_page_size"] = 4
    add_customers(app, users["seller"], 6)
    body = client.get("/api/v1/customers?page_size=500", headers=api_headers("seller")).get_json()
    assert len(body["items"]) == 4 and body["pagination"]["page_size"] == 4


def test_list_query_count_does_not_grow_with_rows(client, api_headers, app, users,
                                                  count_queries):
    h = api_headers("seller")
    client.get("/api/v1/customers", headers=h)  # token's last_used_at written once, not counted
    add_customers(app, users["seller"], 5)
    with count_queries() as few:
        assert len(client.get("/api/v1/customers", headers=h).get_json()["items"]) == 5
    add_customers(app, users["seller"], 45)
    with count_queries() as many:
        assert len(client.get("/api/v1/customers", headers=h).get_json()["items"]) == 50
    assert len(few) == len(many)


def test_another_sellers_customer_is_404(client, api_headers, app, users):
    (theirs,) = add_customers(app, users["seller2"], 1)
    h = api_headers("seller")
    assert client.get(f"/api/v1/customers/{theirs}", headers=h).status_code == 404
    assert client.patch(f"/api/v1/customers/{theirs}", headers=h,
                        json={"name": "Mine now"}).status_code == 404
    assert client.get(f"/api/v1/customers/{theirs}/contacts", headers=h).status_code == 404
    assert client.post(f"/api/v1/customers/{theirs}/contacts", headers=h,
                       json={"name": "Spy"}).status_code == 404
    assert client.get("/api/v1/customers", headers=h).get_json()["items"] == []
    assert count(app, Contact) == 0
    with app.app_context():
        assert db.session.get(Customer, theirs).name == "Company 0"


def test_manager_sees_the_teams_customers_only(client, api_headers, app, users):
    north = add_customers(app, users["seller"], 1) + add_customers(app, users["seller2"], 1)
    (south,) = add_customers(app, users["seller3"], 1)
    h = api_headers("manager")
    ids = {c["id"] for c in client.get("/api/v1/customers", headers=h).get_json()["items"]}
    assert ids == set(north)
    assert client.get(f"/api/v1/customers/{south}", headers=h).status_code == 404
    admin = {c["id"] for c in client.get("/api/v1/customers",
                                         headers=api_headers("admin")).get_json()["items"]}
    assert admin == {*north, south}


def test_owner_can_only_be_someone_in_scope(client, api_headers, app, users):
    h = api_headers("seller")
    response = client.post("/api/v1/customers", headers=h,
                           json={"name": "Gift", "owner_id": users["seller2"]})
    assert response.status_code == 422
    assert "owner_id" in response.get_json()["errors"]["json"]
    ok = client.post("/api/v1/customers", headers=api_headers("manager"),
                     json={"name": "Assigned", "owner_id": users["seller2"]})
    assert ok.status_code == 201 and ok.get_json()["owner_id"] == users["seller2"]
    assert client.post("/api/v1/customers", headers=api_headers("manager"), json={
        "name": "Other team", "owner_id": users["seller3"]}).status_code == 422
    assert count(app, Customer) == 1


def test_contact_crud(client, api_headers, app, users):
    (cid,) = add_customers(app, users["seller"], 1)
    h = api_headers("seller")
    created = client.post(f"/api/v1/customers/{cid}/contacts", headers=h, json={
        "name": "Ivan", "position": "CTO", "phone": "+7 (495) 123-45-67",
        "email": "Ivan@Example.COM", "decision_maker": True})
    assert created.status_code == 201, created.get_json()
    contact = created.get_json()
    assert contact["email"] == "ivan@example.com" and contact["customer_id"] == cid
    client.post(f"/api/v1/customers/{cid}/contacts", headers=h, json={"name": "Anna"})

    listed = client.get(f"/api/v1/customers/{cid}/contacts", headers=h).get_json()["items"]
    assert [c["name"] for c in listed] == ["Anna", "Ivan"]
    deciders = client.get(f"/api/v1/customers/{cid}/contacts?decision_maker=true",
                          headers=h).get_json()["items"]
    assert [c["name"] for c in deciders] == ["Ivan"]

    url = f"/api/v1/contacts/{contact['id']}"
    assert client.get(url, headers=h).get_json()["position"] == "CTO"
    patched = client.patch(url, headers=h, json={"position": "CEO", "decision_maker": False})
    assert patched.status_code == 200 and patched.get_json()["position"] == "CEO"
    assert client.delete(url, headers=h).status_code == 204
    assert client.get(url, headers=h).status_code == 404
    with app.app_context():
        kinds = list(db.session.scalars(select(TimelineEntry.kind).order_by(TimelineEntry.id)))
    assert kinds == ["contact.added", "contact.added", "contact.removed"]


def test_another_sellers_contact_is_404(client, api_headers, app, users):
    (theirs,) = add_customers(app, users["seller2"], 1)
    with app.app_context():
        contact = Contact(customer_id=theirs, name="Hidden")
        db.session.add(contact)
        db.session.commit()
        contact_id = contact.id
    h = api_headers("seller")
    assert client.get(f"/api/v1/contacts/{contact_id}", headers=h).status_code == 404
    assert client.patch(f"/api/v1/contacts/{contact_id}", headers=h,
                        json={"name": "X"}).status_code == 404
    assert client.delete(f"/api/v1/contacts/{contact_id}", headers=h).status_code == 404
    assert client.get(f"/api/v1/contacts/{contact_id}",
                      headers=api_headers("manager")).status_code == 200


class ScorePlugin:
    """Adds ``score`` to customers, and records each call to prove it is one per response."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    @hookimpl
    def api_extra_fields(self, resource: str, objects: list[Any], user: Any) -> dict[int, Any]:
        self.calls.append((resource, len(objects)))
        if resource != "customer":
            return {}
        return {c.id: {"score": c.id * 10, "name": "overwritten?"} for c in objects}


@pytest.fixture
def scoring(make_app):
    plugin = ScorePlugin()
    return make_app(extra_plugins=[("scoring", plugin)]), plugin


def test_plugins_add_fields_once_per_response(scoring):
    from conveyor.testing import token_headers

    app, plugin = scoring
    ids = add_customers(app, app.config["TEST_USER_IDS"]["seller"], 3)
    client = app.test_client()
    h = token_headers(app, "seller")
    items = client.get("/api/v1/customers", headers=h).get_json()["items"]
    assert {c["id"]: c["score"] for c in items} == {i: i * 10 for i in ids}
    assert all(c["name"].startswith("Company") for c in items)  # core fields win
    assert plugin.calls == [("customer", 3)]
    one = client.get(f"/api/v1/customers/{ids[0]}", headers=h).get_json()
    assert one["score"] == ids[0] * 10 and plugin.calls[-1] == ("customer", 1)


def test_customer_deletion_keeps_deals_safe(client, api_headers, app, users):
    """The 409 counts every deal, even ones the deleting user may not see."""
    (cid,) = add_customers(app, users["seller"], 1)
    client.post("/api/v1/deals", headers=api_headers("seller"),
                json={"customer_id": cid, "title": "Hidden", "amount": "1"})
    with app.app_context():
        db.session.get(Deal, 1).owner_id = users["seller3"]
        db.session.commit()
    assert client.delete(f"/api/v1/customers/{cid}",
                         headers=api_headers("manager")).status_code == 409
