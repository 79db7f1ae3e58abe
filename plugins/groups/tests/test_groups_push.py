"""Pushing a group to its webhook: a real HTTP server on 127.0.0.1, started by the test."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from conveyor.extensions import db
from conveyor.plugins.groups.models import GroupPush

GENERIC = "Delivery failed: the address did not answer or did not accept the data."


class Receiver:
    """A throwaway webhook: records every JSON body; answers ``status``."""

    def __init__(self, status=200):
        self.bodies = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers["Content-Length"])
                receiver.bodies.append((self.headers["Content-Type"],
                                        json.loads(self.rfile.read(length).decode("utf-8"))))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def app(make_app):
    # the receivers listen on 127.0.0.1, which outbound requests may reach only when allowed
    return make_app(plugins=["groups"], config={"groups": {"batch_size": 2},
                                                "outbound_allowed_hosts": ["127.0.0.1"]})


def _setup(api, make_customer, url):
    make_customer("Ромашка", region="North", contacts=[
        ("Иван", "ivan@romashka.ru", ""), ("Пётр", "petr@romashka.ru", ""),
        ("Нет", "no@romashka.ru", "")])
    make_customer("上海贸易", region="North", contacts=[("王伟", "wang@sh.cn", "+86 21 5555 0101")])
    api("marketer").post("/api/v1/groups/unsubscribes", json={"email": "no@romashka.ru"})
    made = api("marketer").post("/api/v1/groups/", json={
        "name": "North", "filters": {"region": "North"}, "webhook_url": url})
    assert made.status_code == 201, made.json
    return made.json["id"]


def test_push_posts_json_batches_without_unsubscribed_addresses(app, api, login_as,
                                                               make_customer, receiver):
    gid = _setup(api, make_customer, receiver.url)
    response = login_as("marketer").post(f"/groups/{gid}/push")
    assert response.status_code == 302
    assert [b["batch"] for _t, b in receiver.bodies] == [1, 2]
    assert [b["last"] for _t, b in receiver.bodies] == [False, True]
    assert all(t.startswith("application/json") for t, _b in receiver.bodies)
    rows = [r for _t, b in receiver.bodies for r in b["rows"]]
    assert sorted(r["email"] for r in rows) == ["ivan@romashka.ru", "petr@romashka.ru",
                                               "wang@sh.cn"]
    assert {r["name"] for r in rows} == {"Иван", "Пётр", "王伟"}
    assert receiver.bodies[0][1]["group"] == {"id": gid, "name": "North", "kind": "customers"}
    with app.app_context():
        push = db.session.scalar(select(GroupPush))
        assert (push.status, push.sent, push.batches, push.error) == ("ok", 3, 2, "")
        assert push.finished_at is not None
    page = login_as("marketer").get(f"/groups/{gid}")
    assert b"push-ok" in page.data


def test_a_failing_webhook_is_logged_and_shown(app, api, login_as, make_customer, caplog):
    failing = Receiver(status=500)
    try:
        gid = _setup(api, make_customer, failing.url)
        accepted = api("marketer").post(f"/api/v1/groups/{gid}/push")
        assert accepted.status_code == 202, accepted.json
    finally:
        failing.close()
    assert len(failing.bodies) == 1  # stopped at the first refused batch
    with app.app_context():
        push = db.session.get(GroupPush, accepted.json["id"])
        assert push.status == "failed" and push.sent == 0
        assert push.error == GENERIC  # what the webhook said stays in the log
    assert any("HTTP 500" in r.getMessage() for r in caplog.records
               if r.name == "conveyor.groups")
    page = login_as("marketer").get(f"/groups/{gid}")
    assert b"push-failed" in page.data and GENERIC.encode() in page.data


def test_an_unreachable_webhook_fails_without_breaking_the_request(app, api, make_customer):
    closed = Receiver()
    url = closed.url
    closed.close()  # nothing listens there any more
    gid = _setup(api, make_customer, url)
    accepted = api("marketer").post(f"/api/v1/groups/{gid}/push")
    assert accepted.status_code == 202
    with app.app_context():
        push = db.session.get(GroupPush, accepted.json["id"])
        assert push.status == "failed" and push.error == GENERIC  # no "connection refused"


def test_push_without_a_webhook_is_refused(app, api, login_as):
    gid = api("marketer").post("/api/v1/groups/", json={"name": "No hook"}).json["id"]
    refused = api("marketer").post(f"/api/v1/groups/{gid}/push")
    assert refused.status_code == 422 and "webhook_url" in str(refused.json["errors"])
    page = login_as("marketer").post(f"/groups/{gid}/push", follow_redirects=True)
    assert b"This group has no webhook address." in page.data
    with app.app_context():
        assert db.session.scalar(select(GroupPush)) is None
    assert api("seller").post(f"/api/v1/groups/{gid}/push").status_code == 403


def test_an_empty_group_sends_one_final_empty_batch(app, api, receiver):
    gid = api("marketer").post("/api/v1/groups/", json={
        "name": "Nobody", "filters": {"region": "Nowhere"}, "webhook_url": receiver.url}).json["id"]
    assert api("marketer").post(f"/api/v1/groups/{gid}/push").status_code == 202
    assert [b for _t, b in receiver.bodies] == [
        {"group": {"id": gid, "name": "Nobody", "kind": "customers"}, "batch": 1, "last": True,
         "rows": []}]
