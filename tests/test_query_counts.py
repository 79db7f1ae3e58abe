"""SQL statements per page stay the same whether a page has 5 rows or 60 (no N+1 queries).

Each test requests a page, grows the rows behind it from 5 to 60 (different customers, owners,
stages and authors, so eager loading can't hide behind one shared parent) and requests it again.
A page whose endpoint is not in ``app.url_map`` yet is skipped, saying so.
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from conveyor import crm
from conveyor.extensions import db
from conveyor.models import Contact, Stage, User

SMALL, LARGE = 5, 60
USERS = ["seller", "admin"]


def need(app: Flask, endpoint: str) -> None:
    if endpoint not in app.view_functions:
        pytest.skip(f"{endpoint} is not in app.url_map yet (the core screen is being written)")


def statements(client: Any, path: str, count_queries: Callable[[], Any]) -> int:
    with count_queries() as seen:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(seen)


def stages() -> list[Stage]:
    return list(db.session.scalars(select(Stage).order_by(Stage.position)))


def add_customers(app: Flask, owners: list[int], n: int) -> list[int]:
    """``n`` customers, owners taken in turn, each with a contact."""
    with app.app_context():
        ids = []
        for i in range(n):
            owner = db.session.get(User, owners[i % len(owners)])
            customer = crm.create_customer({"name": f"Customer {i} {owner.username}",
                                            "industry": f"Industry {i % 7}",
                                            "region": f"Region {i % 5}"}, owner)
            db.session.add(Contact(customer=customer, name=f"Contact {i}", email=f"c{i}@x.test"))
            ids.append(customer.id)
        db.session.commit()
        return ids


def add_deals(app: Flask, customers: list[int], owners: list[int], n: int) -> list[int]:
    """``n`` deals over the customers and owners, moved to varied stages (history, timeline)."""
    with app.app_context():
        all_stages, ids = stages(), []
        for i in range(n):
            owner = db.session.get(User, owners[i % len(owners)])
            deal = crm.create_deal({"customer_id": customers[i % len(customers)],
                                    "title": f"Deal {i}", "amount": Decimal(100 + i),
                                    "owner_id": owner.id}, owner)
            target = all_stages[i % len(all_stages)]
            if target.id != deal.stage_id:
                crm.move_deal(deal, target, owner)
            ids.append(deal.id)
        db.session.commit()
        return ids


def sellers(users: dict[str, int]) -> list[int]:
    return [users["seller"], users["seller2"]]


@pytest.mark.parametrize("who", USERS)
def test_customers_list_queries_do_not_grow_with_customers(app, users, login_as, count_queries,
                                                           who):
    need(app, "customers.index")
    client = login_as(who)
    add_customers(app, [users["seller"]], SMALL)
    client.get("/customers/")  # warm caches that are filled once per process
    small = statements(client, "/customers/", count_queries)
    add_customers(app, [users["seller"]], LARGE - SMALL)
    assert statements(client, "/customers/", count_queries) == small


@pytest.mark.parametrize("who", USERS)
def test_customer_card_queries_do_not_grow_with_deals_contacts_or_timeline(
        app, users, login_as, count_queries, who):
    need(app, "customers.card")
    client = login_as(who)
    (customer,) = add_customers(app, [users["seller"]], 1)
    add_deals(app, [customer], [users["seller"]], SMALL)
    path = f"/customers/{customer}"
    client.get(path)
    small = statements(client, path, count_queries)
    add_deals(app, [customer], [users["seller"]], LARGE - SMALL)
    with app.app_context():
        db.session.add_all(Contact(customer_id=customer, name=f"Extra {i}") for i in range(55))
        db.session.commit()
    assert statements(client, path, count_queries) == small


@pytest.mark.parametrize("who", USERS)
def test_deals_list_queries_do_not_grow_with_deals(app, users, login_as, count_queries, who):
    need(app, "deals.index")
    client = login_as(who)
    customers = add_customers(app, [users["seller"]], 12)
    add_deals(app, customers, [users["seller"]], SMALL)
    client.get("/deals/")
    small = statements(client, "/deals/", count_queries)
    add_deals(app, customers, [users["seller"]], LARGE - SMALL)
    assert statements(client, "/deals/", count_queries) == small


@pytest.mark.parametrize("who", USERS)
def test_deal_card_queries_do_not_grow_with_history(app, users, login_as, count_queries, who):
    need(app, "deals.card")
    client = login_as(who)
    customers = add_customers(app, [users["seller"]], 1)
    (deal_id,) = add_deals(app, customers, [users["seller"]], 1)
    path = f"/deals/{deal_id}"

    def move(times: int) -> None:
        with app.app_context():
            from conveyor.models import Deal

            deal = db.session.get(Deal, deal_id)
            movers = [db.session.get(User, users[u]) for u in ("seller", "manager", "admin")]
            open_stages = [s for s in stages() if not s.is_closed]
            for i in range(times):
                target = open_stages[(open_stages.index(deal.stage) + 1) % len(open_stages)]
                crm.move_deal(deal, target, movers[i % len(movers)])
            db.session.commit()

    move(SMALL)
    client.get(path)
    small = statements(client, path, count_queries)
    move(LARGE - SMALL)
    assert statements(client, path, count_queries) == small


@pytest.mark.parametrize("who", USERS)
def test_pipeline_board_queries_do_not_grow_with_deals(app, users, login_as, count_queries, who):
    need(app, "deals.board")
    client = login_as(who)
    customers = add_customers(app, sellers(users), 10)
    add_deals(app, customers, sellers(users), SMALL)
    client.get("/deals/board")
    small = statements(client, "/deals/board", count_queries)
    add_deals(app, customers, sellers(users), LARGE - SMALL)
    assert statements(client, "/deals/board", count_queries) == small


def test_the_signed_in_layout_costs_one_statement(app, users, login_as, count_queries):
    """User, roles, the role settings' freshness and the unread count come in one statement;
    the roles themselves are cached per process while no admin edit changes them."""
    from flask import render_template_string

    from conveyor.permissions import login_required

    @login_required
    def shell() -> str:
        return render_template_string('{% extends "base.html" %}{% block title %}x{% endblock %}')

    app.add_url_rule("/_test/shell", "test_shell", shell)
    client = login_as("seller")
    client.get("/_test/shell")
    with count_queries() as seen:
        page = client.get("/_test/shell")
    assert page.status_code == 200 and b"Sign out" in page.data
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    others = [s for s in seen if s not in selects and s.strip().upper() != "BEGIN"]
    assert len(selects) == 1 and not others, seen
