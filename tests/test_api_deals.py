"""The deals API: create/get/update/delete, optimistic locking, stage moves, filters, pages."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, inspect, select

from conveyor.extensions import db
from conveyor.models import Customer, Deal, Stage, StageHistory, TimelineEntry


def add_customer(app: Any, owner: int, name: str = "Acme") -> int:
    with app.app_context():
        customer = Customer(name=name, owner_id=owner)
        db.session.add(customer)
        db.session.commit()
        return customer.id


def stage_id(app: Any, **where: Any) -> int:
    with app.app_context():
        query = select(Stage.id).order_by(Stage.position)
        for key, value in where.items():
            query = query.where(getattr(Stage, key) == value)
        return db.session.scalar(query)


def new_deal(client: Any, h: dict[str, str], customer_id: int, **extra: Any) -> dict[str, Any]:
    response = client.post("/api/v1/deals", headers=h, json={
        "customer_id": customer_id, "title": "Boiler", "amount": "1250.50", **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def rows(app: Any, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_create_and_get_a_deal(client, api_headers, app, users, captured_events):
    cid = add_customer(app, users["seller"])
    h = api_headers("seller")
    deal = new_deal(client, h, cid, margin="-10.00", currency="EUR",
                    expected_close="2026-12-31")
    assert deal["amount"] == "1250.50" and deal["margin"] == "-10.00"
    assert deal["currency"] == "EUR" and deal["expected_close"] == "2026-12-31"
    assert deal["stage"]["percent"] == 0 and deal["status"] == "open"
    assert deal["version"] == 1 and deal["owner_id"] == users["seller"]
    assert deal["created_at"].endswith("+00:00")
    got = client.get(f"/api/v1/deals/{deal['id']}", headers=h)
    assert got.get_json() == deal and got.headers["ETag"] == '"1"'
    with app.app_context():
        stored = db.session.get(Deal, deal["id"])
        assert stored.amount == Decimal("1250.50")
        assert db.session.scalar(select(func.count()).select_from(StageHistory)) == 1
    assert captured_events.names() == ["DealCreated"]


def test_currency_defaults_to_the_deployments(client, api_headers, app, users):
    app.config["CONVEYOR"]["default_currency"] = "RUB"
    deal = new_deal(client, api_headers("seller"), add_customer(app, users["seller"]))
    assert deal["currency"] == "RUB"


def test_deal_can_start_in_a_chosen_stage(client, api_headers, app, users):
    forty = stage_id(app, percent=40)
    deal = new_deal(client, api_headers("seller"), add_customer(app, users["seller"]),
                    stage_id=forty)
    assert deal["stage_id"] == forty


def test_patch_needs_the_current_version(client, api_headers, app, users, captured_events):
    h = api_headers("seller")
    deal = new_deal(client, h, add_customer(app, users["seller"]))
    url = f"/api/v1/deals/{deal['id']}"

    missing = client.patch(url, headers=h, json={"title": "No version"})
    assert missing.status_code == 428 and missing.headers["ETag"] == '"1"'

    first = client.patch(url, headers=h, json={"title": "Boiler v2", "amount": "99",
                                               "version": 1})
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["version"] == 2 and first.get_json()["amount"] == "99.00"
    assert first.headers["ETag"] == '"2"'

    stale = client.patch(url, headers=h, json={"title": "Lost update", "version": 1})
    assert stale.status_code == 409 and "version 2" in stale.get_json()["message"]
    assert stale.headers["ETag"] == '"2"'
    assert client.get(url, headers=h).get_json()["title"] == "Boiler v2"
    assert [e.name for e in captured_events.handled].count("DealUpdated") == 1
    changes = next(e.changes for e in captured_events.handled if e.name == "DealUpdated")
    assert changes["title"] == ("Boiler", "Boiler v2")


def test_if_match_header_works_like_the_version_field(client, api_headers, app, users):
    h = api_headers("seller")
    deal = new_deal(client, h, add_customer(app, users["seller"]))
    url = f"/api/v1/deals/{deal['id']}"
    ok = client.patch(url, headers={**h, "If-Match": '"1"'}, json={"title": "Via header"})
    assert ok.status_code == 200 and ok.get_json()["version"] == 2
    stale = client.patch(url, headers={**h, "If-Match": 'W/"1"'}, json={"title": "Again"})
    assert stale.status_code == 409
    both = client.patch(url, headers={**h, "If-Match": '"2"'}, json={"title": "X", "version": 1})
    assert both.status_code == 409  # any stale claim refuses the change
    junk = client.patch(url, headers={**h, "If-Match": "yesterday"}, json={"title": "Y"})
    assert junk.status_code == 400
    assert client.get(url, headers=h).get_json()["title"] == "Via header"


def test_a_concurrent_writer_is_caught_at_commit(client, api_headers, app, users, monkeypatch):
    """If another transaction bumps the version between our read and our UPDATE: 409."""
    from conveyor import crm

    h = api_headers("seller")
    deal = new_deal(client, h, add_customer(app, users["seller"]))
    real_update = crm.update_deal

    def racing_update(target: Deal, data: dict[str, Any], by: Any) -> Any:
        with db.engine.begin() as conn:  # another writer, committed first
            conn.execute(Deal.__table__.update().where(Deal.id == target.id)
                         .values(version=Deal.version + 1, title="Theirs"))
        return real_update(target, data, by)

    monkeypatch.setattr(crm, "update_deal", racing_update)
    response = client.patch(f"/api/v1/deals/{deal['id']}", headers=h,
                            json={"title": "Mine", "version": 1})
    assert response.status_code == 409
    with app.app_context():
        assert db.session.get(Deal, deal["id"]).title == "Theirs"


def test_stage_move_writes_history_and_events(client, api_headers, app, users,
                                              captured_events):
    h = api_headers("seller")
    deal = new_deal(client, h, add_customer(app, users["seller"]))
    forty = stage_id(app, percent=40, is_won=False, is_lost=False)
    moved = client.post(f"/api/v1/deals/{deal['id']}/stage", headers=h, json={"stage_id": forty})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["stage"]["percent"] == 40 and moved.get_json()["version"] > 1

    won = stage_id(app, is_won=True)
    done = client.post(f"/api/v1/deals/{deal['id']}/stage", headers=h, json={"stage_id": won})
    assert done.get_json()["status"] == "won" and done.get_json()["closed_at"]
    names = captured_events.names()
    assert names == ["DealCreated", "DealStageChanged", "DealStageChanged", "DealWon"]
    # the acting user itself, not Flask-Login's proxy (which is gone once the request ends)
    assert inspect(captured_events.handled[1].by).identity == (users["seller"],)

    history = client.get(f"/api/v1/deals/{deal['id']}/history", headers=h).get_json()
    assert [(r["from_stage_id"], r["to_stage_id"]) for r in history] == [
        (None, deal["stage_id"]), (deal["stage_id"], forty), (forty, won)]
    assert all(r["by_id"] == users["seller"] and r["at"].endswith("+00:00") for r in history)
    with app.app_context():
        kinds = list(db.session.scalars(select(TimelineEntry.kind)
                                        .where(TimelineEntry.deal_id == deal["id"])))
    assert kinds.count("deal.stage_changed") == 2


def test_losing_a_deal_keeps_the_reason(client, api_headers, app, users, captured_events):
    h = api_headers("seller")
    deal = new_deal(client, h, add_customer(app, users["seller"]))
    lost = client.post(f"/api/v1/deals/{deal['id']}/stage", headers=h, json={
        "stage_id": stage_id(app, is_lost=True), "lost_reason": "Too expensive"})
    assert lost.get_json()["lost_reason"] == "Too expensive"
    assert lost.get_json()["status"] == "lost"
    assert captured_events.handled[-1].name == "DealLost"
    assert captured_events.handled[-1].reason == "Too expensive"


def test_moving_to_the_current_stage_changes_nothing(client, api_headers, app, users,
                                                     captured_events):
    h = api_headers("seller")
    deal = new_deal(client, h, add_customer(app, users["seller"]))
    same = client.post(f"/api/v1/deals/{deal['id']}/stage", headers=h,
                       json={"stage_id": deal["stage_id"]})
    assert same.status_code == 200 and same.get_json()["version"] == deal["version"]
    assert rows(app, StageHistory) == 1 and captured_events.names() == ["DealCreated"]


def test_stage_move_checks_a_given_version(client, api_headers, app, users):
    h = api_headers("seller")
    deal = new_deal(client, h, add_customer(app, users["seller"]))
    client.patch(f"/api/v1/deals/{deal['id']}", headers=h, json={"title": "X", "version": 1})
    stale = client.post(f"/api/v1/deals/{deal['id']}/stage", headers=h,
                        json={"stage_id": stage_id(app, percent=10), "version": 1})
    assert stale.status_code == 409
    assert rows(app, StageHistory) == 1


def test_stage_of_another_pipeline_is_a_field_error(client, api_headers, app, users):
    from conveyor.models import Pipeline

    with app.app_context():
        other = Pipeline(name="Service", stages=[Stage(name="Start", percent=0, position=0)])
        db.session.add(other)
        db.session.commit()
        foreign = other.stages[0].id
    h = api_headers("seller")
    deal = new_deal(client, h, add_customer(app, users["seller"]))
    response = client.post(f"/api/v1/deals/{deal['id']}/stage", headers=h,
                           json={"stage_id": foreign})
    assert response.status_code == 422
    assert "stage_id" in response.get_json()["errors"]["json"]
    assert rows(app, StageHistory) == 1


def test_delete_a_deal(client, api_headers, app, users):
    cid = add_customer(app, users["seller"])
    deal = new_deal(client, api_headers("seller"), cid)
    url = f"/api/v1/deals/{deal['id']}"
    assert client.delete(url, headers=api_headers("seller")).status_code == 403
    manager = api_headers("manager")
    assert client.delete(url, headers={**manager, "If-Match": '"7"'}).status_code == 409
    assert client.delete(url, headers=manager).status_code == 204
    assert client.get(url, headers=manager).status_code == 404
    assert rows(app, Deal) == 0 and rows(app, StageHistory) == 0
    with app.app_context():
        entry = db.session.scalar(select(TimelineEntry).where(TimelineEntry.kind ==
                                                              "deal.deleted"))
        assert entry.customer_id == cid and entry.message == "Boiler"


def test_deal_filters(client, api_headers, app, users):
    h = api_headers("seller")
    acme, beta = add_customer(app, users["seller"]), add_customer(app, users["seller"], "Beta")
    a = new_deal(client, h, acme, title="Alpha pump")
    b = new_deal(client, h, beta, title="Beta valve")
    won = stage_id(app, is_won=True)
    client.post(f"/api/v1/deals/{b['id']}/stage", headers=h, json={"stage_id": won})

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/deals?{query}", headers=h)
        assert response.status_code == 200, response.get_json()
        return [d["id"] for d in response.get_json()["items"]]

    assert ids(f"customer_id={acme}") == [a["id"]]
    assert ids("status=won") == [b["id"]] and ids("status=open") == [a["id"]]
    assert ids("status=lost") == []
    assert ids(f"stage_id={won}") == [b["id"]]
    assert ids("q=valve") == [b["id"]]
    assert ids(f"owner_id={users['seller']}") == [b["id"], a["id"]]
    assert ids(f"pipeline_id={a['pipeline_id']}&page_size=1") == [b["id"]]
    assert client.get("/api/v1/deals?status=maybe", headers=h).status_code == 422


def test_deal_list_query_count_is_constant(client, api_headers, app, users, count_queries):
    h = api_headers("seller")
    cid = add_customer(app, users["seller"])
    client.get("/api/v1/deals", headers=h)

    def add(n: int) -> None:
        with app.app_context():
            from conveyor.crm import create_deal
            from conveyor.models import User

            seller = db.session.get(User, users["seller"])
            for i in range(n):
                create_deal({"customer_id": cid, "title": f"D{i}"}, seller)
            db.session.commit()

    add(5)
    client.get("/api/v1/deals", headers=h)  # the process's stages snapshot is built once
    with count_queries() as few:
        assert len(client.get("/api/v1/deals", headers=h).get_json()["items"]) == 5
    add(45)
    with count_queries() as many:
        assert len(client.get("/api/v1/deals", headers=h).get_json()["items"]) == 50
    assert len(few) == len(many)
    # The token's user with its stamps, then the page (stages come from the snapshot).
    assert len(many) == 2, many


def test_record_rules_for_deals(client, api_headers, app, users):
    mine = new_deal(client, api_headers("seller"), add_customer(app, users["seller"]))
    south = new_deal(client, api_headers("seller3"), add_customer(app, users["seller3"]))
    seller2 = api_headers("seller2")
    for method, suffix, body in (("get", "", None), ("patch", "", {"title": "x", "version": 1}),
                                 ("post", "/stage", {"stage_id": mine["stage_id"]}),
                                 ("get", "/history", None)):
        response = getattr(client, method)(f"/api/v1/deals/{mine['id']}{suffix}",
                                           headers=seller2, json=body)
        assert response.status_code == 404, (method, suffix)
    manager = api_headers("manager")
    assert [d["id"] for d in client.get("/api/v1/deals", headers=manager).get_json()["items"]] \
        == [mine["id"]]
    assert client.get(f"/api/v1/deals/{south['id']}", headers=manager).status_code == 404
    edited = client.patch(f"/api/v1/deals/{mine['id']}", headers=manager,
                          json={"title": "Team edit", "version": 1})
    assert edited.status_code == 200


def test_deal_for_an_invisible_customer_is_refused(client, api_headers, app, users):
    theirs = add_customer(app, users["seller2"])
    response = client.post("/api/v1/deals", headers=api_headers("seller"), json={
        "customer_id": theirs, "title": "Poach", "amount": "1"})
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["customer_id"]
    mine = new_deal(client, api_headers("seller"), add_customer(app, users["seller"]))
    moved = client.patch(f"/api/v1/deals/{mine['id']}", headers=api_headers("seller"),
                         json={"customer_id": theirs, "version": 1})
    assert moved.status_code == 422
    assert rows(app, Deal) == 1
