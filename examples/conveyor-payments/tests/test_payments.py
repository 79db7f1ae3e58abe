"""The payments example: the page and its form, the API, record rules, the event handler, the
widget, and the funnel's plan fulfilment counting money received through funnel_fulfilment."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from conveyor import create_customer, create_deal, db, move_deal
from conveyor.models import Notification, Stage, User
from conveyor.testing import client_as, token_headers
from conveyor_payments.models import Payment

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def app(make_app):
    return make_app(plugins=["payments"])


def deal_of(app, username: str, *, won: bool = True, currency: str = "USD",
            amount: str = "1000", margin: str = "250") -> int:
    with app.app_context():
        owner = db.session.scalar(select(User).where(User.username == username))
        customer = create_customer({"name": f"{username}'s customer"}, owner)
        deal = create_deal({"title": "Pumps", "customer_id": customer.id, "currency": currency,
                            "amount": Decimal(amount), "margin": Decimal(margin)}, owner)
        if won:
            move_deal(deal, db.session.scalar(select(Stage).where(Stage.is_won.is_(True))),
                      owner)
        db.session.commit()
        return deal.id


def payments(app) -> list[tuple[int, Decimal, str]]:
    with app.app_context():
        return db.session.execute(select(Payment.deal_id, Payment.amount, Payment.currency)
                                  .order_by(Payment.id)).all()


def form_post(client, data):
    token = CSRF.search(client.get("/payments/").get_data(as_text=True)).group(1)
    return client.post("/payments/", data={"csrf_token": token, **data})


def test_the_assistant_records_a_payment_on_a_won_deal(app, login_as):
    deal_id = deal_of(app, "seller", currency="EUR")
    r = form_post(login_as("assistant"), {"deal_id": deal_id, "amount": "400.50",
                                          "paid_on": "2026-12-01", "note": "first half"})
    assert r.status_code == 302
    assert payments(app) == [(deal_id, Decimal("400.50"), "EUR")]  # the deal's currency


def test_an_open_deal_takes_no_payment_and_the_form_says_why(app, login_as):
    deal_id = deal_of(app, "seller", won=False)
    r = form_post(login_as("assistant"), {"deal_id": deal_id, "amount": "10",
                                          "paid_on": "2026-12-01"})
    assert r.status_code == 400 and "won deals only" in r.get_data(as_text=True)
    assert payments(app) == []


def test_a_form_without_its_csrf_token_is_refused(app):
    deal_id = deal_of(app, "seller")
    bare = client_as(app, "assistant")  # login_as's clients send the token; this one does not
    r = bare.post("/payments/", data={"deal_id": deal_id, "amount": "1", "paid_on": "2026-12-01"})
    assert r.status_code == 400 and payments(app) == []


def test_the_api_records_and_lists_within_the_record_rules(app, api_headers):
    mine, theirs = deal_of(app, "seller"), deal_of(app, "seller3")
    client, headers = app.test_client(), api_headers("manager")  # the North team's manager
    ok = client.post("/api/v1/payments/", headers=headers,
                     json={"deal_id": mine, "amount": "99.90", "paid_on": "2026-12-01"})
    assert ok.status_code == 201 and ok.get_json()["amount"] == "99.90"
    hidden = client.post("/api/v1/payments/", headers=headers,
                         json={"deal_id": theirs, "amount": "1", "paid_on": "2026-12-01"})
    assert hidden.status_code == 404
    bad = client.post("/api/v1/payments/", headers=headers,
                      json={"deal_id": mine, "amount": "-5", "paid_on": "soon"})
    assert bad.status_code == 422 and {"amount", "paid_on"} <= set(bad.get_json()["errors"]["json"])
    listed = client.get("/api/v1/payments/", headers=api_headers("seller")).get_json()
    assert [p["deal_id"] for p in listed["items"]] == [mine]
    assert client.get("/api/v1/payments/", headers=api_headers("seller3")).get_json()["items"] == []


def test_a_won_deal_reminds_its_owner_in_their_language(app):
    with app.app_context():
        db.session.scalar(select(User).where(User.username == "seller")).locale = "ru"
        db.session.commit()
    deal_of(app, "seller")
    with app.app_context():
        messages = db.session.scalars(select(Notification.message)).all()
    assert messages == ["Сделка «Pumps» выиграна: отметьте оплату, когда она поступит."]


def test_the_widget_shows_each_currency_apart(app, login_as):
    today = date.today().isoformat()
    client, headers = app.test_client(), token_headers(app, "manager")
    for currency, amount in (("USD", "100"), ("EUR", "50"), ("USD", "25")):
        deal_id = deal_of(app, "seller", currency=currency)
        assert client.post("/api/v1/payments/", headers=headers, json={
            "deal_id": deal_id, "amount": amount, "paid_on": today}).status_code == 201
    html = login_as("assistant").get("/").get_data(as_text=True)
    assert re.search(r'data-total="EUR">[^<]*50', html)
    assert re.search(r'data-total="USD">[^<]*125', html)  # 100 + 25, never + the 50 EUR


def test_plan_fulfilment_counts_money_received_through_the_funnel_hook(make_app, users):
    from conveyor.plugins.funnel.periods import current
    from conveyor.plugins.funnel.plan import plan

    app = make_app(plugins=["funnel", "payments"],
                   config={"funnel": {"fulfilment_source": "invoices"}})
    deal_id = deal_of(app, "seller", amount="1000", margin="250")
    other = deal_of(app, "seller", currency="EUR")
    with app.app_context():
        today = date.today()
        db.session.add_all([
            Payment(deal_id=deal_id, amount=Decimal("400"), currency="USD", paid_on=today),
            Payment(deal_id=other, amount=Decimal("999"), currency="EUR", paid_on=today)])
        db.session.commit()
    with app.test_request_context():
        row = plan(current("month"), [users["seller"]], [])[0]
    assert (row.signed_volume, row.signed_margin) == (Decimal("400.00"), Decimal("100.00"))


def test_every_route_holds_its_permission_for_every_role(app, check_routes):
    check_routes(app, plugin="payments")


def test_the_migrations_build_exactly_the_models(check_migrations):
    check_migrations("payments")
