"""What the search tests missed, found by planting bugs in conveyor.search: a short word beside
a long one still narrows the hits, a query typed in full-width letters is the same query, the
newest records come first, a hit names its customer and stage, and the results page's kind
filter shows that kind alone, with more hits."""
from __future__ import annotations

from typing import Any

from conveyor.testing import client_as

from .test_search import add, found


def test_a_short_word_beside_a_long_one_narrows_the_hits(app: Any) -> None:
    add(app, "seller", "Romashka Trading")
    add(app, "seller", "Romashka Foods")
    assert found(app, "seller", "Romashka Fo")["customers"] == ["Romashka Foods"]
    assert found(app, "seller", "Tr Romashka")["customers"] == ["Romashka Trading"]
    assert found(app, "seller", "Romashka Zz")["customers"] == []


def test_full_width_letters_are_the_same_query(app: Any) -> None:
    add(app, "seller", "Romashka Trading")
    assert found(app, "seller", "ＲＯＭＡＳＨＫＡ")["customers"] == ["Romashka Trading"]


def test_the_newest_records_come_first_and_only_as_many_as_asked(app: Any) -> None:
    names = [f"Ordered {i:02d}" for i in range(25)]  # more than the 21 a group reads
    for name in names:
        add(app, "seller", name)
    body = client_as(app, "seller").get("/api/v1/search", query_string={
        "q": "Ordered", "kind": "customers", "per_kind": 5}).get_json()
    assert [h["title"] for h in body["groups"][0]["hits"]] == names[::-1][:5]


def test_a_hit_names_its_customer_and_its_stage(app: Any) -> None:
    add(app, "seller", "Romashka Trading", contact={"name": "Ivan Petrov", "position": "CEO"},
        deal="Pumps for Romashka")
    body = client_as(app, "seller").get("/api/v1/search?q=Petrov").get_json()
    contact = next(g for g in body["groups"] if g["kind"] == "contacts")["hits"][0]
    assert contact["detail"] == "CEO · Romashka Trading"
    body = client_as(app, "seller").get("/api/v1/search?q=Pumps").get_json()
    deal = next(g for g in body["groups"] if g["kind"] == "deals")["hits"][0]
    customer, stage = deal["detail"].split(" · ", 1)
    assert customer == "Romashka Trading" and stage  # "10% · Request / interest"


def test_the_results_page_shows_one_kind_when_asked(app: Any) -> None:
    for i in range(12):
        add(app, "seller", f"Kindly {i:02d}", deal=f"Kindly deal {i:02d}")
    client = client_as(app, "seller")
    everything = client.get("/search/?q=Kindly").get_data(as_text=True)
    assert 'id="search-deals"' in everything and everything.count("Kindly deal") == 10
    deals = client.get("/search/?q=Kindly&kind=deals").get_data(as_text=True)
    assert 'id="search-customers"' not in deals and deals.count("Kindly deal") == 12
