"""The type definitions, reached through the real core operations (events in the transaction)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from conveyor import db, update_deal
from conveyor.models import Deal
from conveyor.plugins.relationships.models import RelationshipTransition
from conveyor.plugins.relationships.rules import months_before
from conveyor.plugins.relationships.services import recompute
from conveyor.types import utcnow


def test_a_new_customer_is_cold(ops):
    assert ops.type_of(ops.customer()) == "cold"


def test_an_open_deal_makes_a_customer_potential_and_losing_it_makes_it_cold_again(ops):
    c = ops.customer()
    d = ops.deal(c)
    assert ops.type_of(c) == "potential"
    ops.lose(d)
    assert ops.type_of(c) == "cold"
    ops.reopen(d)
    assert ops.type_of(c) == "potential"


def test_one_win_is_current_two_wins_regular_and_reopening_steps_back(ops):
    c = ops.customer()
    d1, d2 = ops.deal(c), ops.deal(c)
    ops.win(d1)
    assert ops.type_of(c) == "current"
    ops.win(d2)
    assert ops.type_of(c) == "regular"
    ops.reopen(d2)
    assert ops.type_of(c) == "current"


def test_a_deal_created_already_won_counts(ops):
    c = ops.customer()
    ops.deal(c, won=True)
    assert ops.type_of(c) == "current"


def test_wins_outside_the_window_do_not_make_a_regular(ops):
    c = ops.customer()
    old, new = ops.deal(c), ops.deal(c)
    ops.win(old)
    ops.win(new)
    assert ops.type_of(c) == "regular"
    by = ops.user()
    update_deal(db.session.get(Deal, old.id), {"closed_at": months_before(utcnow(), 25)}, by)
    db.session.commit()
    assert ops.type_of(c) == "current"


def test_interest_from_a_call_makes_potential_until_the_window_passes(ops):
    recent, stale, uninterested = ops.customer("A"), ops.customer("B"), ops.customer("C")
    ops.call(recent)
    ops.call(stale, at=months_before(utcnow(), 13))
    ops.call(uninterested, interested=False)
    assert [ops.type_of(c) for c in (recent, stale, uninterested)] == [
        "potential", "cold", "cold"]


def test_lapsed_when_enabled_and_buying_again_climbs_out(make_ops):
    ops = make_ops(lapsed_after_months=6)
    c = ops.customer()
    d = ops.win(ops.deal(c))
    assert ops.type_of(c) == "current"
    db.session.execute(update(Deal).where(Deal.id == d.id)
                       .values(closed_at=utcnow() - timedelta(days=200)))
    db.session.commit()
    assert recompute(db.session).changed == 1  # time passing is seen by the recompute
    assert ops.type_of(c) == "lapsed"
    ops.win(ops.deal(c))  # two wins within 24 months: regular
    assert ops.type_of(c) == "regular"
    T = RelationshipTransition
    moves = db.session.execute(select(T.from_type, T.to_type, T.cause)
                               .where(T.customer_id == c.id).order_by(T.id)).all()
    assert [tuple(m) for m in moves][-2:] == [("current", "lapsed", "recompute"),
                                              ("lapsed", "regular", "DealWon")]


def test_each_change_is_recorded_once_with_its_cause_and_seller(ops):
    c = ops.customer()
    d = ops.deal(c)
    ops.win(d)
    rows = db.session.execute(select(RelationshipTransition).where(
        RelationshipTransition.customer_id == c.id).order_by(RelationshipTransition.id)).scalars()
    got = [(t.from_type, t.to_type, t.cause, t.owner_id) for t in rows]
    seller = ops.user().id
    # The first type (cold, on CustomerCreated) is the state's starting point, not a move.
    assert got == [("cold", "potential", "DealCreated", seller),
                   ("potential", "current", "DealWon", seller)]
    assert db.session.scalar(select(func.count()).select_from(RelationshipTransition)) == 2


def test_the_daily_job_moves_a_customer_who_stopped_buying_to_lapsed(make_ops):
    from conveyor.jobs import enqueue_schedules
    from conveyor.models import OutboxMessage

    ops = make_ops(lapsed_after_months=6)
    c = ops.customer()
    d = ops.win(ops.deal(c))
    cid = c.id
    db.session.execute(update(Deal).where(Deal.id == d.id)
                       .values(closed_at=utcnow() - timedelta(days=200)))
    db.session.commit()
    # Early today, so that an hour later is the same day whenever the test runs (from utcnow()
    # it crossed midnight after 23:00 UTC and the job rightly ran twice).
    now = utcnow().replace(hour=0, minute=1, second=0, microsecond=0)
    enqueue_schedules(ops.app, now)
    enqueue_schedules(ops.app, now + timedelta(hours=1))  # the same day: one run
    db.session.remove()
    assert ops.type_of(cid) == "lapsed"
    runs = db.session.scalars(select(OutboxMessage.status)
                              .where(OutboxMessage.job == "relationships.recompute")).all()
    assert runs == ["done"]
