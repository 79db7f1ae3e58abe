"""Statements per API request and per write stay what they were tuned to (no time asserted).

The reads: ``users/me``, the deals and customers lists and one deal or customer, by bearer
token, each in a fixed number of statements whatever the rows (the token's user with the role
and pipeline stamps and the unread count in one; stages from the per-process snapshot).
The writes: a deal created (API and web form) and a stage move do not read back what they
just wrote, nor look up the default pipeline, and run the same statements for the 1st and the
20th deal."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from conveyor import crm
from conveyor.extensions import db
from conveyor.models import Customer, Stage, User


def _customer(app: Any, owner: int) -> int:
    with app.app_context():
        customer = Customer(name="Acme", owner_id=owner)
        db.session.add(customer)
        db.session.commit()
        return customer.id


def _deals(app: Any, customer_id: int, owner: int, n: int) -> None:
    with app.app_context():
        seller = db.session.get(User, owner)
        for i in range(n):
            crm.create_deal({"customer_id": customer_id, "title": f"D{i}",
                             "amount": Decimal(10 + i)}, seller)
        db.session.commit()


def _selects(seen: list[str]) -> list[str]:
    return [s for s in seen if s.lstrip().upper().startswith("SELECT")]


@pytest.mark.parametrize("who", ["seller", "admin"])
def test_api_reads_run_a_fixed_number_of_statements(client, app, users, api_headers,
                                                    count_queries, who):
    h = api_headers(who)
    cid = _customer(app, users["seller"])
    _deals(app, cid, users["seller"], 3)
    with app.app_context():
        deal_id = db.session.scalar(select(db.text("max(id)")).select_from(db.text("deals")))
    paths = {"/api/v1/users/me": 2,  # + the teams
             "/api/v1/deals": 2, f"/api/v1/deals/{deal_id}": 2,
             "/api/v1/customers": 2, f"/api/v1/customers/{cid}": 2}
    for path in paths:
        assert client.get(path, headers=h).status_code == 200  # caches of the process filled
    counts = {}
    for path in paths:
        with count_queries() as seen:
            assert client.get(path, headers=h).status_code == 200
        counts[path] = len(seen)
    _deals(app, cid, users["seller"], 30)
    for path, expected in paths.items():
        with count_queries() as seen:
            assert client.get(path, headers=h).status_code == 200
        assert len(seen) == counts[path] <= expected, (path, seen)


def test_api_deal_create_and_move_do_not_read_back(client, app, users, api_headers,
                                                   count_queries):
    h = api_headers("seller")
    cid = _customer(app, users["seller"])
    body = {"customer_id": cid, "title": "Boiler", "amount": "10.00"}
    first = client.post("/api/v1/deals", headers=h, json=body)
    assert first.status_code == 201
    with count_queries() as seen:
        created = client.post("/api/v1/deals", headers=h, json=body)
    assert created.status_code == 201
    assert created.get_json()["stage"]["id"] == first.get_json()["stage"]["id"]
    selects = _selects(seen)
    # The token's user, the customer's visibility; no pipeline/stage lookup, no read-back.
    assert len(selects) == 2 + sum("relationships" in s for s in selects), selects
    assert not any(re.search(r"FROM (pipelines|stages)\b", s) for s in selects), selects
    assert not any(re.search(r"FROM deals\b", s) for s in selects), selects
    with app.app_context():
        target = db.session.scalars(select(Stage.id).where(Stage.is_won.is_(False),
                                    Stage.is_lost.is_(False)).order_by(Stage.position)).all()[1]
    deal_id = created.get_json()["id"]
    with count_queries() as seen:
        moved = client.post(f"/api/v1/deals/{deal_id}/stage", headers=h, json={"stage_id": target})
    assert moved.status_code == 200 and moved.get_json()["stage_id"] == target
    selects = _selects(seen)
    # The token's user, the deal, both stages in one statement.
    assert len(selects) == 3, selects
    assert sum(bool(re.search(r"FROM stages\b", s)) for s in selects) == 1, selects
    # The board's totals lose the deal in one stage and gain it in the other: one upsert
    # statement (executed for both rows), not one per stage.
    totals = [s for s in seen if s.lstrip().upper().startswith("INSERT INTO DEAL_STAGE_TOTALS")]
    assert len(totals) == 1, totals
    # Writes: the deal, the totals, the stage history, the timeline and the audit entry.
    writes = [s for s in seen if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert len(writes) == 5, writes


def test_web_deal_create_does_not_read_the_deal_back(app, users, login_as, count_queries):
    browser = login_as("seller")
    cid = _customer(app, users["seller"])
    page = browser.get("/deals/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    form = {"csrf_token": token, "title": "Form", "customer_id": cid, "amount": "5.00",
            "currency": "USD", "owner_id": str(users["seller"])}
    assert browser.post("/deals/new", data=form).status_code == 302
    with count_queries() as seen:
        response = browser.post("/deals/new", data=form)
    assert response.status_code == 302
    selects = _selects(seen)
    assert not any(re.search(r"FROM (deals|pipelines|stages)\b", s) for s in selects), selects
