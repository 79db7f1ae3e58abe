"""Screens: the card panel, the override form, the list filter, reports and widgets."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from conveyor import db
from conveyor.models import Customer

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def post(client, url, data=None, **kwargs):
    if not hasattr(client, "csrf"):
        client.csrf = CSRF.search(client.get("/").get_data(as_text=True)).group(1)
    return client.post(url, data={"csrf_token": client.csrf, **(data or {})}, **kwargs)


def test_the_card_shows_type_since_and_why(web_ops, login_as):
    c = web_ops.customer()
    web_ops.win(web_ops.deal(c))
    html = login_as("seller").get(f"/customers/{c}").get_data(as_text=True)
    assert 'data-relationship-type="current"' in html
    assert "deal won" in html and "Since" in html
    assert "Set the type by hand" not in html  # sellers may not override


def test_a_manager_overrides_with_a_reason_and_errors_show_in_place(web_ops, login_as):
    c = web_ops.customer()
    manager = login_as("manager")
    assert "Set the type by hand" in manager.get(f"/customers/{c}").get_data(as_text=True)
    missing = post(manager, f"/relationships/customers/{c}/override", {"type": "regular"})
    assert missing.status_code == 400
    assert "Say why the type is set by hand." in missing.get_data(as_text=True)
    assert web_ops.type_of(c) == "cold"  # nothing half-written
    done = post(manager, f"/relationships/customers/{c}/override",
                {"type": "regular", "reason": "Buys through our partner"})
    assert done.status_code == 302
    html = manager.get(f"/customers/{c}").get_data(as_text=True)
    assert 'data-relationship-type="regular"' in html and 'data-override="1"' in html
    assert "Buys through our partner" in html
    cleared = post(manager, f"/relationships/customers/{c}/override/clear")
    assert cleared.status_code == 302 and web_ops.type_of(c) == "cold"


def test_sellers_may_not_override_and_nobody_sees_other_teams_customers(web_ops, login_as):
    c = web_ops.customer(owner="seller3")
    assert post(login_as("seller"), f"/relationships/customers/{c}/override",
                {"type": "regular", "reason": "x"}).status_code == 403
    assert login_as("manager").get(f"/relationships/customers/{c}/override").status_code == 404


def test_the_customer_list_filters_by_type(web_ops, app, login_as):
    _cold, potential, current = (web_ops.customer(n) for n in ("Cold Co", "Pot Co", "Cur Co"))
    web_ops.deal(potential)
    web_ops.win(web_ops.deal(current))
    # A customer the plugin never recorded (created while it was off) counts as cold.
    with app.app_context():
        db.session.add(Customer(name="Legacy Co", owner_id=web_ops.user()))
        db.session.commit()
    seller = login_as("seller")

    def names(value):
        html = seller.get(f"/customers/?relationship={value}").get_data(as_text=True)
        return {n for n in ("Cold Co", "Pot Co", "Cur Co", "Legacy Co") if n in html}

    assert names("cold") == {"Cold Co", "Legacy Co"}
    assert names("potential") == {"Pot Co"}
    assert names("current") == {"Cur Co"}
    assert names("nonsense") == {"Cold Co", "Pot Co", "Cur Co", "Legacy Co"}
    assert 'name="relationship"' in seller.get("/customers/").get_data(as_text=True)


def test_reports_count_types_and_moves_per_seller_within_record_scope(web_ops, login_as):
    mine = web_ops.customer("Mine")
    web_ops.win(web_ops.deal(mine))
    other = web_ops.customer("Theirs", owner="seller3")
    web_ops.deal(other, by="seller3")
    manager_html = login_as("manager").get("/relationships/").get_data(as_text=True)
    assert "Seller" in manager_html and "Seller3" not in manager_html  # other team
    seller_html = login_as("seller").get("/relationships/").get_data(as_text=True)
    # cold -> potential -> current: two moves up this month for the seller.
    assert re.search(r"<td>Seller</td><td class=\"num\">2</td><td class=\"num\">0</td>",
                     seller_html), seller_html
    assert "Not available" in seller_html
    admin_html = login_as("admin").get("/relationships/").get_data(as_text=True)
    assert "Seller3" in admin_html


def test_a_bad_period_is_a_400_with_the_error_in_place(web_ops, login_as):
    r = login_as("manager").get("/relationships/?start=2026-05-01&end=2026-04-01")
    assert r.status_code == 400
    assert "The end date is before the start date." in r.get_data(as_text=True)
    assert login_as("manager").get("/relationships/?start=garbage").status_code == 400
    assert login_as("assistant").get("/relationships/").status_code == 403


def test_widgets_for_seller_and_manager(web_ops, login_as):
    web_ops.win(web_ops.deal(web_ops.customer()))
    seller_home = login_as("seller").get("/").get_data(as_text=True)
    assert "widget-relationships-mine" in seller_home
    assert "This month: 2 up, 0 down." in seller_home
    manager_home = login_as("manager").get("/").get_data(as_text=True)
    assert "widget-relationships-team" in manager_home


def test_report_and_card_queries_do_not_grow_with_rows(web_ops, app, login_as, count_queries):
    def measure():
        client = login_as("manager")
        client.get("/")  # warm the session
        with app.app_context():
            c = db.session.scalar(select(func.max(Customer.id)))
        with count_queries() as q:
            assert client.get("/relationships/").status_code == 200
            assert client.get(f"/customers/{c}").status_code == 200
            assert client.get("/").status_code == 200
        return len(q)  # (the list filter adds a subquery to the list's own statement)

    for i in range(2):
        web_ops.win(web_ops.deal(web_ops.customer(f"A{i}", owner=("seller", "seller2")[i % 2])))
    small = measure()
    for i in range(8):
        c = web_ops.customer(f"B{i}", owner=("seller", "seller2")[i % 2])
        web_ops.win(web_ops.deal(c))
        web_ops.lose(web_ops.deal(c))
    assert measure() == small
