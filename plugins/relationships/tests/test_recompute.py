"""`conveyor relationships recompute`: set-based, idempotent, history only where types change."""
from __future__ import annotations

from sqlalchemy import delete, func, select

from conveyor import db, delete_deal, update_deal
from conveyor.models import Deal
from conveyor.plugins.relationships.models import RelationshipState, RelationshipTransition
from conveyor.plugins.relationships.services import recompute

T = RelationshipTransition


def _history_count() -> int:
    return db.session.scalar(select(func.count()).select_from(T))


def test_recompute_rebuilds_lost_state_and_a_second_run_changes_nothing(ops):
    cold, potential, current, regular = (ops.customer(n) for n in "ABCD")
    ops.deal(potential)
    ops.win(ops.deal(current))
    ops.win(ops.deal(regular))
    ops.win(ops.deal(regular))
    db.session.execute(delete(RelationshipState))
    db.session.commit()
    before = _history_count()

    first = recompute(db.session)
    assert (first.new, first.changed, first.customers) == (4, 0, 4)
    assert first.by_type == {"cold": 1, "potential": 1, "current": 1, "regular": 1}
    assert [ops.type_of(c) for c in (cold, potential, current, regular)] == [
        "cold", "potential", "current", "regular"]
    assert _history_count() == before  # first types are not moves

    second = recompute(db.session)
    assert (second.new, second.changed) == (0, 0) and second.by_type == first.by_type
    assert _history_count() == before


def test_recompute_fills_in_the_one_state_row_that_went_missing(ops):
    a, b, c = (ops.customer(n) for n in "ABC")
    ops.win(ops.deal(b))
    db.session.execute(delete(RelationshipState).where(RelationshipState.customer_id == b.id))
    db.session.commit()
    result = recompute(db.session)
    assert (result.new, result.changed, result.customers) == (1, 0, 3)
    assert ops.type_of(b) == "current"


def test_recompute_in_batches_gives_the_same_result(ops):
    customers = [ops.customer(f"C{i}") for i in range(7)]
    for c in customers[::2]:
        ops.win(ops.deal(c))
    db.session.execute(delete(RelationshipState))
    db.session.commit()
    result = recompute(db.session, batch_size=2)
    assert result.batches == 4 and result.new == 7
    assert [ops.type_of(c) for c in customers] == ["current", "cold"] * 3 + ["current"]


def test_recompute_records_only_customers_whose_type_changed(make_ops):
    ops = make_ops()
    a, b = ops.customer("A"), ops.customer("B")
    ops.win(ops.deal(a))
    ops.win(ops.deal(a))
    ops.win(ops.deal(b))
    # A settings change: three wins are now needed for "regular".
    ops.app.extensions["conveyor"].settings["relationships.regular_min_wins"] = 3
    before = _history_count()
    assert recompute(db.session).changed == 1
    assert (ops.type_of(a), ops.type_of(b)) == ("current", "current")
    last = db.session.scalars(select(T).order_by(T.id.desc())).first()
    assert (last.customer_id, last.from_type, last.to_type, last.cause) == (
        a.id, "regular", "current", "recompute")
    assert _history_count() == before + 1


def test_the_cli_command_recomputes(app, ops):
    ops.win(ops.deal(ops.customer()))
    db.session.execute(delete(RelationshipState))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["relationships", "recompute", "--batch-size", "10"])
    assert result.exit_code == 0, result.output
    assert "1 customers in 1 batch(es); 0 changed, 1 new. current: 1" in result.output


def test_a_deal_moved_to_another_customer_moves_both_types(ops):
    a, b = ops.customer("A"), ops.customer("B")
    d = ops.win(ops.deal(a))
    update_deal(db.session.get(Deal, d.id), {"customer_id": b.id}, ops.user())
    db.session.commit()
    assert (ops.type_of(a), ops.type_of(b)) == ("cold", "current")


def test_a_deleted_deal_no_longer_counts(ops):
    c = ops.customer()
    ops.win(ops.deal(c))
    d = ops.win(ops.deal(c))
    assert ops.type_of(c) == "regular"
    delete_deal(db.session.get(Deal, d.id), ops.user())
    db.session.commit()
    assert ops.type_of(c) == "current"
    last = db.session.scalars(select(T).order_by(T.id.desc())).first()
    assert last.cause == "DealDeleted"


def test_deleting_a_customer_takes_its_state_and_history_along(ops):
    c = ops.customer()
    cid = c.id
    db.session.delete(c)
    db.session.commit()
    assert db.session.get(RelationshipState, cid) is None
    assert db.session.scalar(select(func.count()).select_from(T).where(T.customer_id == cid)) == 0


def test_the_history_is_append_only(ops):
    import pytest

    from conveyor.plugins.relationships.models import AppendOnlyError

    ops.deal(ops.customer())
    row = db.session.scalars(select(T)).first()
    row.cause = "forged"
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.scalars(select(T)).first())
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()


def test_a_large_first_fill_on_postgresql_rebuilds_the_keys_and_index_it_set_aside(
        ops, monkeypatch):
    import pytest
    from sqlalchemy import inspect

    from conveyor.models import Customer
    from conveyor.plugins.relationships import services

    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("the bulk load is PostgreSQL's (SQLite keeps the plain INSERT … SELECT)")

    def shape() -> tuple[list, list]:
        insp = inspect(db.session.connection())
        keys = sorted((k["name"], tuple(k["constrained_columns"]), k["referred_table"],
                       k["options"].get("ondelete")) for k in
                      insp.get_foreign_keys("relationships_state"))
        indexes = sorted((i["name"], tuple(i["column_names"]))
                         for i in insp.get_indexes("relationships_state"))
        return keys, indexes

    customers = [ops.customer(f"Bulk {i}") for i in range(5)]
    ops.win(ops.deal(customers[0]))
    db.session.execute(delete(RelationshipState))
    db.session.commit()
    before = shape()
    assert len(before[0]) == 3 and before[1]
    monkeypatch.setattr(services, "BULK_FILL_MIN", 1)

    result = recompute(db.session)
    assert result.new == 5 and ops.type_of(customers[0]) == "current"
    assert shape() == before
    # The rebuilt key still cascades: a deleted customer takes its state row along.
    db.session.delete(db.session.get(Customer, customers[1].id))
    db.session.commit()
    assert db.session.get(RelationshipState, customers[1].id) is None
