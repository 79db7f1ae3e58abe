"""Logging calls: results, call backs booked in the queue, interest becoming a lead."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from conveyor import crm
from conveyor.extensions import db
from conveyor.models import Contact, TimelineEntry, User
from conveyor.plugins.calls.models import Call, QueueItem


def _user(app, name):
    return db.session.get(User, app.config["TEST_USER_IDS"][name])


def _count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _customer(app, owner="telemarketer", name="Volga Trade"):
    with app.app_context():
        customer = crm.create_customer({"name": name, "industry": "Retail", "region": "Moscow"},
                                       _user(app, owner))
        db.session.add(Contact(customer=customer, name="Anna", phone="+7 (495) 123-45-67",
                               email="anna@volga.example"))
        db.session.commit()
        return customer.id


def test_a_call_to_a_new_contact_is_stored_and_announced(app, login_as, captured_events):
    response = login_as("telemarketer").post("/calls/log", data={
        "name": "Wang Wei", "company": "上海贸易", "phone": "+86 21 5555 0101",
        "result": "no_answer"})
    assert response.status_code == 302
    with app.app_context():
        call = db.session.scalar(select(Call))
        assert (call.company, call.result, call.interested, call.lead_id) == (
            "上海贸易", "no_answer", False, None)
        assert call.owner_id == app.config["TEST_USER_IDS"]["telemarketer"]
    logged = [e for e in captured_events.handled if e.name == "CallLogged"]
    assert len(logged) == 1 and logged[0].customer is None and logged[0].interested is False
    assert [e.name for e in captured_events.tracked].count("CallLogged") == 1


def test_call_back_needs_a_time_and_nothing_is_written_without_it(app, login_as):
    response = login_as("telemarketer").post("/calls/log", data={
        "name": "Anna", "result": "call_back"})
    assert response.status_code == 400
    assert b"Say when to call back." in response.data
    assert _count(app, Call) == 0 and _count(app, QueueItem) == 0


def test_call_back_books_a_queue_item_at_that_time(app, login_as):
    customer_id = _customer(app)
    response = login_as("telemarketer").post(f"/calls/log?customer_id={customer_id}", data={
        "customer_id": customer_id, "result": "call_back", "call_back_at": "2030-05-04T10:30",
        "notes": "Busy, call after lunch"})
    assert response.status_code == 302, response.data[:3000]
    with app.app_context():
        item = db.session.scalar(select(QueueItem))
        assert item.customer_id == customer_id and item.done_at is None
        assert item.due_at == datetime(2030, 5, 4, 10, 30, tzinfo=UTC)
        assert item.owner_id == app.config["TEST_USER_IDS"]["telemarketer"]
        entry = db.session.scalar(select(TimelineEntry).where(TimelineEntry.kind == "call.logged"))
        assert entry.customer_id == customer_id and "Busy" in entry.message


def test_bad_input_is_refused_in_place(app, login_as):
    client = login_as("telemarketer")
    for data, message in [
        ({"result": "no_answer"}, b"Choose a customer or give the name"),
        ({"name": "X", "result": "maybe"}, b"Not a valid choice"),
        ({"name": "X", "result": "call_back", "call_back_at": "tomorrow"}, b"Not a valid datetime"),
        ({"name": "X", "phone": "call me", "result": "no_answer"}, b"Digits, spaces"),
        ({"name": "X", "result": "not_interested", "interested": "y"}, b"cannot show interest"),
        ({"customer_id": "999999", "result": "no_answer"}, b"No such customer"),
    ]:
        response = client.post("/calls/log", data=data)
        assert response.status_code == 400, data
        assert message in response.data, (data, response.data[:3000])
    assert _count(app, Call) == 0


def test_interest_creates_a_lead_linked_to_the_customer(app, login_as):
    from conveyor.plugins.leads.models import Lead

    customer_id = _customer(app)
    with app.app_context():
        contact_id = db.session.scalar(select(Contact.id))
    response = login_as("telemarketer").post(f"/calls/log?customer_id={customer_id}", data={
        "customer_id": customer_id, "contact_id": contact_id, "result": "interested",
        "products": "CRM licences\nTraining, crm licences"})
    assert response.status_code == 302, response.data[:3000]
    with app.app_context():
        call = db.session.scalar(select(Call))
        lead = db.session.get(Lead, call.lead_id)
        assert call.interested and call.products == ["CRM licences", "Training"]
        assert (call.name, call.phone) == ("Anna", "+7 (495) 123-45-67")
        assert lead.source == "call" and lead.customer_id == customer_id
        assert "Training" in lead.products


def test_a_telemarketer_cannot_call_a_customer_outside_their_scope(app, login_as):
    customer_id = _customer(app, owner="seller3")
    client = login_as("telemarketer")
    assert client.get(f"/calls/log?customer_id={customer_id}").status_code == 404
    response = client.post("/calls/log", data={"customer_id": customer_id, "result": "no_answer"})
    assert response.status_code == 400 and _count(app, Call) == 0


def test_a_queue_item_filled_by_the_manager_grants_the_call(app, login_as):
    customer_id = _customer(app, owner="seller")
    manager = login_as("manager")
    tm_id = app.config["TEST_USER_IDS"]["telemarketer"]
    with app.app_context():  # filled by someone who sees the customer (the manager)
        db.session.add(QueueItem(owner_id=tm_id, customer_id=customer_id, company="Volga Trade",
                                 priority=3))
        db.session.commit()
        item_id = db.session.scalar(select(QueueItem.id))
    client = login_as("telemarketer")
    page = client.get("/calls/")
    assert page.status_code == 200 and b"Volga Trade" in page.data
    form = client.get(f"/calls/log?queue_item={item_id}")
    assert form.status_code == 200 and f'value="{customer_id}"'.encode() in form.data
    response = client.post("/calls/log", data={"customer_id": customer_id,
                                               "queue_item_id": item_id, "result": "no_answer"})
    assert response.status_code == 302
    with app.app_context():
        item = db.session.get(QueueItem, item_id)
        assert item.done_at is not None and item.call_id == db.session.scalar(select(Call.id))
    assert b"Volga Trade" not in client.get("/calls/").data.split(b"My last calls")[0]
    assert manager.get("/calls/").status_code == 200


def test_queue_items_are_added_and_skipped(app, login_as):
    client = login_as("telemarketer")
    assert client.post("/calls/queue/new", data={"company": "", "name": ""}).status_code == 400
    response = client.post("/calls/queue/new", data={
        "owner_id": app.config["TEST_USER_IDS"]["telemarketer"], "company": "Iberia Foods",
        "phone": "+34 91 555 0123", "priority": "5"})
    assert response.status_code == 302
    with app.app_context():
        item_id = db.session.scalar(select(QueueItem.id))
    assert b"Iberia Foods" in client.get("/calls/").data
    other = login_as("manager")
    assert other.post(f"/calls/queue/{item_id}/skip").status_code == 404
    assert client.post(f"/calls/queue/{item_id}/skip").status_code == 302
    with app.app_context():
        assert db.session.get(QueueItem, item_id).done_at is not None


def test_telemarketer_cannot_fill_someone_elses_queue(app, login_as):
    response = login_as("telemarketer").post("/calls/queue/new", data={
        "owner_id": app.config["TEST_USER_IDS"]["seller"], "company": "X"})
    assert response.status_code == 400 and _count(app, QueueItem) == 0


def test_customer_search_finds_by_name_and_by_phone_digits(app, login_as):
    customer_id = _customer(app)
    client = login_as("telemarketer")
    for q in ("volga", "4951234567", "123-45"):
        page = client.get(f"/calls/log?q={q}")
        assert f"customer_id={customer_id}".encode() in page.data, q
    assert f"customer_id={customer_id}".encode() not in client.get("/calls/log?q=nothing").data
