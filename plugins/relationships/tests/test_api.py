"""API: the type on the customer resource (one query per batch) and /api/v1/relationships."""
from __future__ import annotations

from conveyor import db
from conveyor.models import Customer, User


def test_the_customer_resource_carries_type_since_and_history(web_ops, client, api_headers):
    c = web_ops.customer()
    web_ops.win(web_ops.deal(c))
    headers = api_headers("seller")
    one = client.get(f"/api/v1/customers/{c}", headers=headers).get_json()
    assert one["relationship_type"] == "current" and one["relationship_since"]
    assert [(h["from"], h["to"], h["cause"]) for h in one["relationship_history"]] == [
        ("potential", "current", "DealWon"), ("cold", "potential", "DealCreated")]
    listed = client.get("/api/v1/customers", headers=headers).get_json()
    row = next(x for x in listed["items"] if x["id"] == c)
    assert row["relationship_type"] == "current" and "relationship_history" not in row


def test_extra_fields_cost_one_query_for_any_batch(web_ops, app, count_queries):
    ids = [web_ops.customer(f"C{i}") for i in range(6)]
    web_ops.deal(ids[0])
    with app.app_context():
        customers = [db.session.get(Customer, i) for i in ids]
        user = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        hook = app.extensions["conveyor"].hook
        with count_queries() as q:
            answers = hook.api_extra_fields(resource="customer", objects=customers, user=user)
        assert len(q) == 1
        merged = {k: v for a in answers for k, v in a.items()}
        assert merged[ids[0]]["relationship_type"] == "potential"
        assert {merged[i]["relationship_type"] for i in ids[1:]} == {"cold"}
        assert hook.api_extra_fields(resource="deal", objects=customers, user=user) == [{}]


def test_report_endpoints(web_ops, client, api_headers):
    web_ops.win(web_ops.deal(web_ops.customer()))
    web_ops.customer("Other", owner="seller3")
    headers = api_headers("manager")
    summary = client.get("/api/v1/relationships/summary", headers=headers).get_json()
    assert summary["totals"]["current"] == 1 and summary["totals"]["cold"] == 0
    assert [s["owner"] for s in summary["sellers"]] == ["Seller"]
    moves = client.get("/api/v1/relationships/transitions", headers=headers).get_json()
    assert moves["up"] == 2 and moves["down"] == 0
    assert moves["sellers"][0]["moves"] == [{"from": "cold", "to": "potential", "count": 1},
                                            {"from": "potential", "to": "current", "count": 1}]
    old = client.get("/api/v1/relationships/transitions?start=2020-01-01&end=2020-12-31",
                     headers=headers).get_json()
    assert old["up"] == 0
    bad = client.get("/api/v1/relationships/transitions?start=2020-02-01&end=2020-01-01",
                     headers=headers)
    assert bad.status_code == 422
    act = client.get("/api/v1/relationships/activities", headers=headers).get_json()
    assert act["available"] is False and act["rows"] == []
    assert client.get("/api/v1/relationships/summary",
                      headers=api_headers("assistant")).status_code == 403


def test_override_through_the_api(web_ops, client, api_headers):
    c = web_ops.customer()
    url = f"/api/v1/relationships/customers/{c}/override"
    assert client.post(url, json={"type": "regular", "reason": "x"},
                       headers=api_headers("seller")).status_code == 403
    manager = api_headers("manager")
    assert client.post(url, json={"type": "regular"}, headers=manager).status_code == 422
    assert client.post(url, json={"type": "vip", "reason": "x"}, headers=manager).status_code == 422
    assert client.post(url, json={"type": "regular", "reason": " "},
                       headers=manager).status_code == 422
    done = client.post(url, json={"type": "regular", "reason": "Partner"}, headers=manager)
    assert done.status_code == 200
    body = done.get_json()
    assert (body["relationship_type"], body["computed_type"], body["override"],
            body["override_reason"]) == ("regular", "cold", True, "Partner")
    assert body["history"][0]["cause"] == "override"
    shown = client.get(url, headers=api_headers("seller")).get_json()
    assert shown["override"] is True and "history" not in shown
    cleared = client.delete(url, headers=manager).get_json()
    assert (cleared["relationship_type"], cleared["override"]) == ("cold", False)


def test_other_teams_customers_are_404(web_ops, client, api_headers):
    c = web_ops.customer(owner="seller3")
    assert client.get(f"/api/v1/relationships/customers/{c}",
                      headers=api_headers("seller")).status_code == 404
    assert client.get(f"/api/v1/relationships/customers/{c}",
                      headers=api_headers("seller3")).status_code == 200
