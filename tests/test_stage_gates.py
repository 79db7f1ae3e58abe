"""Stage gates (``register_stage_gates``): a gate an admin switched on for a stage holds on every
path that moves a deal — the board, the deal card, the API (move and create), ``update_deal``,
``move_deal``, a plugin's bulk action and a plain ORM change — and a refused move changes nothing.

CSRF stays on: posts carry the token from the page's csrf-token meta tag.
"""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from flask import Blueprint, redirect
from flask_login import current_user
from sqlalchemy import func, select

from conveyor import StageGate, StageGateRefused, crm, hookimpl, require
from conveyor.extensions import db
from conveyor.i18n import _l
from conveyor.models import Deal, Stage, StageHistory, TimelineEntry, User

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def post(client, url, data=None, **kwargs):
    if not hasattr(client, "csrf"):
        client.csrf = CSRF.search(client.get("/profile/").get_data(as_text=True)).group(1)
    return client.post(url, data={"csrf_token": client.csrf, **(data or {})}, **kwargs)


class Contracts:
    """A throwaway plugin: its gate refuses while ``open`` is False; its bulk action moves many
    deals through ``move_deal``."""

    def __init__(self) -> None:
        self.open = False
        self.asked: list[tuple[int | None, int, int]] = []

    def check(self, move):
        self.asked.append((getattr(move.old, "id", None), move.new.id, move.gated.id))
        return None if self.open else _l("The contract is not approved yet.")

    @hookimpl
    def register_stage_gates(self):
        return [StageGate("contracts.signed", _l("Contract approved"), self.check)]

    @hookimpl
    def register_blueprints(self, app):
        bp = Blueprint("contracts", __name__, url_prefix="/contracts-test")

        @bp.post("/bulk-move/<int:stage_id>")
        @require("deals.edit")
        def bulk_move(stage_id):
            stage = db.session.get(Stage, stage_id)
            for deal in db.session.scalars(select(Deal).where(Deal.owner_id == current_user.id)):
                crm.move_deal(deal, stage, current_user)
            db.session.commit()
            return redirect("/deals/board")

        return [bp]


@pytest.fixture
def gate():
    return Contracts()


@pytest.fixture
def app(make_app, gate):
    return make_app(extra_plugins=[("contracts", gate)])


def stage_ids(app):
    with app.app_context():
        return {s.percent if not s.is_closed else ("won" if s.is_won else "lost"): s.id
                for s in db.session.scalars(select(Stage).order_by(Stage.position))
                if s.name != "Closing documents"}


def switch_on(app, stage_id, names=("contracts.signed",)):
    with app.app_context():
        db.session.get(Stage, stage_id).gates = list(names)
        db.session.commit()


def seed_deal(app, stage_percent=60, owner="seller"):
    ids = stage_ids(app)
    with app.app_context():
        user = db.session.get(User, app.config["TEST_USER_IDS"][owner])
        customer = crm.create_customer({"name": "Acme"}, user)
        deal = crm.create_deal({"customer_id": customer.id, "title": "Big one",
                                "amount": Decimal("100.00"),
                                "stage": db.session.get(Stage, ids[stage_percent])}, user)
        db.session.commit()
        return deal.id


def snapshot(app, deal_id):
    """What a refused move must leave alone: stage, version, history and timeline."""
    with app.app_context():
        deal = db.session.get(Deal, deal_id)
        return (deal.stage_id, deal.version,
                db.session.scalar(select(func.count()).select_from(StageHistory)
                                  .where(StageHistory.deal_id == deal_id)),
                db.session.scalar(select(func.count()).select_from(TimelineEntry)
                                  .where(TimelineEntry.deal_id == deal_id)))


def test_the_gate_holds_on_every_path_that_moves_a_deal(app, gate, login_as, api_headers):
    ids = stage_ids(app)
    switch_on(app, ids[70])
    deal_id = seed_deal(app)
    before = snapshot(app, deal_id)
    seller = login_as("seller")

    # 1. The board: its one-click move posts to the stage route with next=the board.
    r = post(seller, f"/deals/{deal_id}/stage", {"stage_id": ids[70], "next": "/deals/board"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/deals/board")
    page = seller.get("/deals/board").get_data(as_text=True)
    assert "The contract is not approved yet." in page and "was not moved" in page
    assert snapshot(app, deal_id) == before

    # 2. The deal card's stage form, to a stage beyond the gated one (passing 70 %).
    r = post(seller, f"/deals/{deal_id}/stage", {"stage_id": ids["won"]})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/deals/{deal_id}")
    card = seller.get(f"/deals/{deal_id}").get_data(as_text=True)
    assert "The contract is not approved yet." in card
    assert 'id="blocked-moves"' in card  # the card says which moves are blocked, and why
    assert snapshot(app, deal_id) == before

    # 3. The API's stage move: 409 with the gate's code and message.
    headers = api_headers("seller")
    r = seller.post(f"/api/v1/deals/{deal_id}/stage", json={"stage_id": ids[80]},
                    headers=headers)
    assert r.status_code == 409
    assert r.json["code"] == "stage_gate"
    assert r.json["message"] == "The contract is not approved yet."
    assert r.json["gates"] == [{"gate": "contracts.signed", "stage_id": ids[70],
                                "message": "The contract is not approved yet."}]
    assert snapshot(app, deal_id) == before

    # 4. The API's create: a new deal can't start beyond a gated stage either.
    with app.app_context():
        customer_id = db.session.get(Deal, deal_id).customer_id
        deals_before = db.session.scalar(select(func.count()).select_from(Deal))
    r = seller.post("/api/v1/deals", json={"customer_id": customer_id, "title": "Late",
                                           "amount": "5.00", "stage_id": ids[90]},
                    headers=headers)
    assert r.status_code == 409 and r.json["code"] == "stage_gate"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Deal)) == deals_before

    # 5. A plugin's bulk action through move_deal (unhandled in its view: the core answers).
    r = post(seller, f"/contracts-test/bulk-move/{ids[70]}")
    assert r.status_code == 303
    assert "The contract is not approved yet." in seller.get("/deals/board").get_data(
        as_text=True)
    assert snapshot(app, deal_id) == before

    # 6. The write operations a plugin calls, and a bare ORM change of the stage.
    with app.app_context():
        user = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        deal = db.session.get(Deal, deal_id)
        with pytest.raises(StageGateRefused):
            crm.update_deal(deal, {"stage_id": ids[70]}, user)
        db.session.rollback()
        deal = db.session.get(Deal, deal_id)
        with pytest.raises(StageGateRefused):
            crm.move_deal(deal, db.session.get(Stage, ids[80]), user)
        db.session.rollback()
        deal = db.session.get(Deal, deal_id)
        deal.stage_id = ids[90]
        with pytest.raises(StageGateRefused):
            db.session.flush()
        db.session.rollback()
        deal = db.session.get(Deal, deal_id)
        deal.stage = db.session.get(Stage, ids[70])
        with pytest.raises(StageGateRefused):
            db.session.commit()
        db.session.rollback()
    assert snapshot(app, deal_id) == before

    # Once the gate lets it through, the same move goes.
    gate.open = True
    r = seller.post(f"/api/v1/deals/{deal_id}/stage", json={"stage_id": ids[80]},
                    headers=headers)
    assert r.status_code == 200 and r.json["stage_id"] == ids[80]


def test_a_gate_is_asked_only_for_moves_into_or_forward_past_its_stage(app, gate, login_as,
                                                                      api_headers):
    ids = stage_ids(app)
    switch_on(app, ids[70])
    deal_id = seed_deal(app, stage_percent=40)
    headers = api_headers("seller")
    client = login_as("seller")
    # Forward but short of the gated stage, back, and to lost: no gate asked.
    for target in (60, 10, "lost"):
        body = {"stage_id": ids[target], "lost_reason": "budget"}
        assert client.post(f"/api/v1/deals/{deal_id}/stage", json=body,
                           headers=headers).status_code == 200
    assert gate.asked == []
    assert client.post(f"/api/v1/deals/{deal_id}/stage", json={"stage_id": ids[40]},
                       headers=headers).status_code == 200
    r = client.post(f"/api/v1/deals/{deal_id}/stage", json={"stage_id": ids[90]},
                    headers=headers)
    assert r.status_code == 409
    assert gate.asked == [(ids[40], ids[90], ids[70])]


def test_a_deal_already_past_a_gated_stage_moves_on_freely(app, gate, api_headers, login_as):
    ids = stage_ids(app)
    deal_id = seed_deal(app, stage_percent=80)
    switch_on(app, ids[70])
    r = login_as("seller").post(f"/api/v1/deals/{deal_id}/stage", json={"stage_id": ids[90]},
                                headers=api_headers("seller"))
    assert r.status_code == 200 and gate.asked == []


def test_without_a_configured_gate_moves_ask_nothing(app, gate, api_headers, login_as):
    ids = stage_ids(app)
    deal_id = seed_deal(app)
    r = login_as("seller").post(f"/api/v1/deals/{deal_id}/stage", json={"stage_id": ids["won"]},
                                headers=api_headers("seller"))
    assert r.status_code == 200 and gate.asked == []


def test_an_admin_switches_gates_on_per_stage(app, gate, login_as):
    ids = stage_ids(app)
    admin = login_as("admin")
    page = admin.get("/admin/stages").get_data(as_text=True)
    assert "contracts.signed" in page and "Contract approved" in page
    r = post(admin, f"/admin/stages/{ids[70]}/gates", {f"g{ids[70]}-gates": "contracts.signed"})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.get(Stage, ids[70]).gates == ["contracts.signed"]
    r = post(admin, f"/admin/stages/{ids[70]}/gates", {f"g{ids[70]}-gates": "no.such_gate"})
    assert r.status_code == 400
    r = post(admin, f"/admin/stages/{ids[70]}/gates", {})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.get(Stage, ids[70]).gates == []
    assert post(login_as("seller"), f"/admin/stages/{ids[70]}/gates",
                {f"g{ids[70]}-gates": "contracts.signed"}).status_code == 403


def test_a_gate_of_a_disabled_plugin_no_longer_applies(make_app, api_headers):
    app = make_app()  # no plugin declares contracts.signed here
    ids = stage_ids(app)
    switch_on(app, ids[70])
    deal_id = seed_deal(app)
    client = app.test_client()
    from conveyor.testing import token_headers

    r = client.post(f"/api/v1/deals/{deal_id}/stage", json={"stage_id": ids[70]},
                    headers=token_headers(app, "seller"))
    assert r.status_code == 200


def test_a_gate_declared_twice_stops_startup(make_app):
    from conveyor.plugin_loading import PluginError

    with pytest.raises(PluginError, match="contracts.signed"):
        make_app(extra_plugins=[("one", Contracts()), ("two", Contracts())])
