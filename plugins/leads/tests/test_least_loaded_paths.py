"""A least-loaded rule holds for every way a lead arrives: the public form and the importer too,
not only leads created in code (tests/test_assignment.py)."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from conveyor import db
from conveyor.plugins.leads.models import Lead
from conveyor.plugins.leads.services import create_lead


@pytest.fixture
def loaded(app, make_rule, users):
    """seller already holds three open leads; the rule shares between seller and seller2."""
    with app.app_context():
        for i in range(3):
            create_lead({"email": f"old{i}@example.com"}, source="x", owner_id=users["seller"])
        db.session.commit()
    return make_rule("LL", ["seller", "seller2"], strategy="least_loaded")


def new_owners(app, since_email_prefix):
    with app.app_context():
        return [o for (o,) in db.session.execute(
            select(Lead.owner_id).where(Lead.email.startswith(since_email_prefix))
            .order_by(Lead.id))]


def test_leads_from_the_public_form_go_to_the_least_loaded(app, loaded, make_form, client,
                                                           users):
    make_form(rule_id=loaded)
    for i in range(3):
        response = client.post("/public/leads/website", json={"email": f"web{i}@example.com"},
                               headers={"Origin": "https://shop.example.com"})
        assert response.status_code == 200, response.get_json()
    assert new_owners(app, "web") == [users["seller2"]] * 3
    for i in range(2):  # level now: one each
        client.post("/public/leads/website", json={"email": f"tie{i}@example.com"})
    assert sorted(new_owners(app, "tie")) == sorted([users["seller"], users["seller2"]])


def test_imported_leads_go_to_the_least_loaded(app, loaded, login_as, users):
    client = login_as("marketer")
    raw = "Company,Email\n" + "".join(f"Firm {i},imp{i}@example.com\n" for i in range(3))
    response = client.post("/leads/import", data={
        "source": "expo", "owner_mode": "rules", "encoding": "utf-8",
        "file": (io.BytesIO(raw.encode()), "leads.csv")}, content_type="multipart/form-data")
    assert response.status_code == 302
    import_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    assert client.post(f"/leads/import/{import_id}/commit").status_code == 302
    assert client.get(f"/leads/import/{import_id}/status").get_json()["assigned"] == 3
    assert new_owners(app, "imp") == [users["seller2"]] * 3
