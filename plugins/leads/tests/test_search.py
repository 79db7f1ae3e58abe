"""Leads in the search box (register_search_kinds): by company, person, e-mail, tax id and phone
however typed, within the lead record rule; their indexes built by the plugin's migration."""
from __future__ import annotations

from conveyor import db
from conveyor.plugins.leads.services import create_lead
from conveyor.testing import client_as


def leads_found(app, username: str, q: str) -> list[str]:
    body = client_as(app, username).get("/api/v1/search", query_string={"q": q}).get_json()
    return [h["title"] for g in body["groups"] if g["kind"] == "leads" for h in g["hits"]]


def make_leads(app, users):
    with app.app_context():
        create_lead({"company": "ООО «Ромашка»", "name": "Пётр Иванов", "email": "petr@romashka.ru",
                     "phone": "+7 (495) 765-43-21", "tax_id": "7712345678"}, source="web",
                    owner_id=users["seller"])
        create_lead({"company": "上海明珠贸易", "name": "李娜", "phone": "021-6123-4567"},
                    source="web", owner_id=users["seller2"])
        create_lead({"company": "Unassigned Pumps", "email": "pumps@x.co"}, source="web",
                    assign=False)
        db.session.commit()


def test_leads_are_found_by_every_field_within_the_record_rule(app, users):
    make_leads(app, users)
    for q in ("ромашка", "иванов", "petr@romashka", "7712345678", "84957654321",
              "+7 495 765 43 21", "765-43-21"):
        assert leads_found(app, "seller", q) == ["ООО «Ромашка»"], q
    assert leads_found(app, "seller", "明珠") == []  # seller2's lead
    assert leads_found(app, "seller2", "明珠贸易") == ["上海明珠贸易"]
    assert leads_found(app, "seller2", "李娜") == ["上海明珠贸易"]
    assert leads_found(app, "seller2", "+86 21 6123 4567") == ["上海明珠贸易"]
    assert leads_found(app, "seller", "Unassigned") == []
    assert leads_found(app, "manager", "Unassigned") == ["Unassigned Pumps"]  # leads.assign


def test_the_results_page_has_a_leads_group_with_links(app, users):
    make_leads(app, users)
    html = client_as(app, "seller").get("/search/?q=romashka").get_data(as_text=True)
    assert 'id="search-leads"' in html and 'href="mailto:petr@romashka.ru"' in html
    assert 'href="tel:+74957654321"' in html


def test_the_lead_card_links_phone_and_email(app, users):
    make_leads(app, users)
    with app.app_context():
        from conveyor.plugins.leads.models import Lead

        lead_id = db.session.scalar(db.select(Lead.id).where(Lead.email == "petr@romashka.ru"))
    html = client_as(app, "seller").get(f"/leads/{lead_id}").get_data(as_text=True)
    assert 'href="tel:+74957654321"' in html and 'href="mailto:petr@romashka.ru"' in html
