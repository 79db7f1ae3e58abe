"""What the plugin adds to a write, in SQL statements (not time): a new open deal reads only the
customer's state and type, a win reads the won-deal ledger once, and neither grows with the
customer's deals. The figures stay right: ``test_won_sums`` checks them against brute force."""
from __future__ import annotations

from decimal import Decimal

from conveyor import create_deal, db


def _ours(statements: list[str]) -> list[str]:
    """The statements this plugin ran (its tables, and the type computation over deals)."""
    return [s for s in statements if "relationships_" in s or "wins_window" in s]


def _new_deal(ops, customer):
    deal = create_deal({"title": "D", "customer_id": customer.id, "amount": Decimal("10")},
                       ops.user("seller"))
    db.session.commit()
    return deal


def test_a_new_open_deal_never_reads_the_won_ledger(ops, count_queries):
    customer = ops.customer("Acme")
    ops.win(_new_deal(ops, customer))  # the customer has a type and a won deal already
    for _ in range(2):
        with count_queries() as q:
            _new_deal(ops, customer)
        ours = _ours(q)
        assert not [s for s in ours if "relationships_won" in s], ours
        # the state row (locked on PostgreSQL) and the type computed from the data
        assert len(ours) == 2, ours


def test_a_win_reads_the_ledger_once_whatever_the_customer_holds(ops, count_queries):
    customer = ops.customer("Acme")
    counts = []
    for _ in range(4):  # none, one, two, three won deals already held for the customer
        deal = _new_deal(ops, customer)
        with count_queries() as q:
            ops.win(deal)
        ledger_reads = [s for s in _ours(q) if s.lstrip().upper().startswith("SELECT")
                        and "FROM relationships_won_deal" in s]
        assert len(ledger_reads) == 1, ledger_reads
        counts.append(len(_ours(q)))
    # once the type holds (the third and fourth wins): the state, the type, the won deals
    # from ``deals``, the ledger, a ledger row and a day sum — the same for any number held
    assert counts[2] == counts[3] == 6, counts


def test_a_new_open_deal_of_a_potential_customer_reads_only_its_state(ops, count_queries):
    """A customer computed "potential" has won nothing, and another open deal keeps it so at
    any time: the state row is read (locked on PostgreSQL), the type is not computed again —
    and a full recompute agrees."""
    from conveyor.plugins.relationships.models import RelationshipState
    from conveyor.plugins.relationships.services import recompute

    customer = ops.customer("Prospect")
    _new_deal(ops, customer)  # its first deal: typed for the first time (computed)
    state = db.session.get(RelationshipState, customer.id)
    assert state.computed_type == "potential"
    with count_queries() as q:
        _new_deal(ops, customer)
    ours = _ours(q)
    assert len(ours) == 1 and "relationships_state" in ours[0], ours
    assert recompute(db.session).changed == 0
    db.session.expire_all()
    assert db.session.get(RelationshipState, customer.id).type == "potential"


def test_a_new_open_deal_of_a_customer_with_wins_still_computes_its_type(ops, count_queries):
    """Above "potential" the windows move with time: the type is computed as before."""
    customer = ops.customer("Buyer")
    ops.win(_new_deal(ops, customer))
    with count_queries() as q:
        _new_deal(ops, customer)
    assert len(_ours(q)) == 2, _ours(q)
