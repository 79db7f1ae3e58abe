"""Fixtures for the leads plugin's tests: an app with the plugin, rules and forms on demand."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

WEBSITE_FIELDS = [{"name": "company", "required": False}, {"name": "name", "required": False},
                  {"name": "email", "required": True}, {"name": "phone", "required": False},
                  {"name": "size", "required": False}, {"name": "notes", "required": False}]


@pytest.fixture
def app(make_app):
    """The leads plugin alone; lead-processor jobs and the capture intake run inline (other
    tests run them in their background threads). CSRF stays on: login_as clients send the
    token, as the pages' forms do."""
    return make_app(plugins=["leads"], config={"leads": {
        "import_inline": True, "process_inline": True, "form_cache_seconds": 0}})


@pytest.fixture
def make_rule(app, users) -> Callable[..., int]:
    """``make_rule("RR", ["seller", "seller2"], industry="IT")`` -> rule id."""
    from conveyor import db
    from conveyor.plugins.leads.models import LeadRule, LeadRuleSeller

    def factory(name: str, sellers: list[str], **kwargs: Any) -> int:
        with app.app_context():
            rule = LeadRule(name=name, rr_cursor=0, **kwargs,
                            sellers=[LeadRuleSeller(user_id=users[u]) for u in sellers])
            db.session.add(rule)
            db.session.commit()
            return rule.id

    return factory


@pytest.fixture
def make_form(app) -> Callable[..., int]:
    """``make_form("website", rule_id=..., allowed_origins=[...])`` -> form id."""
    from conveyor import db
    from conveyor.plugins.leads.models import LeadForm

    def factory(key: str = "website", **kwargs: Any) -> int:
        kwargs.setdefault("fields", WEBSITE_FIELDS)
        kwargs.setdefault("allowed_origins", ["https://shop.example.com"])
        with app.app_context():
            form = LeadForm(key=key, name=key.title(), source=kwargs.pop("source", key),
                            **kwargs)
            db.session.add(form)
            db.session.commit()
            return form.id

    return factory


@pytest.fixture
def leads_of(app) -> Callable[..., list[Any]]:
    """All leads (detached snapshots as dicts), oldest first."""
    from sqlalchemy import select

    from conveyor import db
    from conveyor.plugins.leads.models import Lead

    def fetch(**where: Any) -> list[dict[str, Any]]:
        with app.app_context():
            query = select(Lead).order_by(Lead.id).filter_by(**where)
            return [{c.name: getattr(lead, c.name) for c in Lead.__table__.columns}
                    for lead in db.session.scalars(query)]

    return fetch
