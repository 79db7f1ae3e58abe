"""With the real leads and calls plugins on: their interest selects join the type statement."""
from __future__ import annotations

from sqlalchemy import select

from conveyor import create_customer, db
from conveyor.models import User
from conveyor.plugins.relationships.models import RelationshipState
from conveyor.plugins.relationships.services import recompute


def test_a_lead_linked_to_a_customer_makes_it_potential(make_app):
    app = make_app(plugins=["leads", "calls", "relationships"])
    with app.app_context():
        from conveyor.plugins.leads.services import create_lead

        seller = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        linked, other = (create_customer({"name": n}, seller) for n in ("Linked", "Other"))
        db.session.commit()
        create_lead({"company": "Linked", "customer_id": linked.id}, source="manual", by=seller)
        db.session.commit()
        types = dict(db.session.execute(select(RelationshipState.customer_id,
                                               RelationshipState.type)).all())
        assert types == {linked.id: "potential", other.id: "cold"}
        result = recompute(db.session)
        assert (result.changed, result.new) == (0, 0)
