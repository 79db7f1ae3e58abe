"""The search's output after its render was made cheaper: the API's compiled dump answers what
marshmallow's dump of the same groups answered, and the results page writes a hit's phone and
e-mail links exactly as the macros of ``search/_links.html`` (the cards' links) do, escaped."""
from __future__ import annotations

from typing import Any

from flask import render_template_string
from flask_login import login_user

from conveyor import crm
from conveyor.extensions import db
from conveyor.models import Contact, User
from conveyor.search.api import SearchResultSchema
from conveyor.search.engine import search
from conveyor.search.terms import parse
from conveyor.search.views import group_dict
from conveyor.testing import client_as


def add(app: Any, owner: str, name: str, contacts: list[dict[str, Any]], deal: str) -> None:
    with app.app_context():
        user = db.session.get(User, app.config["TEST_USER_IDS"][owner])
        customer = crm.create_customer({"name": name, "tax_id": "7701234567"}, user)
        for contact in contacts:
            db.session.add(Contact(customer_id=customer.id, **contact))
        crm.create_deal({"customer_id": customer.id, "title": deal}, user)
        db.session.commit()


def company(app: Any) -> Any:
    add(app, "seller", "Quill & <Sons>", [
        {"name": "Ann \"Q\" Quill", "phone": "+7 (495) 123-45-67",
         "email": "ann&co@quill.example"},
        {"name": "Bob Quill", "phone": "8 812 555 12 34", "email": None},
        {"name": "Cid Quill", "phone": None, "email": "cid<x>@quill.example"}], "Quill pumps")
    add(app, "seller2", "Quillon Foods", [{"name": "Dan Quill", "phone": "+1 555 0100",
                                           "email": "dan@quillon.example"}], "Quillon boilers")
    return app


def test_the_api_answers_what_marshmallow_dumped(app):
    company(app)
    for username in ("seller", "admin"):
        client = client_as(app, username)
        user_id = app.config["TEST_USER_IDS"][username]
        for q, kind, per_kind in (("quill", None, 10), ("quill", "contacts", 2),
                                  ("495 123", None, 50), ("quill", None, 1)):
            args = {"q": q, "per_kind": per_kind, **({"kind": kind} if kind else {})}
            answer = client.get("/api/v1/search", query_string=args)
            assert answer.status_code == 200
            with app.test_request_context():
                user = db.session.get(User, user_id)
                login_user(user)
                terms = parse(q)
                groups = search(terms, user, per_kind, only=kind)
                expected = SearchResultSchema().dump(
                    {"query": terms.text, "groups": [group_dict(g) for g in groups]})
            assert answer.get_json() == expected
            assert any(g["hits"] for g in expected["groups"])


def test_the_page_writes_the_links_as_the_macros_do(app):
    company(app)
    html = client_as(app, "seller").get("/search/?q=quill").get_data(as_text=True)
    with app.test_request_context():
        macros = render_template_string(
            '{% from "search/_links.html" import phone_link, email_link %}'
            '{{ phone_link(p1) }} {{ email_link(e1) }} |{{ phone_link(p2) }} |'
            '{{ email_link(e3) }} ', p1="+7 (495) 123-45-67", e1="ann&co@quill.example",
            p2="8 812 555 12 34", e3="cid<x>@quill.example")
    ann, bob, cid = macros.split("|")
    for links in (ann, bob, cid):
        assert f'<span class="search-contacts">{links}</span>' in html
    assert 'href="tel:+74951234567"' in ann and "ann&amp;co@quill.example" in ann
    assert "cid&lt;x&gt;@quill.example" in cid and "<x>" not in html
    assert "Quill &amp; &lt;Sons&gt;" in html and "Ann &#34;Q&#34; Quill" in html
    assert "Quillon" not in html  # another seller's
