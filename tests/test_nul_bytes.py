"""A NUL byte in any text a user types is refused or dropped, never sent to the database:
PostgreSQL refuses it in text columns (a 500), SQLite stores it silently."""
from __future__ import annotations

from typing import Any

import pytest

from conveyor.testing import client_as, token_headers

PLUGINS = ["activities", "documents", "discussions", "approvals"]


@pytest.fixture
def world(make_app: Any, tmp_path: Any) -> Any:
    from conveyor import create_customer, create_deal, db
    from conveyor.models import User

    app = make_app(plugins=PLUGINS, config={
        "documents": {"storage_dir": str(tmp_path / "docs"), "converter": ""},
        "discussions": {"storage_dir": str(tmp_path / "files")}})
    with app.app_context():
        user = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        customer = create_customer({"name": "Acme"}, user)
        deal = create_deal({"title": "Pumps", "customer_id": customer.id}, user)
        db.session.commit()
        return app, deal.id


@pytest.mark.parametrize(("method", "url", "body"), [
    ("POST", "/api/v1/activities/", {"kind": "call", "title": "a\x00b",
                                     "due_at": "2030-01-10T09:00:00Z"}),
    ("POST", "/api/v1/deals/DEAL/posts", {"body": "a\x00b"}),
    ("POST", "/api/v1/deals/DEAL/documents", {"kind": "invoice", "lines": [
        {"name": "a\x00b", "quantity": "1", "price": "1"}]}),
    ("POST", "/api/v1/exchange-rates", {"currency": "EU\x00", "rate": "1", "date": "2026-12-01"}),
])
def test_the_api_never_passes_a_nul_on(world: Any, method: str, url: str,
                                       body: dict[str, Any]) -> None:
    app, deal_id = world
    response = app.test_client().open(url.replace("DEAL", str(deal_id)), method=method,
                                      json=body, headers=token_headers(app, "admin"))
    assert response.status_code in (201, 400, 422), response.get_data(as_text=True)[:300]


@pytest.mark.parametrize(("url", "form"), [
    ("/activities/new", {"kind": "call", "title": "a\x00b", "due_at": "2030-01-10T09:00"}),
    ("/discussions/deals/DEAL/posts", {"body": "a\x00b"}),
    ("/documents/company", {"name": "a\x00b"}),
    ("/admin/rates/", {"currency": "EUR", "day": "2026-12-01", "rate": "1\x00"}),
    ("/deals/new", {"title": "T", "customer_name": "Ac\x00me", "amount": "1"}),
])
def test_a_form_never_passes_a_nul_on(world: Any, url: str, form: dict[str, str]) -> None:
    app, deal_id = world
    response = client_as(app, "admin", csrf=True).post(url.replace("DEAL", str(deal_id)),
                                                      data=form)
    assert response.status_code in (200, 302, 303, 400, 422), response.status_code
    for search in ("/deals/customer-suggestions?q=%00", "/search/suggest?q=Ac%00me",
                   "/search/?q=Ac%00me"):
        assert client_as(app, "admin").get(search).status_code in (200, 400)
