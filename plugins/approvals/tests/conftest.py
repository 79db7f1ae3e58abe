"""An app with the approvals plugin and a throwaway approvable resource ("memo"): files kept in
memory, versioned by their sha256, each belonging to a deal whose record rule decides who sees
it."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import select

from conveyor import crm, hookimpl, scoped
from conveyor.extensions import db
from conveyor.models import Deal, Stage, User
from conveyor.plugins.approvals.resources import Approvable, Approver


@dataclass
class Memo:
    id: int
    deal_id: int
    body: bytes


class Memos:
    """The throwaway plugin: registers "memo" as approvable, lawyers approving."""

    def __init__(self) -> None:
        self.rows: dict[int, Memo] = {}

    def add(self, deal_id: int, body: bytes) -> Memo:
        memo = Memo(len(self.rows) + 1, deal_id, body)
        self.rows[memo.id] = memo
        return memo

    def load(self, record_id: int, user):
        memo = self.rows.get(record_id)
        if memo is None:
            return None
        if user is not None and db.session.scalar(
                scoped(Deal, user).where(Deal.id == memo.deal_id)) is None:
            return None
        return memo

    @hookimpl
    def register_approvables(self):
        return [Approvable(
            name="memo", label="Memo", load=self.load,
            version=lambda memo: hashlib.sha256(memo.body).hexdigest(),
            title=lambda memo: f"Memo {memo.id}", url=lambda memo: f"/memos/{memo.id}",
            deal_id=lambda memo: memo.deal_id, approver=Approver.of_role("lawyer"))]


@pytest.fixture
def memos():
    return Memos()


@pytest.fixture
def app(make_app, memos):
    return make_app(plugins=["approvals"], extra_plugins=[("memos", memos)])


def user(app, name):
    return db.session.get(User, app.config["TEST_USER_IDS"][name])


def make_deal(app, owner="seller", percent=60, amount="1000.00"):
    with app.app_context():
        owner_user = user(app, owner)
        customer = crm.create_customer({"name": "Acme"}, owner_user)
        stage = db.session.scalar(select(Stage).where(Stage.percent == percent,
                                                      Stage.is_won.is_(False)))
        deal = crm.create_deal({"customer_id": customer.id, "title": "Acme licences",
                                "amount": Decimal(amount), "stage": stage}, owner_user)
        db.session.commit()
        return deal.id


def stage_id(app, percent):
    with app.app_context():
        return db.session.scalar(select(Stage.id).where(Stage.percent == percent,
                                                        Stage.is_won.is_(False)))


def gate_stage(app, percent, *gates):
    with app.app_context():
        stage = db.session.scalar(select(Stage).where(Stage.percent == percent,
                                                      Stage.is_won.is_(False)))
        stage.gates = list(gates)
        db.session.commit()
