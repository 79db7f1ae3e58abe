"""Two intake runs claiming at the same moment never take the same leads (PostgreSQL).

The claim locks the rows it picks (``FOR UPDATE SKIP LOCKED``): a second claim while the first
transaction is still open takes the next leads at once — it neither waits for the first nor
takes what the first took. Needs CONVEYOR_TEST_DATABASE_URL; SQLite has one writer at a time.
"""
from __future__ import annotations

import os
import threading
import time

import pytest
from sqlalchemy import select

from conveyor import db
from conveyor.plugins.leads import intake
from conveyor.plugins.leads.models import Lead

pytestmark = pytest.mark.postgres
HOLD = 2.0


@pytest.fixture
def app(make_app):
    if not os.environ.get("CONVEYOR_TEST_DATABASE_URL", "").startswith("postgresql"):
        pytest.skip("needs CONVEYOR_TEST_DATABASE_URL=postgresql+psycopg://... (row locks)")
    app = make_app(plugins=["leads"])
    with app.app_context():
        db.session.add_all(Lead(email=f"l{i}@example.com", source="test") for i in range(10))
        db.session.commit()
    return app


def test_two_claims_at_once_take_different_leads_without_waiting(app):
    first_taken: list[int] = []
    claimed = threading.Event()
    second: dict[str, object] = {}

    def first() -> None:
        with app.app_context():
            first_taken.extend(lead.id for lead in intake._claim(4))
            claimed.set()
            time.sleep(HOLD)  # the transaction stays open: its rows stay locked
            db.session.commit()

    def second_claim() -> None:
        claimed.wait(10)
        with app.app_context():
            start = time.monotonic()
            second["ids"] = [lead.id for lead in intake._claim(4)]
            second["took"] = time.monotonic() - start
            db.session.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second_claim)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(first_taken) == 4
    assert len(second["ids"]) == 4, second  # the next four, not nothing
    assert not set(first_taken) & set(second["ids"])
    assert second["took"] < HOLD / 2, second  # skipped the locked rows, did not wait
    with app.app_context():
        left = db.session.scalars(select(Lead.id).where(Lead.processed_at.is_(None))).all()
    assert len(left) == 2 and not set(left) & (set(first_taken) | set(second["ids"]))
