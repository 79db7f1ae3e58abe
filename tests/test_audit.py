"""The audit trail: field-level changes old → new, role, user and sign-in events, append-only,
on the record and on the admin page (filters, CSV), retention."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from conveyor import crm
from conveyor.extensions import db
from conveyor.models import AppendOnlyError, AuditEntry, Customer, Stage, User
from conveyor.testing import PASSWORD, client_as, token_headers
from conveyor.types import utcnow


def entries(app: Any, **where: Any) -> list[AuditEntry]:
    with app.app_context():
        query = select(AuditEntry).order_by(AuditEntry.id)
        for key, value in where.items():
            query = query.where(getattr(AuditEntry, key) == value)
        found = list(db.session.scalars(query))
        db.session.expunge_all()
        return found


@pytest.fixture
def deal(app: Any, users: dict[str, int]) -> tuple[int, int]:
    with app.app_context():
        seller = db.session.get(User, users["seller"])
        customer = crm.create_customer({"name": "Acme"}, seller)
        db.session.flush()
        made = crm.create_deal({"customer_id": customer.id, "title": "Pump",
                                "amount": "10.00"}, seller)
        db.session.commit()
        return customer.id, made.id


def test_api_changes_are_recorded_field_by_field(app: Any, deal: tuple[int, int],
                                                 users: dict[str, int]) -> None:
    customer_id, deal_id = deal
    client = app.test_client()
    headers = token_headers(app, "seller")
    response = client.patch(f"/api/v1/deals/{deal_id}", json={
        "version": 1, "title": "Big pump", "amount": "20.00"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    [change] = entries(app, object_type="deal", object_id=deal_id, action="update")
    assert change.changes["title"] == ["Pump", "Big pump"]
    assert change.changes["amount"] == ["10.00", "20.00"]
    assert "version" not in change.changes and "updated_at" not in change.changes
    assert (change.actor_id, change.actor, change.label) == (users["seller"], "seller",
                                                             "Big pump")
    assert change.ip == "127.0.0.1"
    created = entries(app, object_type="deal", object_id=deal_id, action="create")
    assert created and created[0].changes["title"] == [None, "Pump"]


def test_creates_and_deletes_are_recorded(app: Any, users: dict[str, int]) -> None:
    client = app.test_client()
    headers = token_headers(app, "admin")
    made = client.post("/api/v1/customers", json={"name": "Gone Ltd", "region": "North"},
                       headers=headers).get_json()
    assert client.delete(f"/api/v1/customers/{made['id']}", headers=headers).status_code == 204
    actions = [(e.action, e.changes.get("name")) for e in
               entries(app, object_type="customer", object_id=made["id"])]
    assert actions == [("create", [None, "Gone Ltd"]), ("delete", ["Gone Ltd", None])]


def test_a_rolled_back_change_leaves_no_entry(app: Any, deal: tuple[int, int]) -> None:
    _customer_id, deal_id = deal
    before = len(entries(app))
    with app.app_context():
        customer = db.session.scalar(select(Customer))
        customer.name = "Never saved"
        db.session.flush()
        db.session.rollback()
    assert len(entries(app)) == before


def test_users_roles_activation_and_password_are_recorded(app: Any,
                                                          users: dict[str, int]) -> None:
    admin = client_as(app, "admin", csrf=True)
    response = admin.post(f"/admin/users/{users['seller']}/edit", data={
        "username": "seller", "display_name": "S", "email": "", "roles": ["seller", "lawyer"],
        "password": "a-new-password-9"})  # active unchecked: deactivated
    assert response.status_code == 302
    found = entries(app, object_type="user", object_id=users["seller"], actor="admin")
    update_entry = next(e for e in found if e.action == "update")
    assert update_entry.changes["active"] == [True, False]
    assert update_entry.changes["password_hash"] == ["***", "***"]  # never the hash itself
    assert "session_stamp" not in update_entry.changes
    assert [e.changes["role"] for e in found if e.action == "role_granted"] == [
        [None, "lawyer"]]
    assert all(e.actor == "admin" for e in found)


def test_role_edits_are_recorded(app: Any) -> None:
    admin = client_as(app, "admin", csrf=True)
    response = admin.post("/admin/roles/lawyer", data={
        "permissions": ["customers.view"], "scope": "own"})
    assert response.status_code == 302
    [created] = entries(app, object_type="role")
    assert created.action == "create" and created.label == "lawyer"
    assert created.changes["data"][1]["permissions"] == ["customers.view"]
    admin.post("/admin/roles/lawyer", data={"permissions": ["customers.view", "deals.view"],
                                            "scope": "all"})
    changed = entries(app, object_type="role", action="update")[0]
    old, new = changed.changes["data"]
    assert (old["scope"], new["scope"]) == ("own", "all")


def test_stage_edits_are_recorded(app: Any) -> None:
    with app.app_context():
        stage = db.session.scalar(select(Stage).order_by(Stage.position))
        stage.name = "Inbound"
        db.session.commit()
        stage_id = stage.id
    [change] = entries(app, object_type="stage", object_id=stage_id, action="update")
    assert change.changes["name"][1] == "Inbound"


def test_sign_ins_failures_and_sign_outs_are_recorded(app: Any, users: dict[str, int]) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    assert client.post("/login", data={"username": "seller", "password": "nope"},
                       environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 401
    assert client.post("/login", data={"username": "ghost", "password": "x"}).status_code == 401
    assert client.post("/login", data={"username": "seller", "password": PASSWORD}
                       ).status_code == 302
    assert client.post("/logout").status_code == 302
    found = [(e.action, e.label, e.object_id, e.actor, e.ip) for e in entries(app)
             if e.action.startswith("sign")]
    assert found == [
        ("sign_in_failed", "seller", users["seller"], "", "203.0.113.7"),
        ("sign_in_failed", "ghost", None, "", "127.0.0.1"),
        ("sign_in", "seller", users["seller"], "seller", "127.0.0.1"),
        ("sign_out", "seller", users["seller"], "seller", "127.0.0.1")]


def test_the_trail_is_append_only(app: Any, deal: tuple[int, int]) -> None:
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry))
        entry.label = "rewritten"
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
    with app.app_context():
        db.session.delete(db.session.scalar(select(AuditEntry)))
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
    assert "rewritten" not in {e.label for e in entries(app)}


def test_the_record_shows_its_history(app: Any, deal: tuple[int, int],
                                      login_as: Any) -> None:
    customer_id, deal_id = deal
    seller = login_as("seller")
    assert seller.post(f"/customers/{customer_id}/edit", data={
        "name": "Acme <b>Evil</b>", "industry": "", "region": "", "size": "", "tax_id": "",
        "address": ""}).status_code == 302
    card = seller.get(f"/customers/{customer_id}").get_data(as_text=True)
    history = card.split('id="history"')[1]
    assert "Acme &lt;b&gt;Evil&lt;/b&gt;" in history and "<b>Evil" not in history
    assert "changed" in history and "seller" in history
    assert "audit trail" not in history  # the link is for those who may read the trail
    assert 'id="history"' in seller.get(f"/deals/{deal_id}").get_data(as_text=True)
    admin_card = login_as("admin").get(f"/customers/{customer_id}").get_data(as_text=True)
    assert f"/admin/audit?object_type=customer&amp;object_id={customer_id}" in admin_card


def test_the_admin_page_filters_pages_and_exports(app: Any, deal: tuple[int, int],
                                                  login_as: Any) -> None:
    customer_id, deal_id = deal
    admin = login_as("admin")
    page = admin.get("/admin/audit")
    assert page.status_code == 200 and b"Audit trail" in page.data
    only_deal = admin.get(f"/admin/audit?object_type=deal&object_id={deal_id}")
    html = only_deal.get_data(as_text=True)
    assert f"Deal #{deal_id}" in html and f"Customer #{customer_id}" not in html
    by_actor = admin.get("/admin/audit?actor=nobody").get_data(as_text=True)
    assert "No entries match." in by_actor
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    assert "No entries match." in admin.get(f"/admin/audit?from={tomorrow}").get_data(
        as_text=True)
    assert admin.get("/admin/audit?from=9999-12-31").status_code == 400
    assert admin.get("/admin/audit?object_id=abc").status_code == 400
    exported = admin.get("/admin/audit?format=csv&object_type=deal")
    assert exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["When (UTC)", "User", "Action"]
    assert {r[3] for r in rows[1:]} == {"deal"} and len(rows) >= 2
    assert login_as("seller").get("/admin/audit").status_code == 403
    assert login_as("manager").get("/admin/audit?format=csv").status_code == 403


def test_the_export_neutralises_formulas(app: Any, login_as: Any) -> None:
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        crm.create_customer({"name": "=HYPERLINK(\"http://x\")"}, admin)
        db.session.commit()
    text = login_as("admin").get("/admin/audit?format=csv").get_data(as_text=True)
    assert "'=HYPERLINK" in text and not re.search(r"(^|,)=HYPERLINK", text, re.M)


def test_retention_purges_old_entries_only(app: Any, deal: tuple[int, int]) -> None:
    from conveyor.cli import audit_purge

    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(AuditEntry))
        old_id = db.session.scalar(select(func.min(AuditEntry.id)))
        db.session.execute(update(AuditEntry.__table__).where(AuditEntry.id == old_id)
                           .values(at=utcnow() - timedelta(days=800)))
        db.session.commit()
    result = app.test_cli_runner().invoke(audit_purge, [])
    assert result.exit_code == 0 and "Deleted 1 audit entries older than 730 days" in \
        result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == total - 1


def test_plugins_record_their_own_actions(make_app: Any) -> None:
    from conveyor import hookimpl, record_audit

    class Exporter:
        @hookimpl
        def register_commands(self, cli: Any) -> None:
            return None

    app = make_app(extra_plugins=[("exporter", Exporter())])
    with app.test_request_context():
        record_audit("exported", object_type="exporter", object_id=7, label="all customers",
                     changes={"rows": [None, 120]})
        db.session.commit()
    [entry] = entries(app, action="exported")
    assert (entry.object_type, entry.object_id, entry.changes) == ("exporter", 7,
                                                                    {"rows": [None, 120]})


def test_plugin_models_opt_in_field_by_field(make_app: Any) -> None:
    """Groups (a webhook address is where data leaves) and lead rules and forms opt in with
    ``__audit__``; a lead rule's turn counter (``__audit_skip__``) is left out."""
    app = make_app(plugins=["leads", "groups"], config={"outbound_allowed_hosts": ["127.0.0.1"]})
    client = app.test_client()
    headers = token_headers(app, "marketer")
    made = client.post("/api/v1/groups/", json={"name": "North", "webhook_url":
                                                "http://127.0.0.1:9/hook"}, headers=headers)
    assert made.status_code == 201, made.get_json()
    [entry] = entries(app, object_type="groups_group", object_id=made.get_json()["id"])
    assert entry.action == "create" and entry.actor == "marketer"
    assert entry.changes["webhook_url"] == [None, "http://127.0.0.1:9/hook"]
    from conveyor.plugins.leads.models import LeadRule
    from conveyor.plugins.leads.services import create_lead

    with app.app_context():
        rule = LeadRule(name="RR", rr_cursor=0, strategy="round_robin")
        db.session.add(rule)
        db.session.commit()
        rule_id = rule.id
        rule.rr_cursor = 5
        db.session.commit()
        create_lead({"email": "x@example.com"}, source="web")
        db.session.commit()
    rule_entries = entries(app, object_type="leads_rule", object_id=rule_id)
    assert [e.action for e in rule_entries] == ["create"]
    assert "rr_cursor" not in rule_entries[0].changes
