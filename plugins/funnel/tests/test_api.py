"""/api/v1/funnel: the documented shape, the same figures as the brute force, the scope rules."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from conveyor.plugins.funnel.periods import Period

FROM, TO = "2020-01-01", "2029-12-31"
ALL_TIME = Period(date(2020, 1, 1), date(2030, 1, 1))


def test_funnel_endpoint_answers_stages_as_documented(world, app, api_headers, brute, users):
    headers = api_headers("seller")
    response = app.test_client().get(f"/api/v1/funnel?owner=me&from={FROM}&to={TO}",
                                     headers=headers)
    assert response.status_code == 200
    stages = response.get_json()["stages"]
    expected = brute.funnel(ALL_TIME, [users["seller"]])
    assert [s["stage_id"] for s in stages] == [s.id for s in brute.pipe.stages]
    for s in stages:
        assert {"stage_id", "name", "percent", "count", "amount", "weighted_amount",
                "reached"} <= set(s)
        e = expected[s["stage_id"]]
        assert isinstance(s["amount"], str) and isinstance(s["weighted_amount"], str)
        assert (s["count"], Decimal(s["amount"]), Decimal(s["weighted_amount"])) == (
            e["count"], e["amount"], e["weighted"])
        assert s["reached"] == (None if brute.stage[s["stage_id"]].is_lost else e["reached"])


def test_other_endpoints_answer(world, app, api_headers, brute):
    client = app.test_client()
    headers = api_headers("admin")
    q = f"owner=all&from={FROM}&to={TO}"
    conv = client.get(f"/api/v1/funnel/conversion?{q}", headers=headers).get_json()
    e = brute.outcomes(ALL_TIME, None)
    assert (conv["won"], conv["lost"]) == (e["won"], e["lost"])
    assert conv["worst_step"]["dropped"] == max(s["dropped"] for s in conv["steps"])
    dwell = client.get(f"/api/v1/funnel/dwell?{q}", headers=headers).get_json()
    assert {r["stage_id"] for r in dwell["stages"]} == {s.id for s in brute.pipe.open_stages}
    stalled = client.get(f"/api/v1/funnel/stalled?{q}", headers=headers).get_json()
    assert stalled["total"] == len(stalled["deals"]) > 0
    five = client.get(f"/api/v1/funnel/five-numbers?{q}", headers=headers).get_json()
    assert five["leads_available"] is False and five["visits_available"] is False
    expected = brute.five(ALL_TIME, None)
    assert five["total"]["current"]["closed"] == sum(v["closed"] for v in expected.values())
    plan = client.get(f"/api/v1/funnel/targets?{q}", headers=headers).get_json()
    assert plan["fulfilment_source"] == "deals" and plan["rows"]


def test_api_refuses_other_sellers_numbers(world, app, api_headers, users):
    client = app.test_client()
    headers = api_headers("seller")
    for path in ("", "/conversion", "/dwell", "/stalled", "/five-numbers", "/targets"):
        assert client.get(f"/api/v1/funnel{path}?owner={users['seller2']}",
                          headers=headers).status_code == 403
        assert client.get(f"/api/v1/funnel{path}?owner=all", headers=headers).status_code == 403
        assert client.get(f"/api/v1/funnel{path}?team=1", headers=headers).status_code == 403
        assert client.get(f"/api/v1/funnel{path}").status_code == 401
    assert client.get("/api/v1/funnel?from=nonsense", headers=headers).status_code == 422
    assert client.get("/api/v1/funnel?from=2024-02-01&to=2024-01-01",
                      headers=headers).status_code == 400
    manager = api_headers("manager")
    assert client.get(f"/api/v1/funnel?owner={users['seller2']}",
                      headers=manager).status_code == 200


def test_marketer_without_funnel_permission_is_refused(world, app, api_headers, login_as):
    client = app.test_client()
    assert client.get("/api/v1/funnel", headers=api_headers("marketer")).status_code == 403
    assert login_as("marketer").get("/funnel/").status_code == 403
