"""A seller's relationship reports read no more when other sellers' old moves and wins double.

The reports (customers per type, moves in a period, won amounts per type) for one seller are
measured with ``conveyor.testing.statement_work`` (SQLite's VM instructions, PostgreSQL's rows read) with
other sellers' customers and their moves of two years ago, and again with as many more. Runs on
SQLite, and on PostgreSQL when CONVEYOR_TEST_DATABASE_URL is set.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select

from conveyor import db
from conveyor.models import Customer, Deal, Stage, User
from conveyor.plugins.relationships import reports as rep
from conveyor.plugins.relationships.models import RelationshipState, RelationshipTransition
from conveyor.plugins.relationships.type_counts import rebuild as rebuild_counts
from conveyor.plugins.relationships.won import won_by_type
from conveyor.plugins.relationships.won_ledger import rebuild
from conveyor.testing import freeze_statistics, statement_work
from conveyor.types import utcnow

LADDER = ["cold", "potential", "current", "regular"]


def customers_with_moves(owners: list[int], n: int, when: Any, tag: str) -> None:
    """``n`` customers spread over ``owners``, each typed and moved three times around ``when``
    and with two deals won then (one in USD, one in EUR); the won-amount sums rebuilt."""
    ids = list(db.session.scalars(insert(Customer).returning(Customer.id), [
        {"name": f"{tag} {i}", "owner_id": owners[i % len(owners)]} for i in range(n)]))
    won = db.session.scalars(select(Stage).where(Stage.is_won.is_(True))).first()
    db.session.execute(insert(Deal), [
        {"customer_id": c, "owner_id": owners[i % len(owners)], "pipeline_id": won.pipeline_id,
         "stage_id": won.id, "title": f"{tag} {i}", "amount": 100 + i, "currency": currency,
         "created_at": when, "updated_at": when, "stage_entered_at": when + timedelta(hours=i),
         "closed_at": when + timedelta(hours=i)}
        for i, c in enumerate(ids) for currency in ("USD", "EUR")])
    db.session.execute(insert(RelationshipState), [
        {"customer_id": c, "type": "regular", "computed_type": "regular", "since": when,
         "cause": "recompute"} for c in ids])
    db.session.execute(insert(RelationshipTransition), [
        {"customer_id": c, "from_type": LADDER[k] if k else None, "to_type": LADDER[k + 1],
         "at": when + timedelta(hours=i + k), "cause": "recompute",
         "owner_id": owners[i % len(owners)]}
        for i, c in enumerate(ids) for k in range(3)])
    rebuild(db.session)  # written behind the events' back: the kept sums rebuilt, as after a load
    rebuild_counts(db.session)
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

        first_day, last_day = rep.this_month(now)

        def reports() -> Any:
            return (rep.type_counts(seller), rep.transition_counts(seller, start, end),
                    won_by_type(seller, first_day, last_day))

        first = reports()
        before = statement_work(reports)
        customers_with_moves(others, 60, now - timedelta(days=700), "older")
        again = reports()  # the commit expired the signed-in user: loaded again here, not below
        after = statement_work(reports)
        assert before > 0 and after == before
        assert first[0][seller.id].counts["regular"] == 20
        assert first[1][seller.id].up == 40  # cold → potential is the first type, not a move
        assert again[1][seller.id].up == first[1][seller.id].up
        assert first[2].count == again[2].count == 40  # the seller's own wins of this month
        assert first[2].counts["regular"] == 40
