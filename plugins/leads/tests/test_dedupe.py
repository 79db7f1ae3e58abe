"""Dedupe: matched against open leads (merged with history), contacts and customers (linked);
identical submissions racing each other still give one lead."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from conveyor import db
from conveyor.models import Contact, Customer
from conveyor.plugins.leads.models import Lead, LeadActivity
from conveyor.plugins.leads.services import LeadError, change_status, create_lead


def test_same_email_merges_into_the_open_lead(app):
    with app.app_context():
        first = create_lead({"email": "ivan@example.com", "name": "Ivan"}, source="website")
        second = create_lead({"email": " IVAN@example.com", "company": "Acme"}, source="expo")
        db.session.commit()
        assert second.id == first.id and second.merged
        assert first.company == "Acme"  # blank filled
        [note] = db.session.scalars(select(LeadActivity.note).where(
            LeadActivity.lead_id == first.id, LeadActivity.kind == "merged"))
        assert note.startswith("expo") and "Acme" in note


def test_same_phone_in_another_format_merges(app):
    with app.app_context():
        first = create_lead({"phone": "+7 916 123-45-67"}, source="call")
        second = create_lead({"phone": "8 916 1234567", "name": "Olga"}, source="website")
        db.session.commit()
        assert second.id == first.id and first.name == "Olga"


def test_company_only_leads_merge_by_normalised_name(app):
    with app.app_context():
        first = create_lead({"company": "ООО «Ромашка»"}, source="a")
        second = create_lead({"company": "Ромашка ООО"}, source="b")
        db.session.commit()
        assert second.id == first.id


def test_a_closed_lead_does_not_swallow_a_new_one(app, users):
    from conveyor.models import User
    with app.app_context():
        first = create_lead({"email": "a@b.co"}, source="web")
        change_status(first, "disqualified", by=db.session.get(User, users["manager"]),
                      reason="spam")
        again = create_lead({"email": "a@b.co"}, source="web")
        db.session.commit()
        assert again.id != first.id and not again.merged


def test_reopening_refuses_when_an_open_twin_exists(app, users):
    from conveyor.models import User
    manager = None
    with app.app_context():
        manager = db.session.get(User, users["manager"])
        first = create_lead({"email": "a@b.co"}, source="web")
        change_status(first, "disqualified", by=manager, reason="spam")
        create_lead({"email": "a@b.co"}, source="web")
        with pytest.raises(LeadError):
            change_status(first, "in_progress", by=manager)


def test_known_contact_is_linked_by_email_or_phone(app, users):
    with app.app_context():
        customer = Customer(name="Northwind", owner_id=users["seller"])
        customer.contacts = [Contact(name="Anne", email="anne@northwind.example",
                                     phone="+44 20 7946 0958")]
        db.session.add(customer)
        db.session.commit()
        by_email = create_lead({"email": "Anne@Northwind.example"}, source="web")
        by_phone = create_lead({"phone": "+44 (20) 79460958", "name": "Anne"}, source="call")
        db.session.commit()
        contact_id = customer.contacts[0].id
        assert (by_email.customer_id, by_email.contact_id) == (customer.id, contact_id)
        assert (by_phone.customer_id, by_phone.contact_id) == (customer.id, contact_id)


def test_known_customer_is_linked_by_company_name_or_tax_id(app, users):
    with app.app_context():
        customer = Customer(name="ООО «Ромашка»", tax_id="7701234567", owner_id=users["seller"])
        db.session.add(customer)
        db.session.commit()
        by_name = create_lead({"company": "Ромашка, ООО", "email": "x@romashka.example"},
                              source="web")
        by_tax = create_lead({"company": "Romashka LLC", "tax_id": "7701234567",
                              "email": "y@romashka.example"}, source="web")
        db.session.commit()
        assert by_name.customer_id == customer.id and by_name.contact_id is None
        assert by_tax.customer_id == customer.id


def test_create_lead_needs_some_identity(app):
    with app.app_context():
        with pytest.raises(LeadError) as err:
            create_lead({"notes": "hello"}, source="web")
        assert err.value.field == "company"


def test_two_identical_posts_racing_give_one_lead(make_app, tmp_path):
    """Two threads (two sessions) submit the same person at once: one lead, one merge.

    The UNIQUE dedupe key decides; on PostgreSQL the loser's INSERT waits for the winner's
    commit and then merges into it."""
    app = make_app(plugins=["leads"])
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def submit(n: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                lead = create_lead({"email": "race@example.com", "name": f"Thread {n}"},
                                   source="web")
                db.session.commit()
                results.append(lead.id)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Lead)) == 1
        assert db.session.scalar(select(func.count()).select_from(LeadActivity).where(
            LeadActivity.kind == "merged")) == 1
    assert len(set(results)) == 1
