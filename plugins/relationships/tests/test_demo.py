"""``conveyor demo`` with the plugin on: every demo customer gets the type its deals give."""
from __future__ import annotations

from sqlalchemy import func, select

from conveyor import db
from conveyor.demo import seed_demo
from conveyor.models import Customer
from conveyor.plugins.relationships.models import RelationshipState
from conveyor.plugins.relationships.services import recompute


def test_the_demo_company_gets_its_types(make_app):
    app = make_app(plugins=["relationships"], seed=False)
    with app.app_context():
        assert seed_demo(app, db.session, customers=60) is not None
        customers = db.session.scalar(select(func.count()).select_from(Customer))
        types = dict(db.session.execute(select(RelationshipState.type, func.count())
                                        .group_by(RelationshipState.type)).all())
        assert sum(types.values()) == customers
        assert {"cold", "potential", "current"} <= set(types)
        result = recompute(db.session)
        assert (result.changed, result.new) == (0, 0)
