"""Qualification (new -> in progress -> qualified | disqualified with a reason) and conversion
into a customer, a contact and a deal at the first stage, with the history on the timeline."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from conveyor import db
from conveyor.models import Contact, Customer, Deal, TimelineEntry, User
from conveyor.plugins.leads.conversion import convert_lead
from conveyor.plugins.leads.models import Lead
from conveyor.plugins.leads.services import LeadError, add_activity, change_status, create_lead


@pytest.fixture
def lead_id(app, users):
    with app.app_context():
        lead = create_lead({"company": "Acme LLC", "name": "John Smith",
                            "email": "john@acme.example", "phone": "+1 202 555 0143",
                            "industry": "IT", "products": "CRM"},
                           source="website", owner_id=users["seller"])
        db.session.commit()
        return lead.id


def test_status_flow_and_disqualify_needs_a_reason(app, lead_id, users, captured_events):
    with app.app_context():
        seller = db.session.get(User, users["seller"])
        lead = db.session.get(Lead, lead_id)
        change_status(lead, "in_progress", by=seller)
        with pytest.raises(LeadError) as err:
            change_status(lead, "disqualified", by=seller)
        assert err.value.field == "disqualify_reason"
        with pytest.raises(LeadError):
            change_status(lead, "converted", by=seller)
        change_status(lead, "disqualified", by=seller, reason="No budget this year")
        db.session.commit()
        assert lead.status == "disqualified" and lead.dedupe_key is None
        assert lead.last_activity_at is not None
    changes = [(e.old, e.new) for e in captured_events.handled
               if e.name == "LeadStatusChanged"]
    assert changes == [("new", "in_progress"), ("in_progress", "disqualified")]


def test_web_status_form_shows_the_error_in_place(app, lead_id, login_as):
    client = login_as("seller")
    client.post(f"/leads/{lead_id}/status", data={"status": "in_progress"})
    response = client.post(f"/leads/{lead_id}/status", data={"status": "disqualified"})
    assert response.status_code == 400
    assert "Say why the lead is disqualified." in response.get_data(as_text=True)


def test_converting_a_qualified_lead_creates_customer_contact_and_deal(app, lead_id, users,
                                                                      captured_events):
    with app.app_context():
        seller = db.session.get(User, users["seller"])
        lead = db.session.get(Lead, lead_id)
        change_status(lead, "in_progress", by=seller)
        add_activity(lead, "call", "Wants a demo next week", by=seller)
        change_status(lead, "qualified", by=seller)
        result = convert_lead(lead, by=seller)
        db.session.commit()
        customer = db.session.get(Customer, result.customer.id)
        assert customer.name == "Acme LLC" and customer.owner_id == users["seller"]
        [contact] = customer.contacts
        assert (contact.name, contact.email) == ("John Smith", "john@acme.example")
        deal = db.session.get(Deal, result.deal.id)
        assert deal.stage.position == min(s.position for s in deal.pipeline.stages)
        assert deal.title == "Acme LLC: CRM" and deal.owner_id == users["seller"]
        assert (lead.status, lead.customer_id, lead.deal_id) == ("converted", customer.id, deal.id)
        timeline = list(db.session.scalars(select(TimelineEntry).where(
            TimelineEntry.customer_id == customer.id).order_by(TimelineEntry.at)))
        kinds = [t.kind for t in timeline]
        assert kinds[0] == "lead.captured" and "Website" in timeline[0].message
        assert "lead.call" in kinds and "lead.converted" in kinds
        assert any("Wants a demo" in t.message for t in timeline)
    assert "LeadConverted" in captured_events.names()


def test_conversion_links_the_known_customer_and_contact(app, users):
    with app.app_context():
        customer = Customer(name="Northwind", owner_id=users["seller"],
                            contacts=[Contact(name="Anne", email="anne@nw.example")])
        db.session.add(customer)
        db.session.commit()
        seller = db.session.get(User, users["seller"])
        lead = create_lead({"email": "anne@nw.example"}, source="web", owner_id=seller.id)
        change_status(lead, "in_progress", by=seller)
        change_status(lead, "qualified", by=seller)
        result = convert_lead(lead, by=seller)
        db.session.commit()
        assert result.customer.id == customer.id and result.contact.id == customer.contacts[0].id
        assert db.session.query(Customer).count() == 1


def test_only_qualified_leads_convert(app, lead_id, users, login_as):
    response = login_as("seller").post(f"/leads/{lead_id}/convert", data={})
    assert response.status_code == 400
    assert "Only a qualified lead can be converted." in response.get_data(as_text=True)


def test_convert_through_the_web(app, lead_id, login_as):
    client = login_as("seller")
    client.post(f"/leads/{lead_id}/status", data={"status": "in_progress"})
    client.post(f"/leads/{lead_id}/status", data={"status": "qualified"})
    response = client.post(f"/leads/{lead_id}/convert", data={"deal_title": "Acme pilot"})
    assert response.status_code == 302 and "/deals/" in response.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(Deal.title)) == "Acme pilot"
