"""Another plugin registers its own records as discussable through the hook (as the documents
plugin will), and its records get the same API, record rules and mention checks."""
from __future__ import annotations

from typing import Any

import pytest

from conveyor import db, hookimpl, scoped
from conveyor.models import Customer

from .test_discussions_api import make_deal


class Memos:
    """A stand-in plugin: "memos" are customers seen through a loader of its own."""

    @hookimpl
    def discussions_discussables(self) -> list[Any]:
        from conveyor.plugins.discussions import Discussable

        def load(record_id: int, user: Any) -> Any:
            return db.session.scalar(scoped(Customer, user).where(Customer.id == record_id))

        return [Discussable(name="memos", model=Customer, permission="customers.view",
                            label=lambda c: f"Memo {c.name}", url=lambda c: f"/memos/{c.id}",
                            load=load)]


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(plugins=["discussions"], extra_plugins=[("memos", Memos())],
                    config={"discussions": {"storage_dir": str(tmp_path)}})


def test_a_plugin_registered_resource_gets_threads_with_record_rules(client, api_headers, users,
                                                                     app):
    make_deal(app, users["seller"])  # customer 1 belongs to the seller
    h = api_headers("seller")
    created = client.post("/api/v1/memos/1/posts", headers=h, json={"body": "@lawyer see"})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["resource"] == "memos"
    assert client.get("/api/v1/memos/1/posts", headers=api_headers("seller3")).status_code == 404
    refused = client.post("/api/v1/memos/1/posts", headers=h, json={"body": "@seller3 see"})
    assert refused.status_code == 422
    with app.app_context():
        from sqlalchemy import select

        from conveyor.models import Notification

        note = db.session.scalar(select(Notification).where(
            Notification.user_id == users["lawyer"]))
        assert note.url.startswith("/memos/1#post-") and "Memo Boiler Ltd" in note.message
