"""Numbers per kind and year: gap-free and never reused, also under concurrent writers."""
from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import select

from conveyor import db
from conveyor.models import Deal, User
from conveyor.plugins.documents import numbering
from conveyor.plugins.documents.models import Document
from conveyor.plugins.documents.services import create_document

WORKERS = 6
EACH = 4


def _generate(app, deal_id: int, barrier: threading.Barrier, errors: list) -> None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "seller"))
        barrier.wait()
        try:
            for index in range(EACH):
                deal = db.session.get(Deal, deal_id)
                create_document(deal, user, kind="invoice", language="en")
                if index == 1:
                    db.session.rollback()  # a failed request: its number must come back
                else:
                    db.session.commit()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            db.session.rollback()
        finally:
            db.session.remove()


def test_concurrent_documents_get_gap_free_unique_numbers(app, deal_of) -> None:
    """Real overlapping transactions on PostgreSQL (row lock on the counter); on SQLite the
    file lock serialises the same code."""
    deal_id = deal_of("seller")
    barrier = threading.Barrier(WORKERS)
    errors: list = []
    threads = [threading.Thread(target=_generate, args=(app, deal_id, barrier, errors))
               for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    with app.app_context():
        seqs = sorted(db.session.scalars(select(Document.seq)))
        numbers = list(db.session.scalars(select(Document.number)))
    committed = WORKERS * (EACH - 1)
    assert seqs == list(range(1, committed + 1))
    assert len(set(numbers)) == committed


def test_number_format_is_a_setting(make_app, tmp_path, deal_of) -> None:
    from .conftest import config, make_deal

    app = make_app(plugins=["documents"], config=config(
        tmp_path, documents={"number_format": "{prefix}/{seq:04d}/{year}"}))
    deal_id = make_deal(app, "seller")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "seller"))
        document = create_document(db.session.get(Deal, deal_id), user, kind="act")
        db.session.commit()
        assert document.number == f"ACT/0001/{document.year}"
        assert numbering.format_number("contract", 2026, 123) == "CTR/0123/2026"


@pytest.mark.postgres
def test_a_waiting_writer_gets_the_next_number_after_the_first_commits(app, deal_of) -> None:
    """On PostgreSQL the counter row's lock makes the second transaction wait, not fail."""
    if not os.environ.get("CONVEYOR_TEST_DATABASE_URL"):
        pytest.skip("needs CONVEYOR_TEST_DATABASE_URL (PostgreSQL)")
    deal_of("seller")
    first_has_number = threading.Event()
    release = threading.Event()
    got: dict[str, int] = {}

    def first() -> None:
        with app.app_context():
            got["first"] = numbering.next_seq("offer", 2031)
            first_has_number.set()
            release.wait(10)
            db.session.commit()
            db.session.remove()

    def second() -> None:
        with app.app_context():
            first_has_number.wait(10)
            got["second"] = numbering.next_seq("offer", 2031)
            db.session.commit()
            db.session.remove()

    a, b = threading.Thread(target=first), threading.Thread(target=second)
    a.start()
    b.start()
    first_has_number.wait(10)
    b.join(0.5)
    assert b.is_alive(), "the second writer must wait for the first one's lock"
    release.set()
    a.join(10)
    b.join(10)
    assert (got["first"], got["second"]) == (1, 2)
