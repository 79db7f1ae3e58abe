"""Won deals by relationship type in the company currency: each deal at its closing day's rate,
exact against a deal-by-deal conversion, and a currency without a rate named instead of 0 — on
the page, the widgets, the API and the CSV."""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from conveyor import convert_total, create_deal, db, rates_on
from conveyor.models import Deal, Stage, User
from conveyor.money import set_rate
from conveyor.plugins.relationships.models import TYPES, RelationshipState
from conveyor.plugins.relationships.won import won_by_type
from conveyor.plugins.relationships.won_ledger import rebuild
from conveyor.testing import client_as

FIRST = date(2026, 3, 1)


def closed_on(deal_id: int, day: date) -> None:
    """Move a won deal's close to ``day`` (noon UTC), as if it had been won then."""
    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    db.session.execute(update(Deal).where(Deal.id == deal_id)
                       .values(stage_entered_at=at, closed_at=at))


@pytest.fixture
def company(app):
    """USD company; EUR with a rate that changes mid-month, CNY rated only from the 20th,
    GBP never rated. Deals of two sellers' customers, won on several days."""
    with app.app_context():
        ids = app.config["TEST_USER_IDS"]
        set_rate("EUR", date(2026, 2, 1), "1.10")
        set_rate("EUR", date(2026, 3, 10), "1.2345")
        set_rate("CNY", date(2026, 3, 20), "0.1400")
        db.session.commit()
        won = db.session.scalar(select(Stage).where(Stage.is_won.is_(True)))
        seller = db.session.get(User, ids["seller"])
        other = db.session.get(User, ids["seller3"])
        from conveyor import create_customer

        made = []
        plan = [  # (owner, customer index, amount, currency, day)
            (seller, 0, "1000.10", "USD", FIRST + timedelta(days=2)),
            (seller, 0, "333.33", "EUR", FIRST + timedelta(days=3)),
            (seller, 1, "333.33", "EUR", FIRST + timedelta(days=12)),
            (seller, 1, "1000", "CNY", FIRST + timedelta(days=5)),   # before CNY's first rate
            (seller, 1, "2000", "CNY", FIRST + timedelta(days=25)),
            (seller, 2, "50", "GBP", FIRST + timedelta(days=7)),     # never rated
            (other, 3, "777.77", "EUR", FIRST + timedelta(days=15)),
            (seller, 2, "10", "USD", FIRST + timedelta(days=40)),    # next month
        ]
        customers = [create_customer({"name": f"C{i}"}, seller if i < 3 else other)
                     for i in range(4)]
        db.session.commit()
        for owner, ci, amount, currency, day in plan:
            deal = create_deal({"title": "D", "customer_id": customers[ci].id, "stage": won,
                                "amount": Decimal(amount), "currency": currency}, owner)
            db.session.flush()
            closed_on(deal.id, day)
            made.append(deal.id)
        rebuild(db.session)  # the closes were moved behind the events' back: mend the sums
        db.session.commit()
        return {"deals": made, "customers": [c.id for c in customers]}


def brute_force(deal_ids: list[int], start: date, end: date) -> dict[str, tuple[int, Decimal,
                                                                               set[str]]]:
    """Per type: count, the deals converted one by one at their day's rate, the missing
    currencies — with the core's rates_on and convert_total."""
    out: dict[str, list] = {t: [0, Decimal(0), set()] for t in TYPES}
    for deal in db.session.scalars(select(Deal).where(Deal.id.in_(deal_ids))):
        day = deal.stage_entered_at.date()
        if not (start <= day <= end):
            continue
        kind = db.session.get(RelationshipState, deal.customer_id).type
        total = convert_total({deal.currency: deal.amount}, day, rates_on([deal.currency], day))
        out[kind][0] += 1
        out[kind][1] += total.amount
        out[kind][2].update(total.missing)
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def test_won_by_type_converts_each_deal_at_its_closing_days_rate(app, company):
    with app.test_request_context():
        admin = db.session.get(User, app.config["TEST_USER_IDS"]["admin"])
        start, end = FIRST, date(2026, 3, 31)
        report = won_by_type(admin, start, end)
        expected = brute_force(company["deals"], start, end)
        for kind in TYPES:
            count, amount, missing = expected[kind]
            assert report.counts[kind] == count
            assert report.totals[kind].amount == amount.quantize(Decimal("0.01"))
            assert set(report.totals[kind].missing) == missing
        assert report.count == 7  # the next month's deal is out
        # 1000.10 + 333.33×1.10 + 333.33×1.2345 + 2000×0.14 + 777.77×1.2345 = 3018.41595; CNY
        # before its first rate and GBP are not counted as 0 but named.
        assert report.total.amount == Decimal("3018.42")
        assert report.total.missing == ("CNY", "GBP")
        assert report.total.parts == {"USD": Decimal("1000.10"), "EUR": Decimal("1444.43"),
                                      "CNY": Decimal("3000.00"), "GBP": Decimal("50.00")}
        assert report.currency == "USD"


def test_a_seller_counts_only_own_deals(app, company):
    with app.test_request_context():
        seller = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        report = won_by_type(seller, FIRST, date(2026, 3, 31))
        assert report.count == 6
        assert report.total.parts["EUR"] == Decimal("666.66")


def test_the_api_names_missing_currencies_and_converts(app, company):
    client = client_as(app, "admin")
    body = client.get("/api/v1/relationships/won?start=2026-03-01&end=2026-03-31").get_json()
    assert body["currency"] == "USD" and body["count"] == 7
    assert body["amount"] == "3018.42"
    assert body["missing_currencies"] == ["CNY", "GBP"]
    assert body["amounts"]["GBP"] == "50.00"
    by_type = {row["type"]: row for row in body["types"]}
    assert set(by_type) == set(TYPES)
    assert sum(row["count"] for row in body["types"]) == 7
    bad = client.get("/api/v1/relationships/won?start=2026-03-31&end=2026-03-01")
    assert bad.status_code == 422


def test_the_page_and_csv_show_converted_totals_and_missing_rates(app, company):
    client = client_as(app, "admin")
    html = client.get("/relationships/?start=2026-03-01&end=2026-03-31").get_data(as_text=True)
    section = html[html.index('id="won"'):]
    assert "no exchange rate for CNY, GBP" in section
    assert "<svg" in html and "chart-by-type" in html
    response = client.get("/relationships/export.csv?start=2026-03-01&end=2026-03-31")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    total = next(r for r in rows if r and r[0] == "Total" and len(r) == 4)
    assert total == ["Total", "7", "3018.42", "CNY, GBP"]
    assert client.get("/relationships/export.csv?start=x").status_code == 400


def test_widgets_show_this_months_won_in_the_company_currency(app):
    with app.app_context():
        ids = app.config["TEST_USER_IDS"]
        seller = db.session.get(User, ids["seller"])
        won = db.session.scalar(select(Stage).where(Stage.is_won.is_(True)))
        from conveyor import create_customer

        customer = create_customer({"name": "Now Co"}, seller)
        db.session.flush()
        create_deal({"title": "D", "customer_id": customer.id, "stage": won,
                     "amount": Decimal("100"), "currency": "SEK"}, seller)
        create_deal({"title": "D", "customer_id": customer.id, "stage": won,
                     "amount": Decimal("250"), "currency": "USD"}, seller)
        db.session.commit()
    from conveyor.plugins.relationships.widgets import render_mine, render_team

    with app.test_request_context():
        from flask_login import login_user

        seller = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        login_user(seller)
        mine = render_mine(seller)
        assert "no exchange rate for SEK" in mine and "$250" in mine
        assert "<svg" in mine
        manager = db.session.get(User, app.config["TEST_USER_IDS"]["manager"])
        team = render_team(manager)
        assert "no exchange rate for SEK" in team and "<svg" in team


def test_the_won_charts_draw_the_tables_figures(app, company):
    """The won-by-type charts (count and amount) are drawn from the figures of the table and
    the API, through the core's chart helper; the customers-by-type chart too."""
    client = client_as(app, "admin")
    html = client.get("/relationships/?start=2026-03-01&end=2026-03-31").get_data(as_text=True)
    body = client.get("/api/v1/relationships/won?start=2026-03-01&end=2026-03-31").get_json()
    by_type = {row["type"]: row for row in body["types"]}

    def drawn(chart_id):
        part = html[html.index(f'id="{chart_id}"'):]
        part = part[:part.index("</figure>")]
        assert 'role="img"' in part and "<title>" in part
        return {k: float(v) for k, v in
                re.findall(r'data-key="([^"]*)" data-values="([^"]*)"', part)}

    counts, amounts = drawn("chart-won-count"), drawn("chart-won-amount")
    assert set(counts) == set(TYPES) == set(amounts)
    assert counts == {t: float(by_type[t]["count"]) for t in TYPES}
    assert amounts == {t: float(by_type[t]["amount"]) if by_type[t]["count"] else 0.0
                       for t in TYPES}
    assert sum(counts.values()) == 7
    assert set(drawn("chart-by-type")) == set(TYPES)
    empty = client.get("/relationships/?start=2020-03-01&end=2020-03-31").get_data(as_text=True)
    assert 'id="chart-won-empty"' in empty and 'id="chart-won-count"' not in empty
