"""Statistics per telemarketer per period (SQL GROUP BY), CSV export, and /api/v1/calls."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from conveyor.extensions import db
from conveyor.plugins.calls.models import Call, QueueItem
from conveyor.plugins.calls.plugin import relationship_interest


def _at(day, hour=10):
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def _seed(app):
    ids = app.config["TEST_USER_IDS"]
    rows = [
        # 2026-11-02 is a Monday; 2026-11-08 the Sunday of the same ISO week.
        ("telemarketer", _at(2), "no_answer", False, None),
        ("telemarketer", _at(2, 23), "interested", True, 101),
        ("telemarketer", _at(8), "interested", True, 102),
        ("telemarketer", _at(9), "interested", True, 102),  # the same lead found again
        ("seller", _at(3), "call_back", False, None),
        ("seller3", _at(3), "not_interested", False, None),
    ]
    with app.app_context():
        for owner, at, result, interested, lead in rows:
            db.session.add(Call(owner_id=ids[owner], created_at=at, result=result,
                                interested=interested, lead_id=lead, company="x"))
        db.session.commit()
    return ids


def _stats(client, **params):
    response = client.get("/api/v1/calls/stats", query_string={"from": "2026-11-01",
                                                               "to": "2026-11-30", **params})
    assert response.status_code == 200, response.json
    return {(r["period"], r["owner_id"]): (r["calls"], r["interested"], r["leads"])
            for r in response.json["rows"]}


def test_stats_count_calls_and_leads_per_telemarketer_per_period(app, api_headers):
    ids = _seed(app)
    tm = ids["telemarketer"]
    client = app.test_client()
    client.environ_base.update(HTTP_AUTHORIZATION=api_headers("admin")["Authorization"])
    assert _stats(client, period="day", owner_id=tm) == {
        ("2026-11-02", tm): (2, 1, 1), ("2026-11-08", tm): (1, 1, 1),
        ("2026-11-09", tm): (1, 1, 1)}
    assert _stats(client, period="week", owner_id=tm) == {
        ("2026-11-02", tm): (3, 2, 2), ("2026-11-09", tm): (1, 1, 1)}
    assert _stats(client, period="month") == {
        ("2026-11", tm): (4, 3, 2), ("2026-11", ids["seller"]): (1, 0, 0),
        ("2026-11", ids["seller3"]): (1, 0, 0)}
    assert _stats(client, period="month", to="2026-11-02") == {("2026-11", tm): (2, 1, 1)}


def test_stats_scope_telemarketer_themself_manager_the_team(app, api_headers):
    ids = _seed(app)
    for role, owners in (("telemarketer", {ids["telemarketer"]}), ("manager", {ids["seller"]})):
        client = app.test_client()
        client.environ_base.update(HTTP_AUTHORIZATION=api_headers(role)["Authorization"])
        assert {o for _p, o in _stats(client, period="month")} == owners


def test_stats_page_and_csv_export(app, login_as):
    _seed(app)
    client = login_as("admin")
    page = client.get("/calls/stats?period=week&start=2026-11-01&end=2026-11-30")
    assert page.status_code == 200 and b"2026-11-09" in page.data
    csv = client.get("/calls/stats.csv?period=month&start=2026-11-01&end=2026-11-30")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    text = csv.data.decode("utf-8")
    assert text.startswith("\ufeffPeriod,User id,User,Calls")
    assert "2026-11," in text and "Telemarketer,4,3,2" in text
    bad = client.get("/calls/stats?start=2026-11-30&end=2026-11-01")
    assert bad.status_code == 400 and b"The end is before the start." in bad.data


def test_stats_query_count_does_not_grow_with_calls(app, login_as, count_queries):
    _seed(app)
    client = login_as("admin")
    url = "/calls/stats?period=day&start=2026-11-01&end=2026-11-30"
    client.get(url)
    with count_queries() as few:
        client.get(url)
    with app.app_context():
        db.session.add_all(Call(owner_id=app.config["TEST_USER_IDS"]["seller2"],
                                created_at=_at(d), result="no_answer") for d in range(1, 29))
        db.session.commit()
    with count_queries() as many:
        client.get(url)
    assert len(many) == len(few)


def test_api_logs_a_call_and_lists_with_filters_and_pages(app, api_headers):
    headers = api_headers("telemarketer")
    client = app.test_client()
    created = client.post("/api/v1/calls/", headers=headers, json={
        "company": "Iberia Foods", "phone": "+34 91 555 0123", "result": "call_back",
        "call_back_at": "2030-01-02T09:00:00+01:00", "notes": "after lunch"})
    assert created.status_code == 201, created.json
    assert created.json["call_back_at"].startswith("2030-01-02T08:00:00")
    for i in range(4):
        client.post("/api/v1/calls/", headers=headers,
                    json={"name": f"p{i}", "result": "no_answer"})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(QueueItem)) == 1
    response = client.get("/api/v1/calls/?result=no_answer&page_size=3", headers=headers)
    page = response.json
    assert [c["name"] for c in page["items"]] == ["p3", "p2", "p1"]
    assert response.headers["Link"] == f'<{page["pagination"]["next"]}>; rel="next"'
    rest = client.get(page["pagination"]["next"], headers=headers).json
    assert [c["name"] for c in rest["items"]] == ["p0"]
    assert rest["pagination"]["next_before"] is None and "Link" not in rest
    one = client.get(f"/api/v1/calls/{created.json['id']}", headers=headers).json
    assert one["result"] == "call_back"
    assert one["owner_id"] == app.config["TEST_USER_IDS"]["telemarketer"]


@pytest.mark.parametrize("body,field", [
    ({"name": "x"}, "result"),
    ({"name": "x", "result": "call_back"}, "call_back_at"),
    ({"name": "x", "result": "call_back", "call_back_at": "2030-01-02T09:00:00"}, "call_back_at"),
    ({"result": "no_answer"}, "name"),
    ({"customer_id": 99999, "result": "no_answer"}, "customer_id"),
    ({"customer_id": 10**12, "result": "no_answer"}, "customer_id"),
    ({"name": "x", "result": "interested", "products": ["a" * 101]}, "products"),
    ({"name": "x", "result": "no_answer", "queue_item_id": 5}, "queue_item_id"),
])
def test_api_bad_input_is_422_and_writes_nothing(app, api_headers, body, field):
    response = app.test_client().post("/api/v1/calls/", headers=api_headers("telemarketer"),
                                      json=body)
    assert response.status_code == 422, response.json
    assert field in str(response.json["errors"])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Call)) == 0


def test_api_stats_rejects_bad_periods(app, api_headers):
    client = app.test_client()
    headers = api_headers("telemarketer")
    assert client.get("/api/v1/calls/stats?period=year", headers=headers).status_code == 422
    assert client.get("/api/v1/calls/stats?from=2026-02-01&to=2026-01-01",
                      headers=headers).status_code == 422


def test_relationship_interest_selects_interested_calls_with_a_customer(app):
    from conveyor import crm
    from conveyor.models import User

    with app.app_context():
        admin = db.session.get(User, app.config["TEST_USER_IDS"]["admin"])
        a = crm.create_customer({"name": "A"}, admin)
        b = crm.create_customer({"name": "B"}, admin)
        db.session.add_all([
            Call(owner_id=admin.id, customer_id=a.id, result="interested", interested=True,
                 created_at=_at(5)),
            Call(owner_id=admin.id, customer_id=b.id, result="not_interested", created_at=_at(6)),
            Call(owner_id=admin.id, result="interested", interested=True, created_at=_at(7)),
        ])
        db.session.commit()
        (query,) = relationship_interest(customer_ids=None)
        assert [tuple(r) for r in db.session.execute(query)] == [(a.id, _at(5))]
        (query,) = relationship_interest(customer_ids=[b.id])
        assert list(db.session.execute(query)) == []


def test_the_csv_export_neutralises_formulas_in_names(app, login_as):
    from conveyor.models import User

    ids = _seed(app)
    with app.app_context():
        db.session.get(User, ids["telemarketer"]).display_name = "=HYPERLINK(\"http://x\",\"y\")"
        db.session.get(User, ids["seller"]).display_name = "@SUM(A1)"
        db.session.commit()
    text = login_as("admin").get(
        "/calls/stats.csv?period=month&start=2026-11-01&end=2026-11-30").data.decode("utf-8")
    assert "'=HYPERLINK" in text and ",'@SUM(A1)," in text
    assert ",=" not in text and ",@" not in text
