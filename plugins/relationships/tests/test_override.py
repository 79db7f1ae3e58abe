"""Manual override: a reason is required; it holds until the data moves the type or is cleared."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from conveyor import db
from conveyor.plugins.relationships.models import RelationshipState, RelationshipTransition
from conveyor.plugins.relationships.services import (
    OverrideError,
    clear_override,
    recompute,
    set_override,
)


def state(cid):
    return db.session.get(RelationshipState, cid, populate_existing=True)


def test_an_override_needs_a_known_type_and_a_reason(ops):
    c = ops.customer()
    with pytest.raises(OverrideError):
        set_override(db.session, c.id, "regular", "  ", ops.user("manager"))
    with pytest.raises(OverrideError):
        set_override(db.session, c.id, "vip", "big", ops.user("manager"))


def test_an_override_shows_and_is_recorded_with_its_reason(ops, captured_events):
    c = ops.customer()
    set_override(db.session, c.id, "regular", "Buys through a partner", ops.user("manager"))
    db.session.commit()
    s = state(c.id)
    assert (s.type, s.computed_type, s.override, s.override_reason, s.cause) == (
        "regular", "cold", True, "Buys through a partner", "override")
    last = db.session.scalars(select(RelationshipTransition)
                              .order_by(RelationshipTransition.id.desc())).first()
    assert (last.from_type, last.to_type, last.cause, last.reason, last.by_id) == (
        "cold", "regular", "override", "Buys through a partner", ops.user("manager").id)
    changed = [e for e in captured_events.handled if e.name == "RelationshipChanged"]
    assert (changed[-1].old, changed[-1].new, changed[-1].cause) == ("cold", "regular", "override")


def test_an_override_survives_events_and_recompute_that_do_not_move_the_data(ops):
    c = ops.customer()
    set_override(db.session, c.id, "regular", "Partner", ops.user("manager"))
    db.session.commit()
    ops.call(c, interested=False)  # an event that leaves the computed type alone
    recompute(db.session)
    assert (state(c.id).type, state(c.id).override) == ("regular", True)


def test_new_data_replaces_an_override(ops):
    c = ops.customer()
    set_override(db.session, c.id, "regular", "Partner", ops.user("manager"))
    db.session.commit()
    ops.deal(c)
    s = state(c.id)
    assert (s.type, s.override, s.override_reason, s.cause) == (
        "potential", False, "", "DealCreated")


def test_recompute_replaces_an_override_when_the_computed_type_moved(ops):
    c = ops.customer()
    set_override(db.session, c.id, "regular", "Partner", ops.user("manager"))
    db.session.commit()
    # Data changed behind the plugin's back (an import): recompute notices.
    db.session.execute(RelationshipState.__table__.update().values(computed_type="potential"))
    db.session.commit()
    assert recompute(db.session).changed == 1
    assert (state(c.id).type, state(c.id).override) == ("cold", False)


def test_clearing_an_override_shows_the_computed_type_again(ops):
    c = ops.customer()
    set_override(db.session, c.id, "lapsed", "Stopped buying", ops.user("manager"))
    db.session.commit()
    assert clear_override(db.session, c.id, ops.user("manager")) is True
    db.session.commit()
    s = state(c.id)
    assert (s.type, s.override, s.cause) == ("cold", False, "override_cleared")
    assert clear_override(db.session, c.id, ops.user("manager")) is False


def test_the_log_keeps_who_acted_even_when_that_user_row_goes(ops):
    """Append-only means append-only: no key rewrites by_id when the user is deleted."""
    from conveyor.models import User

    temp = User(username="temp-manager", roles=["manager"])
    db.session.add(temp)
    db.session.flush()
    temp_id = temp.id
    c = ops.customer()
    set_override(db.session, c.id, "regular", "Partner deal", temp)
    db.session.commit()
    db.session.delete(db.session.get(User, temp_id))
    db.session.commit()
    last = db.session.scalars(select(RelationshipTransition)
                              .where(RelationshipTransition.customer_id == c.id)
                              .order_by(RelationshipTransition.id.desc())).first()
    assert last.by_id == temp_id
