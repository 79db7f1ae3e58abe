"""Saved filters in SQL, the CSV export (encodings, BOM, formulas) and unsubscribes."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from sqlalchemy import select, update

from conveyor import crm
from conveyor.extensions import db
from conveyor.models import Customer, Stage, User
from conveyor.testing import client_as


def _rows(response):
    assert response.status_code == 200, response.data[:500]
    assert response.mimetype == "text/csv"
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel opens Cyrillic and Chinese
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def _group(api, **body):
    made = api("marketer").post("/api/v1/groups/", json={"name": "G", **body})
    assert made.status_code == 201, made.json
    return made.json["id"]


def test_export_is_utf8_with_bom_and_keeps_cyrillic_and_chinese(app, api, make_customer):
    make_customer("ООО «Ромашка»", region="Москва", industry="Торговля",
                  contacts=[("Иван Петров", "ivan@romashka.ru", "+7 495 123-45-67")])
    make_customer("上海贸易有限公司", region="上海", industry="贸易",
                  contacts=[("王伟", "wang@shanghai.cn", "+86 21 5555 0101")])
    gid = _group(api)
    response = api("marketer").get(f"/api/v1/groups/{gid}/export")
    assert response.is_streamed
    rows = _rows(response)
    assert list(rows[0]) == ["email", "name", "company", "phone", "region", "industry"]
    assert {(r["name"], r["company"], r["region"]) for r in rows} == {
        ("Иван Петров", "ООО «Ромашка»", "Москва"), ("王伟", "上海贸易有限公司", "上海")}
    assert {r["phone"] for r in rows} == {"+7 495 123-45-67", "+86 21 5555 0101"}


def test_formulas_are_neutralised_but_phones_are_not(app, api, make_customer):
    make_customer("=HYPERLINK(\"http://x\")", contacts=[("@SUM(A1)", "a@x.io", "-1+2")])
    (row,) = _rows(api("marketer").get(f"/api/v1/groups/{_group(api)}/export"))
    assert row["company"].startswith("'=") and row["name"].startswith("'@")
    assert row["phone"] == "'-1+2"


def test_saved_filters_select_in_sql(app, api, make_customer, count_queries):
    a = make_customer("Alpha", industry="Retail", region="North", size="11-50",
                      contacts=[("A", "a@alpha.io", "")])
    make_customer("Beta", industry="Retail", region="South", contacts=[("B", "b@beta.io", "")])
    make_customer("Gamma", industry="Mining", region="North", owner="seller2",
                  contacts=[("G", "g@gamma.io", "")])
    make_customer("Delta", industry="Retail", region="North", contacts=[])  # nobody to mail
    with app.app_context():
        seller = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        stage = db.session.scalar(select(Stage).where(Stage.is_won.is_(False),
                                                      Stage.is_lost.is_(False)))
        crm.create_deal({"title": "Open", "customer_id": a, "stage": stage}, seller)
        db.session.execute(update(Customer).where(Customer.name == "Gamma").values(
            created_at=datetime(2025, 3, 1, tzinfo=UTC)))
        db.session.commit()

    def emails(**filters):
        gid = _group(api, filters=filters)
        return sorted(r["email"] for r in _rows(api("marketer").get(
            f"/api/v1/groups/{gid}/export")))

    assert emails(industry="Retail") == ["a@alpha.io", "b@beta.io"]
    assert emails(industry="Retail", region="North") == ["a@alpha.io"]
    assert emails(size="11-50") == ["a@alpha.io"]
    assert emails(owner_id=app.config["TEST_USER_IDS"]["seller2"]) == ["g@gamma.io"]
    assert emails(has_open_deal=True) == ["a@alpha.io"]
    assert emails(has_open_deal=False) == ["b@beta.io", "g@gamma.io"]
    assert emails(created_from="2025-01-01", created_to="2025-12-31") == ["g@gamma.io"]
    gid = _group(api, filters={"industry": "Retail", "region": "North"})
    with count_queries() as statements:
        api("marketer").get(f"/api/v1/groups/{gid}/export").get_data()
    selects = [s for s in statements if "FROM contacts" in s]
    assert selects and all("customers.industry = " in s and "customers.region = " in s
                           for s in selects)


def test_members_are_evaluated_at_export_time(app, api, make_customer):
    gid = _group(api, filters={"region": "Москва"})
    assert _rows(api("marketer").get(f"/api/v1/groups/{gid}/export")) == []
    make_customer("Later", region="Москва", contacts=[("L", "l@later.ru", "")])
    assert [r["email"] for r in _rows(api("marketer").get(
        f"/api/v1/groups/{gid}/export"))] == ["l@later.ru"]


def test_unsubscribed_addresses_are_left_out_and_marked(app, api, login_as, make_customer):
    cid = make_customer("Acme", region="North", contacts=[
        ("Kept", "kept@acme.io", ""), ("Gone", "Gone@Acme.io", ""),
        ("Phone only", "", "+7 (495) 765-43-21"), ("Called off", "", "+7 495 111-22-33")])
    marketer = api("marketer")
    assert marketer.post("/api/v1/groups/unsubscribes", json={
        "email": " gone@ACME.io ", "reason": "asked"}).status_code == 201
    refused = login_as("marketer").post("/groups/unsubscribes", data={"phone": "not a phone"})
    assert refused.status_code == 400 and b"Not a valid phone number." in refused.data
    assert login_as("marketer").post("/groups/unsubscribes", data={
        "phone": "84951112233"}).status_code == 302  # national format, read as RU
    again = marketer.post("/api/v1/groups/unsubscribes", json={"email": "gone@acme.io"})
    assert again.status_code == 201 and again.json == []
    gid = _group(api, filters={"region": "North"})
    rows = _rows(marketer.get(f"/api/v1/groups/{gid}/export"))
    assert sorted(r["name"] for r in rows) == ["Kept", "Phone only"]
    page = login_as("marketer").get(f"/groups/{gid}")
    assert page.status_code == 200 and page.data.count(b"tag lost\">unsubscribed") == 2
    members = marketer.get(f"/api/v1/groups/{gid}/members").json["items"]
    (member,) = members
    assert member["id"] == cid
    assert {a["name"]: a["unsubscribed"] for a in member["addresses"]} == {
        "Kept": False, "Gone": True, "Phone only": False, "Called off": True}


def test_group_page_and_export_query_counts_do_not_grow(app, api, login_as, make_customer,
                                                       count_queries):
    for i in range(3):
        make_customer(f"C{i}", region="North", contacts=[(f"p{i}", f"p{i}@x.io", "")])
    gid = _group(api, filters={"region": "North"})
    client = login_as("marketer")
    client.get(f"/groups/{gid}")
    with count_queries() as few_page:
        client.get(f"/groups/{gid}")
    with count_queries() as few_export:
        client.get(f"/groups/{gid}/export.csv").get_data()
    for i in range(3, 30):
        make_customer(f"C{i}", region="North",
                      contacts=[(f"p{i}", f"p{i}@x.io", ""), (f"q{i}", f"q{i}@x.io", "")])
    with count_queries() as many_page:
        page = client.get(f"/groups/{gid}")
    with count_queries() as many_export:
        rows = client.get(f"/groups/{gid}/export.csv").get_data().count(b"@x.io")
    assert rows == 57 and page.data.count(b"@x.io") == 57
    assert len(many_page) == len(few_page) and len(many_export) == len(few_export)


def test_export_streams_in_batches(make_app):
    app = make_app(plugins=["groups"], config={"groups": {"batch_size": 2}})
    from conveyor.models import Contact
    from conveyor.plugins.groups.models import Group

    with app.app_context():
        admin = db.session.get(User, app.config["TEST_USER_IDS"]["admin"])
        c = crm.create_customer({"name": "Many"}, admin)
        for i in range(5):
            db.session.add(Contact(customer=c, name=f"n{i}", email=f"n{i}@x.io"))
        db.session.add(Group(name="All", created_by_id=admin.id, filters={}))
        db.session.commit()
        gid = db.session.scalar(select(Group.id))
    client = client_as(app, "admin")
    response = client.get(f"/groups/{gid}/export.csv")
    chunks = list(response.response)
    assert len(chunks) == 1 + 3  # the header, then batches of 2, 2 and 1
    assert b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks).count(b"@x.io") == 5
    response.close()
