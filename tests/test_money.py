"""Money across currencies: dated rates, converted totals that name what they can't convert,
rates entered on the web, imported from a table and posted through the API."""
from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import select

from conveyor import crm
from conveyor.cli import rates_cli
from conveyor.extensions import db
from conveyor.models import ExchangeRate, User
from conveyor.money import (
    RateBook,
    RateError,
    compact_money,
    convert_total,
    currency_choices,
    import_rates,
    rates_on,
    set_rate,
)

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
D = Decimal


def post(client, url, data=None, **kwargs):
    token = CSRF.search(client.get("/").get_data(as_text=True)).group(1)
    return client.post(url, data={"csrf_token": token, **(data or {})}, **kwargs)


def test_the_rate_of_a_day_is_the_latest_on_or_before_it(app):
    with app.app_context():
        set_rate("CNY", date(2026, 11, 1), "0.1300")
        set_rate("cny", date(2026, 12, 1), "0.1400")
        set_rate("EUR", date(2026, 12, 5), "1.10")
        assert rates_on(["CNY", "EUR", "USD"], date(2026, 11, 30)) == {"CNY": D("0.13"),
                                                                       "USD": D(1)}
        assert rates_on(["CNY", "EUR"], date(2026, 12, 6)) == {"CNY": D("0.14"), "EUR": D("1.1")}


def test_a_rate_book_answers_for_every_day_what_rates_on_answers(app):
    """The book of a range reads the rate in force before it and those inside it, no others."""
    from datetime import timedelta
    with app.app_context():
        set_rate("CNY", date(2026, 10, 1), "0.1200")
        set_rate("CNY", date(2026, 11, 1), "0.1300")
        set_rate("CNY", date(2026, 11, 15), "0.1350")
        set_rate("CNY", date(2026, 12, 20), "0.1500")  # after the range: not read
        set_rate("EUR", date(2026, 11, 20), "1.10")  # none before the range
        first, last = date(2026, 11, 10), date(2026, 12, 10)
        book = RateBook(["CNY", "EUR", "USD", "JPY"], first, last)
        assert book.series["CNY"][0] == [date(2026, 11, 1), date(2026, 11, 15)]
        day = first
        while day <= last:
            expected = rates_on(["CNY", "EUR", "USD", "JPY"], day)
            for code in ("CNY", "EUR", "USD", "JPY"):
                assert book.rate(code, day) == expected.get(code), (code, day)
            day += timedelta(days=1)


def test_a_total_converts_each_currency_and_names_those_without_a_rate(app):
    with app.app_context():
        set_rate("CNY", date(2026, 12, 1), "0.1400")
        total = convert_total({"USD": D("100"), "CNY": D("1000"), "RUB": D("5000")},
                              date(2026, 12, 2))
    assert (total.amount, total.currency, total.missing) == (D("240.00"), "USD", ("RUB",))
    assert not total.complete and total.parts["RUB"] == D("5000")  # not counted as 0


def test_a_rate_for_the_same_day_replaces_the_old_one_and_nonsense_is_refused(app):
    with app.app_context():
        set_rate("CNY", date(2026, 12, 1), "0.13")
        set_rate("CNY", date(2026, 12, 1), "0,14")
        db.session.commit()
        assert db.session.scalars(select(ExchangeRate.rate)).all() == [D("0.14")]
        for currency, rate in [("CNY", "-1"), ("CNY", "abc"), ("CNY", "NaN"), ("XX", "1"),
                               ("ZZZ", "1"), ("usd", "2")]:  # USD: the company currency
            with pytest.raises(RateError):
                set_rate(currency, date(2026, 12, 1), rate)


CBR = "Date;CharCode;Nominal;Value\n2026-12-01;CNY;10;11,0450\n2026-12-01;usd;1;79,50\n"


def test_a_published_table_is_imported_per_unit_all_or_nothing(make_app):
    app = make_app(config={"company_currency": "RUB"})
    with app.app_context():
        assert import_rates(CBR) == 2
        db.session.commit()
        assert rates_on(["CNY", "USD", "RUB"], date(2026, 12, 2)) == {
            "CNY": D("1.1045"), "USD": D("79.5"), "RUB": D(1)}
        with pytest.raises(RateError, match="line 3"):
            import_rates("date,currency,rate\n2026-12-02,EUR,90\n2026-12-02,EUR,lots\n")
        db.session.rollback()
        assert db.session.scalar(select(ExchangeRate).where(ExchangeRate.currency == "EUR")) \
            is None


def test_rates_import_command(app, tmp_path):
    path = tmp_path / "rates.csv"
    path.write_text("date,currency,rate\n2026-12-01,CNY,0.14\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(rates_cli, ["import", str(path)], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    assert "Imported 1 rates" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("when,what\n1,2\n", encoding="utf-8")
    result = runner.invoke(rates_cli, ["import", str(bad)], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code != 0 and "no date column" in result.output


def test_the_api_takes_a_rate_from_an_admin_only(app, api_headers):
    client = app.test_client()
    body = {"currency": "cny", "date": "2026-12-01", "rate": "0.1400"}
    r = client.post("/api/v1/exchange-rates", json=body, headers=api_headers("admin"))
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["currency"], r.get_json()["rate"]) == ("CNY", "0.1400000000")
    assert client.post("/api/v1/exchange-rates", json=body,
                       headers=api_headers("seller")).status_code == 403
    bad = client.post("/api/v1/exchange-rates", headers=api_headers("admin"),
                      json={"currency": "QQQ", "date": "2026-13-01", "rate": "-1"})
    assert bad.status_code == 422 and "date" in bad.get_json()["errors"]["json"]
    listed = client.get("/api/v1/exchange-rates?currency=cny", headers=api_headers("seller"))
    assert [r["date"] for r in listed.get_json()] == ["2026-12-01"]


def test_an_admin_enters_and_imports_rates_on_the_web(app, login_as):
    admin = login_as("admin")
    assert admin.get("/admin/rates/").status_code == 200
    r = post(admin, "/admin/rates/", {"currency": "CNY", "day": "2026-12-01", "rate": "0.14"})
    assert r.status_code == 302
    bad = post(admin, "/admin/rates/", {"currency": "CNY", "day": "2026-12-01", "rate": "-3"})
    assert bad.status_code == 400 and "positive number" in bad.get_data(as_text=True)
    table = "date,currency,rate\n2026-12-01,CNY,0.15\n2026-12-01,EUR,1.10\n"
    r = post(admin, "/admin/rates/import", {"file": (io.BytesIO(table.encode()), "rates.csv")},
             content_type="multipart/form-data")
    assert r.status_code == 302
    wrong = post(admin, "/admin/rates/import",
                 {"file": (io.BytesIO(CBR.encode()), "cbr.csv")},  # holds USD, ours
                 content_type="multipart/form-data")
    assert wrong.status_code == 400 and "Nothing was imported" in wrong.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(ExchangeRate.rate).order_by(ExchangeRate.currency)
                                  ).all() == [D("0.15"), D("1.1")]
    assert login_as("seller").get("/admin/rates/").status_code == 403


def test_board_totals_are_in_the_company_currency_with_the_originals_beside(app, login_as):
    with app.app_context():
        seller = db.session.scalar(select(User).where(User.username == "seller"))
        customer = crm.create_customer({"name": "Acme"}, seller)
        for amount, currency in (("100", "USD"), ("1000", "CNY"), ("50", "RUB")):
            crm.create_deal({"title": "t", "customer_id": customer.id, "amount": D(amount),
                             "currency": currency}, seller)
        set_rate("CNY", date(2020, 1, 1), "0.1400")
        db.session.commit()
    html = login_as("seller").get("/deals/board").get_data(as_text=True)
    assert "≈ $240" in html  # 100 USD + 1000 CNY × 0.14; the RUB is not added in
    assert "CN¥1,000.00" in html  # the card, in its own currency
    assert "no exchange rate for RUB" in html


def test_summaries_are_compact_in_each_language():
    assert compact_money(D("35100000"), "RUB", "ru") == "35,1\xa0млн\xa0₽"
    assert compact_money(D("3510000"), "CNY", "zh_Hans") == "¥351万"
    assert compact_money(D("35100000"), "USD", "en") == "$35.1M"
    assert compact_money(D("1500.5"), "USD", "en") == "$1,500.50"  # small sums stay exact


def test_the_currency_list_is_iso_4217_in_the_readers_language_company_currency_first(app):
    with app.app_context():
        choices = currency_choices("ru")
    assert choices[0][0] == "USD" and ("CNY", "CNY — китайский юань") in choices


OPTION = re.compile(r'<option[^>]*value="([A-Z]{3})"')


def test_every_currency_select_lists_current_codes_only(app, login_as):
    """The rates page and the deal form share one list: codes in use today (no ADP, no DEM),
    the company currency first; a deal kept in a withdrawn currency still edits and saves."""
    from babel.numbers import get_territory_currencies

    browser = login_as("admin")
    rates = OPTION.findall(browser.get("/admin/rates/").get_data(as_text=True))
    new_deal = OPTION.findall(browser.get("/deals/new").get_data(as_text=True))
    in_use = set(get_territory_currencies("DE")) | set(get_territory_currencies("CN"))
    assert new_deal[0] == "USD" and rates[0] != "USD" and new_deal[1:] == rates
    assert {"EUR", "CNY", "RUB", "GBP"} <= set(rates) and in_use <= set(rates)
    assert not {"ADP", "AFA", "DEM", "FRF", "SUR", "XXX"} & set(new_deal)
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        customer = crm.create_customer({"name": "Old books"}, admin)
        db.session.flush()
        deal = crm.create_deal({"customer_id": customer.id, "title": "1998", "amount": "5",
                                "currency": "DEM"}, admin)
        db.session.commit()
        deal_id, customer_id, admin_id = deal.id, customer.id, admin.id
    form = browser.get(f"/deals/{deal_id}/edit").get_data(as_text=True)
    assert "DEM" in OPTION.findall(form)
    saved = post(browser, f"/deals/{deal_id}/edit", {
        "customer_id": customer_id, "title": "1998", "amount": "6", "currency": "DEM",
        "owner_id": admin_id})
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    assert post(browser, "/deals/new", {"customer_id": customer_id, "title": "x",
                                        "amount": "5", "currency": "DEM"}).status_code == 400


def test_a_deal_form_accepts_a_lower_case_code(app, login_as):
    with app.app_context():
        seller = db.session.scalar(select(User).where(User.username == "seller"))
        customer = crm.create_customer({"name": "Acme"}, seller)
        db.session.commit()
        customer_id = customer.id
    r = post(login_as("seller"), "/deals/new", {"customer_id": customer_id, "title": "x",
                                                "amount": "5", "currency": "cny"})
    assert r.status_code == 302
    with app.app_context():
        from conveyor.models import Deal
        assert db.session.scalar(select(Deal.currency)) == "CNY"


def test_the_pipeline_summary_converts_and_names_what_it_cannot(app, login_as):
    with app.app_context():
        seller = db.session.scalar(select(User).where(User.username == "seller"))
        customer = crm.create_customer({"name": "Acme"}, seller)
        for amount, currency in (("30000", "USD"), ("500000", "CNY"), ("100", "JPY")):
            crm.create_deal({"title": "t", "customer_id": customer.id, "amount": D(amount),
                             "currency": currency}, seller)
        set_rate("CNY", date(2020, 1, 1), "0.1400")
        db.session.commit()
    page = login_as("seller").get("/").get_data(as_text=True)
    box = page.split('id="widget-core-pipeline-summary"')[1].split("</section>")[0]
    footer = box.split('data-total="amount"')[1].split("</th>")[0]
    assert "$100K" in footer  # 30,000 + 500,000 × 0.14 = 100,000; the JPY is not added
    assert 'title="CN¥500,000.00 + ¥100 + $30,000.00"' in footer  # the originals, on hover
    assert "no exchange rate for JPY" in footer


def test_a_deal_card_shows_the_converted_amount_beside_the_original(app, login_as):
    with app.app_context():
        seller = db.session.scalar(select(User).where(User.username == "seller"))
        customer = crm.create_customer({"name": "Acme"}, seller)
        cny = crm.create_deal({"title": "t", "customer_id": customer.id, "amount": D("1000"),
                               "currency": "CNY"}, seller)
        jpy = crm.create_deal({"title": "t", "customer_id": customer.id, "amount": D("1000"),
                               "currency": "JPY"}, seller)
        usd = crm.create_deal({"title": "t", "customer_id": customer.id, "amount": D("10"),
                               "currency": "USD"}, seller)
        set_rate("CNY", date(2020, 1, 1), "0.1400")
        db.session.commit()
        ids = cny.id, jpy.id, usd.id
    seller = login_as("seller")
    page = seller.get(f"/deals/{ids[0]}").get_data(as_text=True)
    assert "CN¥1,000.00" in page and "≈ $140.00" in page
    assert "no exchange rate for JPY" in seller.get(f"/deals/{ids[1]}").get_data(as_text=True)
    assert "data-converted" not in seller.get(f"/deals/{ids[2]}").get_data(as_text=True)


def test_rates_are_kept_per_process_until_a_rate_changes(app, login_as, count_queries):
    """The card reads the rates once; a rate set anywhere (here, the web's set_rate in another
    session; raw SQL with a touch of the stamp) shows on the next view."""
    from sqlalchemy import text

    from conveyor import change_stamps

    with app.app_context():
        seller = db.session.scalar(select(User).where(User.username == "seller"))
        customer = crm.create_customer({"name": "Acme"}, seller)
        deal_id = crm.create_deal({"title": "t", "customer_id": customer.id,
                                   "amount": D("1000"), "currency": "CNY"}, seller).id
        set_rate("CNY", date(2020, 1, 1), "0.1400")
        db.session.commit()
    client = login_as("seller")
    assert "≈ $140.00" in client.get(f"/deals/{deal_id}").get_data(as_text=True)
    with count_queries() as queries:
        assert "≈ $140.00" in client.get(f"/deals/{deal_id}").get_data(as_text=True)
    assert not [q for q in queries if "exchange_rates" in q], queries
    with app.app_context():
        set_rate("CNY", date(2020, 1, 2), "0.1500")
        db.session.commit()
    assert "≈ $150.00" in client.get(f"/deals/{deal_id}").get_data(as_text=True)
    with app.app_context():
        db.session.execute(text("UPDATE exchange_rates SET rate = 0.16 WHERE currency = 'CNY'"))
        change_stamps.touch(db.session(), "rates")
        db.session.commit()
    assert "≈ $160.00" in client.get(f"/deals/{deal_id}").get_data(as_text=True)
    with app.app_context():  # an ORM change renews the stamp too
        rate = db.session.scalar(select(ExchangeRate).where(ExchangeRate.day == date(2020, 1, 2)))
        rate.rate = D("0.17")
        db.session.commit()
    assert "≈ $170.00" in client.get(f"/deals/{deal_id}").get_data(as_text=True)
    with app.app_context():  # an imported table renews it once, whatever its length
        with count_queries() as imported:
            assert import_rates("currency,date,rate\nCNY,2020-01-03,0.18\nCNY,2020-01-04,0.19\n"
                                ) == 2
        db.session.commit()
    assert len([q for q in imported if "change_stamps" in q]) == 1, imported
    assert "≈ $190.00" in client.get(f"/deals/{deal_id}").get_data(as_text=True)
