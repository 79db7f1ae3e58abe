"""Home-screen widgets of the core, and the error box around plugin widgets and panels."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from conveyor import Panel, Widget, crm, hookimpl
from conveyor.extensions import db
from conveyor.models import Stage, User
from conveyor.testing import client_as


def make_deals(app, owner, specs, customer="Acme"):
    """specs: (title, amount, stage name, expected close) tuples; returns deal ids."""
    with app.app_context():
        user = db.session.get(User, app.config["TEST_USER_IDS"][owner])
        stage = {s.name: s for s in db.session.scalars(select(Stage))}
        cust = crm.create_customer({"name": customer}, user)
        ids = []
        for title, amount, stage_name, close in specs:
            deal = crm.create_deal({"customer_id": cust.id, "title": title,
                                    "amount": Decimal(amount), "expected_close": close}, user)
            crm.move_deal(deal, stage[stage_name], user, lost_reason="x")
            ids.append(deal.id)
        db.session.commit()
        return ids


def widget_html(page, dom_id):
    return page.split(f'id="{dom_id}"')[1].split("</section>")[0]


def test_my_deals_lists_own_open_deals_closest_close_first(app, login_as):
    make_deals(app, "seller", [
        ("Later", "10", "Negotiation", date(2031, 1, 1)),
        ("Sooner", "10", "Request / interest", date(2030, 1, 1)),
        ("Undated", "10", "Fulfilment", None),
        ("Won already", "10", "Closed — won", date(2029, 1, 1)),
    ])
    make_deals(app, "seller2", [("Colleague's", "10", "Negotiation", date(2029, 1, 1))], "Beta")
    box = widget_html(login_as("seller").get("/").get_data(as_text=True), "widget-core-my-deals")
    titles = re.findall(r'href="/deals/\d+">([^<]+)<', box)
    assert titles == ["Sooner", "Later", "Undated"]


def test_my_deals_shows_the_ten_closest_across_stages(app, login_as):
    stages = ["Request / interest", "Negotiation", "Fulfilment"]
    make_deals(app, "seller", [(f"Dated {day:02d}", "10", stages[day % 3], date(2030, 1, day))
                               for day in range(12, 0, -1)]
               + [("Undated", "10", "Negotiation", None)])
    box = widget_html(login_as("seller").get("/").get_data(as_text=True), "widget-core-my-deals")
    titles = re.findall(r'href="/deals/\d+">([^<]+)<', box)
    assert titles == [f"Dated {day:02d}" for day in range(1, 11)]


def test_pipeline_summary_counts_sums_and_weighs_visible_open_deals(app, login_as):
    make_deals(app, "seller", [("A", "1000", "Negotiation", None),
                               ("B", "500.50", "Negotiation", None),
                               ("C", "200", "Contract being concluded", None),
                               ("Lost", "999", "Closed — lost", None)])
    make_deals(app, "seller3", [("Other team", "7777", "Negotiation", None)], "South Co")
    with app.app_context():
        ids = {s.name: s.id for s in db.session.scalars(select(Stage))}

    def row(page, name):
        cells = widget_html(page, "widget-core-pipeline-summary").split(
            f'data-stage="{ids[name]}"')[1].split("</tr>")[0]
        return [re.sub(r"<[^>]+>", "", cell).strip()
                for cell in re.findall(r'class="num"[^>]*>(.*?)</td>', cells)]

    seller_page = login_as("seller").get("/").get_data(as_text=True)
    assert row(seller_page, "Negotiation") == ["2", "$1,500.50", "$600.20"]
    assert row(seller_page, "Contract being concluded") == ["1", "$200.00", "$120.00"]
    footer = widget_html(seller_page, "widget-core-pipeline-summary").split("<tfoot>")[1]
    assert "$1,700.50" in footer and "$720.20" in footer and ">3<" in footer
    manager_page = login_as("manager").get("/").get_data(as_text=True)
    assert row(manager_page, "Negotiation")[0] == "2"  # seller3 is in another team


def test_admin_overview_counts_the_installation(app, login_as):
    make_deals(app, "seller", [("A", "1", "Negotiation", None), ("B", "1", "Closed — won", None)])
    box = widget_html(login_as("admin").get("/").get_data(as_text=True),
                      "widget-core-admin-overview")
    assert 'class="users">9<' in box and 'class="customers">1<' in box
    assert 'class="deals">2<' in box and 'class="open-deals">1<' in box
    assert 'class="plugins">none<' in box


def test_admin_overview_estimates_many_customers_as_the_lists_do(app, login_as):
    """Beyond the lists' exact count the overview says "about": counting 100k customers took 4
    ms of the admin's home page on PostgreSQL."""
    from conveyor.extensions import db
    from conveyor.models import Customer, User

    with app.app_context():
        owner = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        db.session.execute(db.insert(Customer), [{"name": f"Bulk {i}", "owner_id": owner.id}
                                                 for i in range(1200)])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":  # the estimate is the planner's: its stats
            with db.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "ANALYZE customers")
    box = widget_html(login_as("admin").get("/").get_data(as_text=True),
                      "widget-core-admin-overview")
    count = box.split('class="customers">')[1].split("<")[0]
    assert count.startswith("about ") and int(count[6:].replace(",", "")) >= 500, count


def test_home_screen_queries_do_not_grow_with_deals(app, login_as, count_queries):
    seller = login_as("seller")

    def measure():
        seller.get("/")
        with count_queries() as q:
            assert seller.get("/").status_code == 200
        return len(q)

    make_deals(app, "seller", [(f"d{i}", "5", "Negotiation", None) for i in range(3)])
    few = measure()
    make_deals(app, "seller", [(f"e{i}", "5", "Fulfilment", date(2030, 1, i + 1))
                               for i in range(30)], "Bulk")
    assert measure() == few


class Boom:
    """A throwaway plugin whose widget and panels raise."""

    @hookimpl
    def register_widgets(self):
        return [Widget("boom.widget", "Boom widget", "deals.view", self.explode)]

    @hookimpl
    def register_panels(self):
        return [Panel("boom.deal", "Boom panel", "deal", "deals.view", self.explode2),
                Panel("boom.customer", "Boom customer panel", "customer", "customers.view",
                      self.explode2),
                Panel("boom.fine", "Fine panel", "deal", "deals.view",
                      lambda deal, user: f"<section class='box' id='fine'>{deal.id}</section>"),
                Panel("boom.secret", "Secret panel", "deal", "admin.plugins",
                      lambda deal, user: "<section id='secret'>secret</section>")]

    @hookimpl
    def register_role_defaults(self):
        return {"seller": {"widgets": ["boom.widget"]}}

    def explode(self, user):
        raise RuntimeError("widget bug")

    def explode2(self, obj, user):
        raise RuntimeError("panel bug")


def test_a_raising_widget_or_panel_shows_an_error_box_and_the_page_still_renders(make_app,
                                                                                 caplog):
    app = make_app(extra_plugins=[("boom", Boom())])
    (deal_id,) = make_deals(app, "seller", [("Sturdy", "1", "Negotiation", None)])
    seller = client_as(app, "seller")
    home = seller.get("/")
    assert home.status_code == 200
    page = home.get_data(as_text=True)
    assert 'id="widget-core-my-deals"' in page and "Sturdy" in page
    assert re.search(r'class="box error" role="alert"><h2>Boom widget</h2>', page)
    card = seller.get(f"/deals/{deal_id}")
    assert card.status_code == 200
    html = card.get_data(as_text=True)
    assert "<h2>Boom panel</h2>" in html and "Stage history" in html
    assert f"<section class='box' id='fine'>{deal_id}</section>" in html
    assert "id='secret'" not in html  # the seller lacks the panel's permission
    customer_id = re.search(r'href="/customers/(\d+)"', html).group(1)
    customer = seller.get(f"/customers/{customer_id}")
    assert customer.status_code == 200 and b"<h2>Boom customer panel</h2>" in customer.data
    assert "widget boom.widget failed to render" in caplog.text
    assert "panel boom.customer failed to render" in caplog.text
