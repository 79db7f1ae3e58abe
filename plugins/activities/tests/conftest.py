from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest


@pytest.fixture
def app(make_app):
    return make_app(plugins=["activities"])


@pytest.fixture
def records(app: Any, users: dict[str, int]) -> dict[str, int]:
    """A customer with an open deal for seller, seller2 and seller3 each."""
    from conveyor import create_customer, create_deal, db
    from conveyor.models import User

    out: dict[str, int] = {}
    with app.app_context():
        for name in ("seller", "seller2", "seller3"):
            user = db.session.get(User, users[name])
            customer = create_customer({"name": f"Customer of {name}"}, user)
            deal = create_deal({"title": f"Deal of {name}", "customer_id": customer.id}, user)
            out[f"{name}_customer"], out[f"{name}_deal"] = customer.id, deal.id
        db.session.commit()
    return out


def _set_user(app: Any, username: str, **values: Any) -> None:
    from conveyor import db
    from conveyor.models import User

    with app.app_context():
        user = db.session.get(User, app.config["TEST_USER_IDS"][username])
        for key, value in values.items():
            setattr(user, key, value)
        db.session.commit()


def _make_activity(app: Any, username: str, **data: Any) -> int:
    from conveyor import db
    from conveyor.models import User
    from conveyor.plugins.activities.services import create_activity

    with app.app_context():
        user = db.session.get(User, app.config["TEST_USER_IDS"][username])
        data.setdefault("kind", "call")
        data.setdefault("title", "Call back")
        data.setdefault("due_at", datetime.fromisoformat("2030-01-10T09:00:00+00:00"))
        activity = create_activity(data, by=user)
        db.session.commit()
        return activity.id


@pytest.fixture
def set_user(app: Any) -> Any:
    """``set_user("seller", timezone="Europe/Moscow")``."""
    return lambda username, **values: _set_user(app, username, **values)


@pytest.fixture
def make_activity(app: Any) -> Any:
    """``make_activity("seller", kind="visit", ...)`` through the service: its id."""
    return lambda username, **data: _make_activity(app, username, **data)


@pytest.fixture
def records_factory(users: Any) -> Any:
    """``records_factory(app)``: the same records in an app made in the test."""
    def make(app: Any) -> dict[str, int]:
        from conveyor import create_customer, create_deal, db
        from conveyor.models import User

        out: dict[str, int] = {}
        with app.app_context():
            for name in ("seller", "seller2", "seller3"):
                user = db.session.get(User, app.config["TEST_USER_IDS"][name])
                customer = create_customer({"name": f"Customer of {name}"}, user)
                deal = create_deal({"title": f"Deal of {name}", "customer_id": customer.id},
                                   user)
                out[f"{name}_customer"], out[f"{name}_deal"] = customer.id, deal.id
            db.session.commit()
        return out

    return make
