"""Two lawyers approving the same request at the same moment record one approval: the decision
is a conditional UPDATE, and PostgreSQL makes the second wait for the first and then find the
request no longer pending. Runs on PostgreSQL (CONVEYOR_TEST_DATABASE_URL)."""
from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import select

from conveyor.extensions import db
from conveyor.models import User
from conveyor.plugins.approvals import services
from conveyor.plugins.approvals.models import ApprovalRequest, ApprovalStep

from .conftest import make_deal, user

pytestmark = pytest.mark.skipif(
    not os.environ.get("CONVEYOR_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="needs two connections to PostgreSQL (CONVEYOR_TEST_DATABASE_URL)")


def test_two_lawyers_approving_at_once_record_one_approval(app, memos):
    deal_id = make_deal(app)
    with app.app_context():
        second = User(username="lawyer2", display_name="Lawyer Two", email="l2@example.test")
        second.roles = ["lawyer"]
        db.session.add(second)
        request = services.request_approval("memo", memos.add(deal_id, b"contract"),
                                            user(app, "seller"))
        db.session.commit()
        request_id, second_id = request.id, second.id
    first_updated, go_commit = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with app.app_context():
            item = db.session.get(ApprovalRequest, request_id)
            services.approve(item, user(app, "lawyer"))  # the UPDATE holds the row's lock
            first_updated.set()
            go_commit.wait(10)
            db.session.commit()
            outcome["first"] = "approved"

    def second_lawyer() -> None:
        with app.app_context():
            item = db.session.get(ApprovalRequest, request_id)
            assert item.status == "pending"  # read before the first committed
            first_updated.wait(10)
            try:
                services.approve(item, db.session.get(User, second_id))  # waits for the lock
                db.session.commit()
                outcome["second"] = "approved"
            except services.ApprovalError as error:
                db.session.rollback()
                outcome["second"] = str(error)

    threads = [threading.Thread(target=first), threading.Thread(target=second_lawyer)]
    for t in threads:
        t.start()
    first_updated.wait(10)
    threads[1].join(0.5)  # the second is blocked in its UPDATE meanwhile
    assert threads[1].is_alive()
    go_commit.set()
    for t in threads:
        t.join(20)
    assert outcome == {"first": "approved", "second": "Someone decided this request a moment ago."}
    with app.app_context():
        steps = db.session.scalars(select(ApprovalStep.action).where(
            ApprovalStep.request_id == request_id).order_by(ApprovalStep.id)).all()
        assert steps == ["requested", "approved"]
        assert db.session.get(ApprovalRequest, request_id).decided_by_id == \
            app.config["TEST_USER_IDS"]["lawyer"]
