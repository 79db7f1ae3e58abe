"""A seller's relationship reports read no more when other sellers' old moves double.

The reports (customers per type, moves in a period) for one seller are measured with
``conveyor.testing.statement_work`` (SQLite's VM instructions, PostgreSQL's rows read) with
other sellers' customers and their moves of two years ago, and again with as many more. Runs on
SQLite, and on PostgreSQL when CONVEYOR_TEST_DATABASE_URL is set.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert

from conveyor import db
from conveyor.models import Customer, User
from conveyor.plugins.relationships import reports as rep
from conveyor.plugins.relationships.models import RelationshipState, RelationshipTransition
from conveyor.testing import freeze_statistics, statement_work
from conveyor.types import utcnow

LADDER = ["cold", "potential", "current", "regular"]


def customers_with_moves(owners: list[int], n: int, when: Any, tag: str) -> None:
    """``n`` customers spread over ``owners``, each typed and moved three times around ``when``."""
    ids = list(db.session.scalars(insert(Customer).returning(Customer.id), [
        {"name": f"{tag} {i}", "owner_id": owners[i % len(owners)]} for i in range(n)]))
    db.session.execute(insert(RelationshipState), [
        {"customer_id": c, "type": "regular", "computed_type": "regular", "since": when,
         "cause": "recompute"} for c in ids])
    db.session.execute(insert(RelationshipTransition), [
        {"customer_id": c, "from_type": LADDER[k] if k else None, "to_type": LADDER[k + 1],
         "at": when + timedelta(hours=i + k), "cause": "recompute",
         "owner_id": owners[i % len(owners)]}
        for i, c in enumerate(ids) for k in range(3)])
    db.session.commit()


def test_a_sellers_reports_read_the_same_when_others_old_moves_double(app, users):
    with app.test_request_context():
        seller = db.session.get(User, users["seller"])
        now = utcnow()
        start, end = rep.period_bounds(*rep.this_month(now))
        others = [users["seller2"], users["seller3"], users["manager"]]
        customers_with_moves([seller.id], 20, start + timedelta(hours=1), "mine")
        customers_with_moves(others, 60, now - timedelta(days=730), "old")
        freeze_statistics()

        def reports() -> Any:
            return rep.type_counts(seller), rep.transition_counts(seller, start, end)

        first = reports()
        before = statement_work(reports)
        customers_with_moves(others, 60, now - timedelta(days=700), "older")
        again = reports()  # the commit expired the signed-in user: loaded again here, not below
        after = statement_work(reports)
        assert before > 0 and after == before
        assert first[0][seller.id].counts["regular"] == 20
        assert first[1][seller.id].up == 40  # cold → potential is the first type, not a move
        assert again[1][seller.id].up == first[1][seller.id].up
