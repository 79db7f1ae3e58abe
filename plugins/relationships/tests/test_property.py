"""Property: any history of deals, leads and calls replayed through the real operations leaves
exactly the types a recompute from scratch gives (run it with and without PostgreSQL)."""
from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from conveyor import db, delete_deal, update_deal
from conveyor.models import Customer, Deal
from conveyor.plugins.relationships.models import RelationshipState
from conveyor.plugins.relationships.rules import Rules, type_select
from conveyor.plugins.relationships.services import recompute
from conveyor.types import utcnow

# Days back, each far (>= 9 days) from the 3-, 6- and 12-month boundaries of the settings below.
DAYS = [0, 40, 100, 200, 400, 800]
CUSTOMERS = 2
# Kinds repeated to weight them: deals and their moves are most of a real history.
KINDS = ["deal"] * 3 + ["win"] * 3 + ["lose"] * 2 + ["reopen"] * 2 + ["call"] * 3 + [
    "backdate"] * 2 + ["convert", "reassign", "delete"]
# (kind, customer or deal index, stage position, days back, flag)
ACTION = st.tuples(st.sampled_from(KINDS), st.integers(0, 20), st.integers(0, 8),
                   st.sampled_from(DAYS), st.booleans())


def data_says(customers: list[int]) -> dict[int, str]:
    """The types the recompute's own statement gives right now (read-only)."""
    query = type_select(utcnow(), Rules.from_settings(), customers)
    return {row.customer_id: row.computed for row in db.session.execute(query)}


def replay(ops, opening, actions) -> list[int]:
    customers = [ops.customer(f"P{i}").id for i in range(CUSTOMERS)]
    deals = [ops.deal(customers[i % CUSTOMERS], won=won).id for i, won in opening]
    for kind, index, position, days, flag in actions:
        customer = customers[index % CUSTOMERS]
        if kind == "deal":
            deals.append(ops.deal(customer, won=flag).id)
        elif kind == "call":
            ops.call(customer, at=utcnow() - timedelta(days=days), interested=flag)
        elif kind == "convert":
            ops.convert(customer)
        elif deals:
            deal_id = deals[index % len(deals)]
            deal = db.session.get(Deal, deal_id)
            if kind == "win":
                ops.win(deal)
            elif kind == "lose":
                ops.lose(deal)
            elif kind == "reopen":
                ops.reopen(deal, position=position)
            elif kind == "backdate":
                update_deal(deal, {"closed_at": utcnow() - timedelta(days=days)}, ops.user())
                db.session.commit()
            elif kind == "reassign":
                update_deal(deal, {"customer_id": customers[position % CUSTOMERS]}, ops.user())
                db.session.commit()
            elif kind == "delete":
                delete_deal(deal, ops.user())
                db.session.commit()
                deals.remove(deal_id)
        # After every step, not only at the end: a missed event shows at once.
        assert {c: ops.type_of(c) for c in customers} == data_says(customers), (kind, index)
    return customers


def forget(customers: list[int]) -> None:
    """Drop an example's rows (Core deletes cascade), so every example starts from a small base."""
    db.session.execute(delete(Deal.__table__).where(Deal.customer_id.in_(customers)))
    db.session.execute(delete(Customer.__table__).where(Customer.id.in_(customers)))
    db.session.commit()
    db.session.expunge_all()


def test_events_give_the_types_a_recompute_gives(make_ops):
    # One app for the whole run; each example works on customers of its own.
    ops = make_ops(regular_min_wins=2, regular_window_months=12, lapsed_after_months=6,
                   interest_window_months=3)

    @settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(opening=st.lists(st.tuples(st.integers(0, 1), st.booleans()), max_size=4),
           actions=st.lists(ACTION, max_size=25))
    def replayed_equals_recomputed(opening, actions):
        customers = replay(ops, opening, actions)
        followed = {c: ops.type_of(c) for c in customers}
        assert None not in followed.values()

        result = recompute(db.session)
        assert (result.changed, result.new) == (0, 0)
        assert {c: ops.type_of(c) for c in customers} == followed

        # And from scratch: no state at all, the same types again.
        db.session.execute(delete(RelationshipState)
                           .where(RelationshipState.customer_id.in_(customers)))
        db.session.commit()
        recompute(db.session)
        assert {c: ops.type_of(c) for c in customers} == followed
        forget(customers)

    replayed_equals_recomputed()
