"""Posts through the API: record rules, replies, edit window, delete, follow, mentions."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from conveyor import db
from conveyor.models import Customer, Notification


def make_deal(app: Any, owner: int, title: str = "Boiler") -> int:
    """A customer and a deal of ``owner``, through the core's operations."""
    with app.app_context():
        from conveyor import create_customer, create_deal
        from conveyor.models import User

        user = db.session.get(User, owner)
        customer = create_customer({"name": f"{title} Ltd", "owner_id": owner}, by=user)
        db.session.flush()
        deal = create_deal({"customer_id": customer.id, "title": title, "amount": 100}, by=user)
        db.session.commit()
        return deal.id


def notes(app: Any, user_id: int) -> list[Notification]:
    with app.app_context():
        return list(db.session.scalars(select(Notification).where(
            Notification.user_id == user_id).order_by(Notification.id)))


def test_seller_posts_and_reads_own_deal_thread(client, api_headers, users, app):
    deal = make_deal(app, users["seller"])
    h = api_headers("seller")
    created = client.post(f"/api/v1/deals/{deal}/posts", headers=h,
                          json={"body": "Hello **team**"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["html"] == "<p>Hello <strong>team</strong></p>\n"
    assert body["resource"] == "deals" and body["record_id"] == deal
    assert body["created_at"].endswith("+00:00")
    reply = client.post(f"/api/v1/deals/{deal}/posts", headers=h,
                        json={"body": "more", "reply_to": body["id"]}).get_json()
    nested = client.post(f"/api/v1/deals/{deal}/posts", headers=h,
                         json={"body": "deeper", "reply_to": reply["id"]}).get_json()
    assert reply["reply_to"] == body["id"] and nested["reply_to"] == body["id"]
    listed = client.get(f"/api/v1/deals/{deal}/posts", headers=h).get_json()["items"]
    assert [p["id"] for p in listed] == [nested["id"], reply["id"], body["id"]]


def test_another_sellers_deal_is_not_found_for_reading_and_posting(client, api_headers, users,
                                                                   app):
    deal = make_deal(app, users["seller"])
    client.post(f"/api/v1/deals/{deal}/posts", headers=api_headers("seller"), json={"body": "x"})
    h = api_headers("seller2")
    assert client.get(f"/api/v1/deals/{deal}/posts", headers=h).status_code == 404
    assert client.post(f"/api/v1/deals/{deal}/posts", headers=h,
                       json={"body": "sneaky"}).status_code == 404
    assert client.post(f"/api/v1/deals/{deal}/follow", headers=h).status_code == 404
    assert client.get("/api/v1/nothing/1/posts", headers=h).status_code == 404
    manager = api_headers("manager")  # same team: sees it
    assert client.get(f"/api/v1/deals/{deal}/posts", headers=manager).status_code == 200


def test_post_of_an_invisible_record_is_not_found(client, api_headers, users, app):
    deal = make_deal(app, users["seller"])
    post = client.post(f"/api/v1/deals/{deal}/posts", headers=api_headers("seller"),
                       json={"body": "x"}).get_json()["id"]
    h = api_headers("seller3")
    assert client.get(f"/api/v1/posts/{post}", headers=h).status_code == 404
    assert client.patch(f"/api/v1/posts/{post}", headers=h, json={"body": "y"}).status_code == 404
    assert client.delete(f"/api/v1/posts/{post}", headers=h).status_code == 404


def test_bad_input_is_a_field_error_and_writes_nothing(client, api_headers, users, app):
    deal = make_deal(app, users["seller"])
    h = api_headers("seller")
    for payload, field in [({"body": ""}, "body"), ({"body": "   "}, "body"),
                           ({"body": "a\x00b"}, "body"), ({"body": 5}, "body"),
                           ({}, "body"), ({"body": "x", "reply_to": 999}, "reply_to"),
                           ({"body": "x", "reply_to": "1"}, "reply_to"),
                           ({"body": "x", "extra": 1}, "extra"),
                           ({"body": "x" * 20001}, "body"),
                           ({"body": "hi @nobody"}, "body")]:
        response = client.post(f"/api/v1/deals/{deal}/posts", headers=h, json=payload)
        assert response.status_code == 422, (payload, response.get_json())
        assert field in response.get_json()["errors"]["json"], payload
    assert client.get(f"/api/v1/deals/{deal}/posts", headers=h).get_json()["items"] == []


def test_mentioning_someone_who_may_not_see_the_record_is_refused(client, api_headers, users,
                                                                  app):
    deal = make_deal(app, users["seller"])
    h = api_headers("seller")
    refused = client.post(f"/api/v1/deals/{deal}/posts", headers=h,
                          json={"body": "@seller3 look at this"})
    assert refused.status_code == 422
    assert "seller3 may not see this record" in refused.get_json()["errors"]["json"]["body"][0]
    assert notes(app, users["seller3"]) == []
    marketer = client.post(f"/api/v1/deals/{deal}/posts", headers=h,
                           json={"body": "@marketer hi"})  # no deals.view
    assert marketer.status_code == 422
    ok = client.post(f"/api/v1/deals/{deal}/posts", headers=h,
                     json={"body": "@assistant and @lawyer, please check."})
    assert ok.status_code == 201
    assert [n.kind for n in notes(app, users["assistant"])] == ["discussions.mention"]
    assert "mentioned you on Boiler" in notes(app, users["lawyer"])[0].message


def test_followers_are_notified_and_unfollow_stops_it(client, api_headers, users, app):
    deal = make_deal(app, users["seller"])
    seller, manager = api_headers("seller"), api_headers("manager")
    assert client.post(f"/api/v1/deals/{deal}/follow", headers=manager).get_json()[
        "following"] is True
    client.post(f"/api/v1/deals/{deal}/posts", headers=seller, json={"body": "first"})
    assert [n.kind for n in notes(app, users["manager"])] == ["discussions.post"]
    assert notes(app, users["seller"]) == []  # never told about one's own post
    client.post(f"/api/v1/deals/{deal}/posts", headers=manager, json={"body": "answer"})
    assert [n.kind for n in notes(app, users["seller"])] == ["discussions.post"]  # owner follows
    assert client.delete(f"/api/v1/deals/{deal}/follow", headers=seller).status_code == 200
    client.post(f"/api/v1/deals/{deal}/posts", headers=manager, json={"body": "again"})
    assert len(notes(app, users["seller"])) == 1


def test_author_edits_within_the_window_only(client, api_headers, users, app):
    deal = make_deal(app, users["seller"])
    h = api_headers("seller")
    post = client.post(f"/api/v1/deals/{deal}/posts", headers=h, json={"body": "v1"}).get_json()
    edited = client.patch(f"/api/v1/posts/{post['id']}", headers=h, json={"body": "*v2*"})
    assert edited.status_code == 200 and edited.get_json()["html"] == "<p><em>v2</em></p>\n"
    assert edited.get_json()["edited_at"] is not None
    assert client.patch(f"/api/v1/posts/{post['id']}", headers=api_headers("manager"),
                        json={"body": "x"}).status_code == 403
    with app.app_context():
        from conveyor.plugins.discussions.models import Post

        row = db.session.get(Post, post["id"])
        row.created_at = row.created_at - timedelta(minutes=16)
        db.session.commit()
    late = client.patch(f"/api/v1/posts/{post['id']}", headers=h, json={"body": "v3"})
    assert late.status_code == 422 and "15 minutes" in late.get_json()["errors"]["json"]["body"][0]


def test_delete_keeps_the_post_as_deleted_with_who_and_when(client, api_headers, users, app):
    deal = make_deal(app, users["seller"])
    h = api_headers("seller")
    post = client.post(f"/api/v1/deals/{deal}/posts", headers=h, json={"body": "oops"}).get_json()
    other = client.post(f"/api/v1/deals/{deal}/posts", headers=h, json={"body": "ok"}).get_json()
    assert client.delete(f"/api/v1/posts/{post['id']}", headers=api_headers("manager")
                         ).status_code == 403
    assert client.delete(f"/api/v1/posts/{post['id']}", headers=h).status_code == 204
    gone = client.get(f"/api/v1/posts/{post['id']}", headers=h).get_json()
    assert gone["body"] is None and gone["html"] is None
    assert gone["deleted_by_id"] == users["seller"] and gone["deleted_at"].endswith("+00:00")
    assert client.delete(f"/api/v1/posts/{other['id']}", headers=api_headers("admin")
                         ).status_code == 204
    assert len(client.get(f"/api/v1/deals/{deal}/posts", headers=h).get_json()["items"]) == 2


def test_customers_and_leads_are_discussable(client, api_headers, users, app):
    with app.app_context():
        from conveyor.plugins.leads.models import Lead

        customer = Customer(name="Acme", owner_id=users["seller"])
        lead = Lead(name="Ivan", company="Volga", owner_id=users["seller"])
        db.session.add_all([customer, lead])
        db.session.commit()
        cid, lid = customer.id, lead.id
    h = api_headers("seller")
    assert client.post(f"/api/v1/customers/{cid}/posts", headers=h,
                       json={"body": "c"}).status_code == 201
    assert client.post(f"/api/v1/leads/{lid}/posts", headers=h,
                       json={"body": "l"}).status_code == 201
    assert client.get(f"/api/v1/leads/{lid}/posts", headers=api_headers("seller2")
                      ).status_code == 404


def test_writes_need_a_token(client, login_as, users, app):
    deal = make_deal(app, users["seller"])
    browser = login_as("seller")
    assert browser.post(f"/api/v1/deals/{deal}/posts", json={"body": "x"}).status_code == 401


def test_openapi_documents_the_discussion_operations(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    tags = {t["name"] for t in spec["tags"]}
    for path, methods in {"/api/v1/{resource}/{record_id}/posts": {"get", "post"},
                          "/api/v1/posts/{post_id}": {"get", "patch", "delete"},
                          "/api/v1/{resource}/{record_id}/follow": {"post", "delete"}}.items():
        item = spec["paths"][path]
        assert methods <= set(item), path
        for method in methods:
            assert item[method]["summary"] and set(item[method]["tags"]) <= tags
