"""Who may use the calls screens and API, and whose calls they see."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from conveyor.extensions import db
from conveyor.plugins.calls.models import Call, QueueItem
from conveyor.types import utcnow

PAGES = ["/calls/", "/calls/log", "/calls/queue/new", "/calls/history", "/calls/stats",
         "/calls/stats.csv"]


def _call(app, owner, **kw):
    with app.app_context():
        call = Call(owner_id=app.config["TEST_USER_IDS"][owner],
                    result=kw.pop("result", "no_answer"),
                    company=kw.pop("company", f"{owner} callee"),
                    created_at=kw.pop("created_at", utcnow()), **kw)
        db.session.add(call)
        db.session.commit()
        return call.id


@pytest.mark.parametrize("role,allowed", [
    ("telemarketer", True), ("manager", True), ("admin", True), ("seller", False),
    ("marketer", False), ("assistant", False), ("lawyer", False)])
def test_calls_pages_by_role(app, login_as, role, allowed):
    client = login_as(role)
    for url in PAGES:
        status = client.get(url).status_code
        assert (status == 200) is allowed and (allowed or status == 403), (role, url, status)


def test_anonymous_is_sent_to_login_and_the_api_answers_401(client):
    assert client.get("/calls/").status_code == 302
    assert client.get("/api/v1/calls/").status_code == 401


def test_nav_and_home_widget_for_the_telemarketer(app, login_as):
    with app.app_context():
        db.session.add(QueueItem(owner_id=app.config["TEST_USER_IDS"]["telemarketer"],
                                 company="Smith & Sons", phone="+1 212 555 0199"))
        db.session.commit()
    home = login_as("telemarketer").get("/")
    assert home.status_code == 200
    assert b'data-nav="calls"' in home.data and b"widget-calls-my-queue" in home.data
    assert b"Smith &amp; Sons" in home.data
    assert b'data-nav="calls"' not in login_as("seller").get("/").data


def test_history_telemarketer_sees_own_manager_the_team_admin_all(app, login_as):
    _call(app, "telemarketer")
    _call(app, "seller")  # North team, with the manager
    _call(app, "seller3")  # South team

    def seen(role):
        page = login_as(role).get("/calls/history").data
        return {o for o in ("telemarketer", "seller", "seller3") if f"{o} callee".encode() in page}

    assert seen("telemarketer") == {"telemarketer"}
    assert seen("manager") == {"seller"}
    assert seen("admin") == {"telemarketer", "seller", "seller3"}


def test_api_get_of_an_invisible_call_is_404(app, api_headers):
    other = _call(app, "seller3")
    mine = _call(app, "telemarketer")
    headers = api_headers("telemarketer")
    assert app.test_client().get(f"/api/v1/calls/{other}", headers=headers).status_code == 404
    assert app.test_client().get(f"/api/v1/calls/{mine}", headers=headers).status_code == 200
    assert app.test_client().get("/api/v1/calls/", headers=api_headers("seller")).status_code == 403


def test_history_page_query_count_does_not_grow(app, login_as, count_queries):
    client = login_as("manager")
    _call(app, "seller")
    client.get("/calls/history")
    with count_queries() as few:
        client.get("/calls/history")
    with app.app_context():
        ids = app.config["TEST_USER_IDS"]
        db.session.add_all(Call(owner_id=ids["seller"] if i % 2 else ids["seller2"],
                                result="no_answer", company=f"c{i}",
                                created_at=utcnow() - timedelta(minutes=i)) for i in range(40))
        db.session.commit()
    with count_queries() as many:
        page = client.get("/calls/history")
    assert page.data.count(b"<tr>") > 30
    assert len(many) == len(few)


def test_keyset_history_pages_do_not_repeat_rows(app, login_as):
    with app.app_context():
        tm = app.config["TEST_USER_IDS"]["telemarketer"]
        db.session.add_all(Call(owner_id=tm, result="no_answer", company=f"row-{i:03d}-",
                                created_at=utcnow()) for i in range(60))
        db.session.commit()
        last_id = db.session.scalar(select(Call.id).order_by(Call.id.desc()).limit(1).offset(49))
    client = login_as("telemarketer")
    first = client.get("/calls/history").data
    assert f"before={last_id}".encode() in first
    second = client.get(f"/calls/history?before={last_id}").data
    rows1 = {i for i in range(60) if f"row-{i:03d}-".encode() in first}
    rows2 = {i for i in range(60) if f"row-{i:03d}-".encode() in second}
    assert len(rows1) == 50 and len(rows2) == 10 and not rows1 & rows2


def test_queue_page_and_home_widget_query_counts_do_not_grow(app, login_as, count_queries):
    from conveyor import crm
    from conveyor.models import User

    tm = app.config["TEST_USER_IDS"]["telemarketer"]

    def fill(n):
        with app.app_context():
            user = db.session.get(User, tm)
            for i in range(n):
                customer = crm.create_customer({"name": f"Queue {i}"}, user)
                db.session.add(QueueItem(owner_id=tm, customer_id=customer.id, priority=i % 3))
                db.session.add(QueueItem(owner_id=tm, company=f"later {i}",
                                         due_at=utcnow() + timedelta(days=1)))
                db.session.add(Call(owner_id=tm, customer_id=customer.id, result="no_answer",
                                    created_at=utcnow()))
            db.session.commit()

    client = login_as("telemarketer")
    fill(1)
    client.get("/calls/")
    with count_queries() as few_queue:
        client.get("/calls/")
    with count_queries() as few_home:
        client.get("/")
    fill(12)
    with count_queries() as many_queue:
        page = client.get("/calls/")
    with count_queries() as many_home:
        home = client.get("/")
    assert page.data.count(b'data-action="call"') == 13 + 13
    assert home.data.count(b'data-action="call"') == 5
    assert len(many_queue) == len(few_queue) and len(many_home) == len(few_home)
