"""Two-phase events: handle_event inside the transaction, track_event after commit."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from conveyor import crm, hookimpl
from conveyor.extensions import db
from conveyor.models import Customer, Deal, Stage, StageHistory, User


def _seller(app):
    return db.session.get(User, app.config["TEST_USER_IDS"]["seller"])


def test_stage_change_emits_old_new_and_by_then_won(app, captured_events):
    with app.app_context():
        seller = _seller(app)
        customer = crm.create_customer({"name": "Acme"}, seller)
        deal = crm.create_deal({"customer_id": customer.id, "title": "Pumps", "amount": 10}, seller)
        won = db.session.scalar(select(Stage).where(Stage.is_won.is_(True)))
        first = deal.stage
        crm.move_deal(deal, won, seller)
        db.session.commit()
        assert captured_events.names() == [
            "CustomerCreated", "DealCreated", "DealStageChanged", "DealWon"]
        changed = captured_events.handled[2]
        assert (changed.old, changed.new, changed.by) == (first, won, seller)
        assert [e.name for e in captured_events.tracked] == captured_events.names()
        history = db.session.scalars(select(StageHistory).where(StageHistory.deal_id == deal.id)
                                     .order_by(StageHistory.id)).all()
        assert [(h.from_stage_id, h.to_stage_id) for h in history] == [
            (None, first.id), (first.id, won.id)]


def test_lost_then_reopened(app, captured_events):
    with app.app_context():
        seller = _seller(app)
        customer = crm.create_customer({"name": "Acme"}, seller)
        deal = crm.create_deal({"customer_id": customer.id, "title": "T", "amount": 1}, seller)
        lost = db.session.scalar(select(Stage).where(Stage.is_lost.is_(True)))
        first = deal.stage
        crm.move_deal(deal, lost, seller, lost_reason="price")
        crm.move_deal(deal, first, seller)
        db.session.commit()
        assert captured_events.names()[-4:] == [
            "DealStageChanged", "DealLost", "DealStageChanged", "DealReopened"]
        assert captured_events.handled[-3].reason == "price"
        assert deal.closed_at is None and deal.lost_reason == ""


def test_a_deleted_deal_is_told_by_what_it_was(app, captured_events):
    with app.app_context():
        seller = _seller(app)
        customer = crm.create_customer({"name": "Acme"}, seller)
        deal = crm.create_deal({"customer_id": customer.id, "title": "Gone", "amount": 3}, seller)
        db.session.commit()
        deal_id = deal.id
        crm.delete_deal(deal, seller)
        db.session.commit()
        deleted = captured_events.handled[-1]
        assert deleted.name == "DealDeleted" and captured_events.tracked[-1].name == "DealDeleted"
        assert (deleted.deal_id, deleted.customer_id, deleted.title, deleted.owner_id) == (
            deal_id, customer.id, "Gone", seller.id)
        assert db.session.get(Deal, deal_id) is None


class Veto:
    @hookimpl
    def handle_event(self, event, session):
        if event.name == "DealCreated":
            raise RuntimeError("no deals today")


def test_raising_handle_event_aborts_the_whole_change(make_app):
    app = make_app(extra_plugins=[("veto", Veto())])
    with app.app_context():
        seller = _seller(app)
        customer = crm.create_customer({"name": "Acme"}, seller)
        db.session.commit()
        with pytest.raises(RuntimeError):
            crm.create_deal({"customer_id": customer.id, "title": "T", "amount": 1}, seller)
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Deal)) == 0
        assert db.session.scalar(select(func.count()).select_from(StageHistory)) == 0


class Flaky:
    def __init__(self):
        self.attempts = 0

    @hookimpl
    def track_event(self, event):
        self.attempts += 1
        if self.attempts < 2:
            raise ConnectionError("mail server down")


def test_failing_track_event_is_logged_and_retried_never_raised(make_app, caplog):
    flaky = Flaky()
    app = make_app(extra_plugins=[("flaky", flaky)])
    with app.app_context(), caplog.at_level(logging.ERROR, "conveyor.events"):
        crm.create_customer({"name": "Acme"}, _seller(app))
        db.session.commit()
    assert flaky.attempts == 2
    assert "mail server down" in caplog.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 1


def test_rolled_back_events_are_never_tracked(app, captured_events):
    with app.app_context():
        crm.create_customer({"name": "Ghost"}, _seller(app))
        db.session.rollback()
        db.session.commit()
    assert captured_events.names() == ["CustomerCreated"]
    assert captured_events.tracked == []


def test_track_event_runs_after_the_response_is_sent(make_app):
    seen = []

    class Tracker:
        @hookimpl
        def track_event(self, event):
            # After the response the request's session is gone: objects must still be readable.
            seen.append((event.name, event.customer.name, event.by.username))

    app = make_app(extra_plugins=[("tracker", Tracker())])
    app.config["CONVEYOR_TRACK_INLINE"] = False
    from conveyor.testing import client_as

    client = client_as(app, "seller", csrf=True)
    response = client.post("/customers/new", data={"name": "Acme", "owner_id": ""})
    assert response.status_code == 302
    assert seen == []  # the body has not been consumed and closed yet
    response.close()
    assert seen == [("CustomerCreated", "Acme", "seller")]


def test_user_created_event_is_declared(app):
    names = {e.__name__ for e in app.extensions["conveyor"].events}
    assert {"UserCreated", "CustomerCreated", "CustomerUpdated", "DealCreated", "DealUpdated",
            "DealStageChanged", "DealWon", "DealLost", "DealReopened"} <= names


def test_register_events_adds_plugin_events(make_app):
    from dataclasses import dataclass

    from conveyor import Event

    @dataclass
    class Pinged(Event):
        who: str = ""

    class Pinger:
        @hookimpl
        def register_events(self):
            return [Pinged]

    app = make_app(extra_plugins=[("pinger", Pinger())])
    assert Pinged in app.extensions["conveyor"].events


class Notifier:
    """Notifies in track_event and never commits: the core owns the tracker's session."""

    @hookimpl
    def track_event(self, event):
        from conveyor import notify

        if event.name == "DealCreated":
            notify(event.deal.owner_id, f"new deal {event.deal.title}")
        if event.name == "DealWon":
            notify(event.deal.owner_id, "kept?")
            raise RuntimeError("a tracker that fails leaves nothing half-written")


def test_what_track_event_writes_is_committed_by_the_core_and_rolled_back_on_error(make_app):
    from conveyor.models import Notification

    app = make_app(extra_plugins=[("notifier", Notifier())])
    with app.app_context():
        seller = db.session.scalar(select(User).where(User.username == "seller"))
        customer = crm.create_customer({"name": "Acme"}, seller)
        deal = crm.create_deal({"title": "Big", "customer_id": customer.id}, seller)
        db.session.commit()
        won = db.session.scalar(select(Stage).where(Stage.is_won.is_(True)))
        crm.move_deal(db.session.get(Deal, deal.id), won, seller)
        db.session.commit()
    with app.app_context():
        messages = db.session.scalars(select(Notification.message)).all()
    assert messages == ["new deal Big"]
