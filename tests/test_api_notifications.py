"""The notifications API: the caller's own, newest first in keyset pages; mark read; 404 for others'."""
from __future__ import annotations

from typing import Any

from conveyor import notify
from conveyor.extensions import db
from conveyor.i18n import _l
from conveyor.models import Notification


def add_notes(app: Any, user_id: int, count: int) -> list[int]:
    with app.app_context():
        notes = [notify(user_id, f"Note {i}", f"/deals/{i}", "test.kind") for i in range(count)]
        db.session.commit()
        return [n.id for n in notes]


def test_notifications_are_listed_newest_first_in_keyset_pages(client, api_headers, users, app):
    ids = add_notes(app, users["seller"], 5)
    add_notes(app, users["seller2"], 2)
    h = api_headers("seller")
    first = client.get("/api/v1/notifications?page_size=3", headers=h)
    assert first.status_code == 200
    body = first.get_json()
    assert [n["id"] for n in body["items"]] == ids[::-1][:3]
    item = body["items"][0]
    assert set(item) == {"id", "kind", "message", "url", "created_at", "read_at"}
    assert item["kind"] == "test.kind" and item["message"] == "Note 4"
    assert item["url"] == "/deals/4" and item["read_at"] is None
    assert item["created_at"].endswith("+00:00")
    assert 'rel="next"' in first.headers["Link"]
    second = client.get(body["pagination"]["next"], headers=h).get_json()
    assert [n["id"] for n in second["items"]] == ids[::-1][3:]
    assert second["pagination"]["next_before"] is None


def test_marking_read_is_idempotent_and_filters_unread(client, api_headers, users, app):
    first, second = add_notes(app, users["seller"], 2)
    h = api_headers("seller")
    marked = client.post(f"/api/v1/notifications/{first}/read", headers=h)
    assert marked.status_code == 200 and marked.get_json()["read_at"].endswith("+00:00")
    again = client.post(f"/api/v1/notifications/{first}/read", headers=h)
    assert again.get_json()["read_at"] == marked.get_json()["read_at"]
    unread = client.get("/api/v1/notifications?unread=true", headers=h).get_json()["items"]
    assert [n["id"] for n in unread] == [second]


def test_another_users_notification_is_not_found(client, api_headers, users, app):
    (note,) = add_notes(app, users["seller2"], 1)
    h = api_headers("seller")
    assert client.post(f"/api/v1/notifications/{note}/read", headers=h).status_code == 404
    assert client.post("/api/v1/notifications/999999/read", headers=h).status_code == 404
    assert client.get("/api/v1/notifications", headers=h).get_json()["items"] == []
    with app.app_context():
        assert db.session.get(Notification, note).read_at is None


def test_notifications_need_credentials_and_a_token_for_writes(client, login_as, users, app):
    (note,) = add_notes(app, users["seller"], 1)
    assert client.get("/api/v1/notifications").status_code == 401
    browser = login_as("seller")
    assert browser.get("/api/v1/notifications").status_code == 200
    assert browser.post(f"/api/v1/notifications/{note}/read").status_code == 401


def test_lazy_messages_are_stored_in_the_recipients_language(client, api_headers, users, app):
    with app.app_context():
        from conveyor.models import User
        db.session.get(User, users["seller"]).locale = "ru"
        notify(users["seller"], _l("All notifications are marked as read."), "/", "test")
        db.session.commit()
    item = client.get("/api/v1/notifications", headers=api_headers("seller")).get_json()["items"][0]
    assert item["message"] != "All notifications are marked as read."


def test_notification_pages_cost_the_same_statements_whatever_their_size(
        client, api_headers, users, app, count_queries):
    h = api_headers("seller")
    add_notes(app, users["seller"], 2)
    client.get("/api/v1/notifications", headers=h)  # warm: the role settings are read once
    with count_queries() as small:
        client.get("/api/v1/notifications", headers=h)
    add_notes(app, users["seller"], 40)
    with count_queries() as large:
        client.get("/api/v1/notifications", headers=h)
    assert len(large) == len(small)


def test_a_token_load_counts_only_its_own_users_unread_notifications(app, api_headers, users):
    """The count rides along the bearer token's user load; it once counted everyone's."""
    from flask import g, request

    from conveyor.default_auth import user_from_request

    add_notes(app, users["seller2"], 3)
    add_notes(app, users["seller"], 1)
    headers = api_headers("seller")
    with app.test_request_context("/api/v1/users/me", headers=headers):
        user = user_from_request(request=request)
        assert user.id == users["seller"] and g.unread_notifications == 1
