"""The customers screens: list, card, create/edit, contacts, delete, record rules."""
from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import func, select

from conveyor import crm
from conveyor.extensions import db
from conveyor.models import Contact, Customer, User
from conveyor.testing import client_as

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def post(client, url, data=None, **kwargs):
    if not hasattr(client, "csrf"):
        client.csrf = CSRF.search(client.get("/profile/").get_data(as_text=True)).group(1)
    return client.post(url, data={"csrf_token": client.csrf, **(data or {})}, **kwargs)


def make_customer(app, owner, name, deals=0, **fields):
    with app.app_context():
        user = db.session.get(User, app.config["TEST_USER_IDS"][owner])
        customer = crm.create_customer({"name": name, **fields}, user)
        for i in range(deals):
            crm.create_deal({"customer_id": customer.id, "title": f"{name} deal {i}",
                             "amount": Decimal("10")}, user)
        db.session.commit()
        return customer.id


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_a_seller_creates_and_edits_a_customer_and_adds_a_contact(app, login_as):
    seller = login_as("seller")
    r = post(seller, "/customers/new", {"name": "Hooli", "industry": "Tech", "region": "West",
                                        "size": "51-200", "tax_id": "77-1"})
    assert r.status_code == 302
    customer_id = int(r.headers["Location"].rsplit("/", 1)[1])
    r = post(seller, f"/customers/{customer_id}/edit", {"name": "Hooli Inc", "size": "1000+"})
    assert r.status_code == 302
    r = post(seller, f"/customers/{customer_id}/contacts",
             {"name": "Gavin", "position": "CEO", "phone": "+1 (555) 010-99",
              "email": "Gavin@Hooli.example", "decision_maker": "y"})
    assert r.status_code == 302
    card = seller.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert "Hooli Inc" in card and "gavin@hooli.example" in card and "Decision maker" in card
    assert "contact added" in card and "customer created" in card  # the timeline, named


def test_bad_customer_and_contact_input_shows_field_errors_and_writes_nothing(app, login_as):
    seller = login_as("seller")
    for data, message in [({"name": ""}, "This field is required."),
                          ({"name": "x" * 201}, "longer than 200"),
                          ({"name": "Ok", "size": "huge"}, "Not a valid choice"),
                          ({"name": "Ok", "owner_id": "999999"}, "Not a valid choice")]:
        r = post(seller, "/customers/new", data)
        assert r.status_code == 400 and message in r.get_data(as_text=True), data
    assert count(app, Customer) == 0
    customer_id = make_customer(app, "seller", "Pied Piper")
    for data, message in [({"name": "R", "email": "richard@"}, "Enter an email address"),
                          ({"name": "R", "phone": "call me"}, "Digits, spaces"),
                          ({"name": ""}, "This field is required.")]:
        r = post(seller, f"/customers/{customer_id}/contacts", data)
        page = r.get_data(as_text=True)
        assert r.status_code == 400 and message in page, data
        assert 'class="field-error"' in page and "Pied Piper" in page  # the form, in place
    assert count(app, Contact) == 0


def test_a_contact_is_added_from_its_own_page_linked_on_the_card(app, login_as):
    customer_id = make_customer(app, "seller", "Initech")
    seller = login_as("seller")
    card = seller.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert f'href="/customers/{customer_id}/contacts/new"' in card
    page = seller.get(f"/customers/{customer_id}/contacts/new").get_data(as_text=True)
    assert "Initech" in page and 'name="csrf_token"' in page and 'name="email"' in page
    assert f'action="/customers/{customer_id}/contacts"' in page
    assert login_as("lawyer").get(f"/customers/{customer_id}/contacts/new").status_code in (
        403, 404)


def test_a_seller_cannot_see_or_change_another_sellers_customer(app, login_as):
    other = make_customer(app, "seller2", "Private Ltd")
    seller = login_as("seller")
    assert seller.get(f"/customers/{other}").status_code == 404
    assert seller.get(f"/customers/{other}/edit").status_code == 404
    assert post(seller, f"/customers/{other}/edit", {"name": "Mine"}).status_code == 404
    assert post(seller, f"/customers/{other}/contacts", {"name": "Spy"}).status_code == 404
    assert seller.get(f"/customers/{other}/contacts/new").status_code == 404
    assert "Private Ltd" not in seller.get("/customers/").get_data(as_text=True)
    assert count(app, Contact) == 0


def test_a_manager_sees_the_teams_customers_only(app, login_as):
    make_customer(app, "seller", "North One")
    make_customer(app, "seller2", "North Two")
    south = make_customer(app, "seller3", "South One")
    manager = login_as("manager")
    page = manager.get("/customers/").get_data(as_text=True)
    assert "North One" in page and "North Two" in page and "South One" not in page
    assert manager.get(f"/customers/{south}").status_code == 404


def test_the_customers_list_searches_filters_and_pages(make_app):
    app = make_app(config={"page_size": 2})
    make_customer(app, "seller", "Alpha", industry="Retail", region="North")
    make_customer(app, "seller", "Bravo", industry="Mining", region="South")
    make_customer(app, "seller", "Charlie", industry="Retail", region="South", tax_id="TX-9")
    seller = client_as(app, "seller")
    assert "Charlie" in seller.get("/customers/?q=tx-9").get_data(as_text=True)
    retail = seller.get("/customers/?industry=Retail").get_data(as_text=True)
    assert "Bravo" not in retail and "Charlie" in retail
    first = seller.get("/customers/").get_data(as_text=True)
    assert "Charlie" in first and "Bravo" in first and "Alpha" not in first
    nxt = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "Alpha" in seller.get(nxt).get_data(as_text=True)


def test_a_customer_with_deals_cannot_be_deleted(app, login_as):
    busy = make_customer(app, "seller", "Busy", deals=1)
    idle = make_customer(app, "seller", "Idle")
    manager = login_as("manager")
    r = post(manager, f"/customers/{busy}/delete", follow_redirects=True)
    assert b"has deals" in r.data
    assert post(manager, f"/customers/{idle}/delete").status_code == 302
    assert count(app, Customer) == 1
    assert post(login_as("seller"), f"/customers/{busy}/delete").status_code == 403


def test_the_customer_card_counts_only_visible_deals(app, login_as, users):
    customer_id = make_customer(app, "seller", "Shared", deals=2)
    with app.app_context():  # seller3 (other team) also has a deal with this customer
        crm.create_deal({"customer_id": customer_id, "title": "Foreign deal",
                         "owner_id": users["seller3"]}, db.session.get(User, users["seller3"]))
        db.session.commit()
    card = login_as("seller").get(f"/customers/{customer_id}").get_data(as_text=True)
    assert "Deals (2)" in card and "Foreign deal" not in card


def test_csrf_is_enforced_on_customer_forms(make_app):
    app = make_app(config={"csrf_enabled": True})
    seller = client_as(app, "seller")
    assert seller.post("/customers/new", data={"name": "No token"}).status_code == 400
    assert post(seller, "/customers/new", {"name": "With token"}).status_code == 302
    assert count(app, Customer) == 1


def test_filter_suggestions_come_only_from_customers_the_user_may_see(app, login_as):
    make_customer(app, "seller", "Mine", industry="Retail", region="North")
    make_customer(app, "seller3", "Theirs", industry="Secret mining", region="Far south")
    page = login_as("seller").get("/customers/").get_data(as_text=True)
    industries = re.search(r'<datalist id="industry-values">(.*?)</datalist>', page).group(1)
    regions = re.search(r'<datalist id="region-values">(.*?)</datalist>', page).group(1)
    assert '<option value="Retail">' in industries and "Secret mining" not in page
    assert '<option value="North">' in regions and "Far south" not in page
    admin = login_as("admin").get("/customers/?industry=Secret+mining").get_data(as_text=True)
    assert "Theirs" in admin and "Mine" not in admin
    assert 'name="industry" value="Secret mining"' in admin


def test_a_role_without_deals_sees_no_deal_links_and_contacts_are_links(app, login_as):
    from conveyor import crm
    from conveyor.models import Contact

    with app.app_context():
        marketer = db.session.scalar(select(User).where(User.username == "marketer"))
        seller = db.session.scalar(select(User).where(User.username == "seller"))
        customer = crm.create_customer({"name": "Acme"}, marketer)
        db.session.add(Contact(customer_id=customer.id, name="Ann", phone="+7 495 123-45-67",
                               email="ann@acme.test"))
        crm.create_deal({"title": "Hidden deal", "customer_id": customer.id}, seller)
        db.session.commit()
        customer_id = customer.id
    page = login_as("admin").get(f"/customers/{customer_id}").get_data(as_text=True)
    assert 'href="tel:+74951234567"' in page and 'href="mailto:ann@acme.test"' in page
    assert "Hidden deal" in page
    page = login_as("marketer").get(f"/customers/{customer_id}").get_data(as_text=True)
    assert "/deals/" not in page.split("<main>")[1] and "Hidden deal" not in page
