"""Bad input to the API: a clear 4xx with field messages, never a 500, nothing written."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from conveyor.extensions import db
from conveyor.models import Contact, Customer, Deal, StageHistory, TimelineEntry

TABLES = (Customer, Contact, Deal, StageHistory, TimelineEntry)
LONG = "x" * 201
D = {"title": "Pump", "amount": "10.00"}  # a deal body, completed with the customer's id


@pytest.fixture
def world(app, api_headers, users):
    """A customer and a deal of the seller's, then a snapshot of every table's row count."""
    from conveyor.crm import create_customer, create_deal
    from conveyor.models import User

    with app.app_context():
        seller = db.session.get(User, users["seller"])
        customer = create_customer({"name": "Acme"}, seller)
        db.session.flush()
        deal = create_deal({"customer_id": customer.id, "title": "Boiler"}, seller)
        db.session.commit()
        ids = {"cid": customer.id, "did": deal.id}
    return ids, api_headers("seller")


def counts(app: Any) -> dict[str, int]:
    with app.app_context():
        return {m.__tablename__: db.session.scalar(select(func.count()).select_from(m))
                for m in TABLES}


# (method, url, json body or raw text, expected status, field expected in the error)
CASES = [
    ("post", "/api/v1/customers", '{"name": ', 400, "json"),
    ("post", "/api/v1/customers", "[1, 2]", 422, "_schema"),
    ("post", "/api/v1/customers", '"Acme"', 422, "_schema"),
    ("post", "/api/v1/customers", {"name": 5}, 422, "name"),
    ("post", "/api/v1/customers", {"name": None}, 422, "name"),
    ("post", "/api/v1/customers", {"name": LONG}, 422, "name"),
    ("post", "/api/v1/customers", {"name": "   "}, 422, "name"),
    ("post", "/api/v1/customers", {"name": "A\x00B"}, 422, "name"),
    ("post", "/api/v1/customers", {}, 422, "name"),
    ("post", "/api/v1/customers", {"name": "A", "size": "huge"}, 422, "size"),
    ("post", "/api/v1/customers", {"name": "A", "address": "y" * 1001}, 422, "address"),
    ("post", "/api/v1/customers", {"name": "A", "nickname": "Ac"}, 422, "nickname"),
    ("post", "/api/v1/customers", {"name": "A", "owner_id": "5"}, 422, "owner_id"),
    ("post", "/api/v1/customers", {"name": "A", "owner_id": 99999}, 422, "owner_id"),
    ("post", "/api/v1/customers", {"name": "A", "owner_id": 10 ** 20}, 422, "owner_id"),
    ("post", "/api/v1/customers", {"name": "A", "id": 7}, 422, "id"),
    ("patch", "/api/v1/customers/{cid}", {}, 422, "_schema"),
    ("patch", "/api/v1/customers/{cid}", {"name": ""}, 422, "name"),
    ("patch", "/api/v1/customers/{cid}", {"region": ["North"]}, 422, "region"),
    ("post", "/api/v1/customers/{cid}/contacts", {"name": "I", "email": "not-mail"}, 422,
     "email"),
    ("post", "/api/v1/customers/{cid}/contacts", {"name": "I", "phone": "call me"}, 422,
     "phone"),
    ("post", "/api/v1/customers/{cid}/contacts", {"name": "I", "decision_maker": "maybe"}, 422,
     "decision_maker"),
    ("post", "/api/v1/customers/{cid}/contacts", {"name": "I", "position": "p" * 121}, 422,
     "position"),
    ("post", "/api/v1/deals", {"customer_id": 99999, **D}, 422, "customer_id"),
    ("post", "/api/v1/deals", {"customer_id": 2 ** 40, **D}, 422, "customer_id"),
    ("post", "/api/v1/deals", {"customer_id": "{cid}", **D}, 422, "customer_id"),
    ("post", "/api/v1/deals", {"customer_id": 0, **D}, 422, "customer_id"),
    ("post", "/api/v1/deals", {"title": "T", "amount": "1"}, 422, "customer_id"),
    ("post", "/api/v1/deals", {"customer_id": "cid", "title": "T"}, 422, "amount"),
    ("post", "/api/v1/deals", {"customer_id": "cid", "title": LONG, "amount": "1"}, 422,
     "title"),
    ("post", "/api/v1/deals", {"customer_id": "cid", "title": "T", "amount": "12.345"}, 422,
     "amount"),
    ("post", "/api/v1/deals", {"customer_id": "cid", "title": "T", "amount": "abc"}, 422,
     "amount"),
    ("post", "/api/v1/deals", {"customer_id": "cid", "title": "T", "amount": "NaN"}, 422,
     "amount"),
    ("post", "/api/v1/deals", {"customer_id": "cid", "title": "T", "amount": "1e400"}, 422,
     "amount"),
    ("post", "/api/v1/deals", {"customer_id": "cid", "title": "T", "amount": "-1"}, 422,
     "amount"),
    ("post", "/api/v1/deals", {"customer_id": "cid", "title": "T", "amount": 10 ** 15}, 422,
     "amount"),
    ("post", "/api/v1/deals", {"customer_id": "cid", "title": "T", "amount": True}, 422,
     "amount"),
    ("post", "/api/v1/deals", {"customer_id": "cid", "currency": "ZZZ", **D}, 422, "currency"),
    ("post", "/api/v1/deals", {"customer_id": "cid", "expected_close": "31/12/2026", **D},
     422, "expected_close"),
    ("post", "/api/v1/deals", {"customer_id": "cid", "stage_id": 99999, **D}, 422, "stage_id"),
    ("post", "/api/v1/deals", {"customer_id": "cid", "owner_id": 99999, **D}, 422, "owner_id"),
    ("post", "/api/v1/deals", {"customer_id": "cid", "version": 3, **D}, 422, "version"),
    ("patch", "/api/v1/deals/{did}", {"version": 1, "amount": "x"}, 422, "amount"),
    ("patch", "/api/v1/deals/{did}", {"version": "1", "title": "T"}, 422, "version"),
    ("patch", "/api/v1/deals/{did}", {"version": 1, "stage_id": 2}, 422, "stage_id"),
    ("patch", "/api/v1/deals/{did}", {"version": 1, "customer_id": 99999}, 422, "customer_id"),
    ("post", "/api/v1/deals/{did}/stage", {}, 422, "stage_id"),
    ("post", "/api/v1/deals/{did}/stage", {"stage_id": 99999}, 422, "stage_id"),
    ("post", "/api/v1/deals/{did}/stage", {"stage_id": "two"}, 422, "stage_id"),
    ("post", "/api/v1/deals/{did}/stage", {"stage_id": 2, "lost_reason": LONG}, 422,
     "lost_reason"),
    ("get", "/api/v1/customers?page_size=0", None, 422, "page_size"),
    ("get", "/api/v1/customers?before=abc", None, 422, "before"),
    ("get", "/api/v1/customers?owner_id=99999999999999999999", None, 422, "owner_id"),
    ("get", "/api/v1/customers?q=" + "q" * 101, None, 422, "q"),
    ("get", "/api/v1/deals?status=maybe", None, 422, "status"),
]


def _fill(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, str):
        return value.replace("{cid}", str(ids["cid"])).replace("{did}", str(ids["did"]))
    if isinstance(value, dict):
        return {k: (ids["cid"] if v == "cid" else _fill(v, ids)) for k, v in value.items()}
    return value


@pytest.mark.parametrize("method,url,body,status,field", CASES,
                         ids=[f"{c[0]} {c[1]} {c[4]} {i}" for i, c in enumerate(CASES)])
def test_bad_input_is_a_clear_4xx_and_writes_nothing(app, client, world, method, url, body,
                                                     status, field):
    ids, h = world
    before = counts(app)
    kwargs: dict[str, Any] = {"headers": h}
    if isinstance(body, str):
        kwargs.update(data=_fill(body, ids), content_type="application/json")
    elif body is not None:
        kwargs["json"] = _fill(body, ids)
    response = getattr(client, method)(_fill(url, ids), **kwargs)
    assert response.status_code == status, response.get_json()
    payload = response.get_json()
    assert payload["code"] == status
    located = payload["errors"]
    fields = located.get("json") or located.get("query") or {}
    assert field in fields or field in located, payload
    assert counts(app) == before


@pytest.mark.parametrize("path", [
    "/api/v1/customers/99999999999999999999", "/api/v1/customers/2147483648",
    "/api/v1/customers/-1", "/api/v1/customers/abc", "/api/v1/deals/2147483648",
    "/api/v1/contacts/2147483648",
    "/api/v1/stages/2147483648", "/api/v1/pipelines/99999999999999999999",
    "/api/v1/customers/2147483647",
])
def test_huge_or_odd_ids_in_paths_are_404(client, world, path):
    _, h = world
    response = client.get(path, headers=h)
    assert response.status_code == 404
    assert response.get_json()["code"] == 404


@pytest.mark.parametrize("method,path", [
    ("post", "/api/v1/deals/99999999999999999999/stage"),
    ("patch", "/api/v1/deals/2147483648"), ("delete", "/api/v1/customers/2147483648"),
    ("post", "/api/v1/customers/99999999999999999999/contacts"),
])
def test_huge_ids_in_write_paths_are_404(app, client, world, method, path):
    _, h = world
    before = counts(app)
    response = getattr(client, method)(path, headers=h, json={"stage_id": 1, "name": "X"})
    assert response.status_code == 404
    assert counts(app) == before


def test_unknown_route_under_api_is_json_404(client, world):
    _, h = world
    response = client.get("/api/v1/nothing-here", headers=h)
    assert response.status_code == 404 and response.is_json
