"""The rows built in Python (conveyor.web.rows) escape every text field, like autoescaping would,
and show what the Jinja loops they replaced showed."""
from __future__ import annotations

from decimal import Decimal

from conveyor import crm
from conveyor.extensions import db
from conveyor.models import User

EVIL = '<img src=x onerror="alert(1)">&'
ESCAPED = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&amp;"


def _seed_evil(app):
    with app.app_context():
        seller = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        seller.display_name = f"Seller {EVIL}"
        customer = crm.create_customer({"name": f"Customer {EVIL}", "industry": f"Ind {EVIL}",
                                        "region": f"Reg {EVIL}", "size": "<b>"}, seller)
        deal = crm.create_deal({"customer_id": customer.id, "title": f"Deal {EVIL}",
                                "amount": Decimal("1234.50"), "currency": "EUR"}, seller)
        db.session.commit()
        return customer.id, deal.id


def test_list_rows_and_board_cards_escape_every_text_field(app, login_as):
    customer_id, deal_id = _seed_evil(app)
    seller = login_as("seller")
    pages = {path: seller.get(path).get_data(as_text=True)
             for path in ("/customers/", "/deals/", "/deals/board")}
    for path, html in pages.items():
        assert EVIL not in html and "<b>" not in html, path
        assert "onerror=\"" not in html, path
    customers = pages["/customers/"]
    for text in (f"Customer {ESCAPED}", f"Ind {ESCAPED}", f"Reg {ESCAPED}", "&lt;b&gt;",
                 f"Seller {ESCAPED}", f'href="/customers/{customer_id}"'):
        assert text in customers, text
    for path in ("/deals/", "/deals/board"):
        for text in (f"Deal {ESCAPED}", f"Customer {ESCAPED}", "€1,234.50",
                     f'href="/deals/{deal_id}"'):
            assert text in pages[path], (path, text)
    assert "0% · Request / interest" in pages["/deals/"]  # the stage's label, as a tag
    assert f"Seller {ESCAPED}" in pages["/deals/"]
    # A seller's board holds only their own deals: no name on the cards. A manager's board
    # shows whose each deal is.
    assert "Seller " not in pages["/deals/board"].split('class="board"')[1]
    board = login_as("manager").get("/deals/board").get_data(as_text=True)
    assert EVIL not in board and f"Seller {ESCAPED}" in board


def test_rows_follow_the_page_language(app, login_as):
    _seed_evil(app)
    seller = login_as("seller")
    html = seller.get("/deals/", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "1\xa0234,50\xa0€" in html and "Запрос / интерес" in html


def test_empty_lists_say_so(app, login_as):
    seller = login_as("seller")
    assert "No customers match." in seller.get("/customers/").get_data(as_text=True)
    assert "No deals match." in seller.get("/deals/").get_data(as_text=True)
    assert seller.get("/deals/board").get_data(as_text=True).count("No deals.") >= 9


def test_a_changed_deal_shows_changed_on_the_next_view_of_a_memoized_page(app, login_as):
    _, deal_id = _seed_evil(app)
    manager = login_as("manager")
    for path in ("/deals/", "/deals/board"):
        assert "Deal &lt;img" in manager.get(path).get_data(as_text=True)
    with app.app_context():
        from conveyor.models import Deal

        deal = db.session.get(Deal, deal_id)
        crm.update_deal(deal, {"title": "Renamed", "amount": Decimal("99.00")}, deal.owner)
        db.session.commit()
    for path in ("/deals/", "/deals/board"):
        html = manager.get(path).get_data(as_text=True)
        assert "Renamed" in html and "Deal &lt;img" not in html and "€99.00" in html, path
    ru = manager.get("/deals/board", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "99,00\xa0€" in ru  # the same row in another language is another entry


def test_markup_in_a_stage_name_is_escaped_on_every_page_that_shows_it(app, login_as):
    """Admins name stages; a name with markup must reach the board, lists, card and move forms
    as text (the stage pipeline snapshot is rebuilt after the rename)."""
    from sqlalchemy import select

    from conveyor.models import Stage

    customer_id, deal_id = _seed_evil(app)
    with app.app_context():
        stage = db.session.scalar(select(Stage).order_by(Stage.position))
        stage.name = f"Stage {EVIL}"
        db.session.commit()
    for who, path in (("seller", "/deals/board"), ("manager", "/deals/board"),
                      ("seller", "/deals/"), ("seller", f"/deals/{deal_id}"),
                      ("admin", "/admin/stages"), ("seller", "/")):
        html = login_as(who).get(path).get_data(as_text=True)
        assert EVIL not in html and 'onerror="' not in html, (who, path)
        if path != "/":
            assert f"Stage {ESCAPED}" in html, (who, path)
