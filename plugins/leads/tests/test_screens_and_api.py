"""Lists, cards, API, widgets, permissions and record rules, hooks for other plugins."""
from __future__ import annotations

import html
from datetime import timedelta

from sqlalchemy import select

from conveyor import db
from conveyor.plugins.leads.models import Lead
from conveyor.plugins.leads.services import create_lead
from conveyor.types import utcnow


def seed(app, users, n=3):
    with app.app_context():
        ids = {}
        for owner in ("seller", "seller2", "seller3"):
            for i in range(n):
                lead = create_lead({"company": f"{owner} firm {i}", "email": f"{owner}{i}@x.co"},
                                   source="expo" if i % 2 else "website",
                                   owner_id=users[owner])
                ids.setdefault(owner, []).append(lead.id)
        ids["none"] = [create_lead({"email": "nobody@x.co"}, source="website").id]
        db.session.commit()
        return ids


def test_seller_sees_only_own_leads(app, users, login_as):
    ids = seed(app, users)
    client = login_as("seller")
    html = client.get("/leads/").get_data(as_text=True)
    assert "seller firm 0" in html and "seller2 firm" not in html and "nobody@x.co" not in html
    assert client.get(f"/leads/{ids['seller2'][0]}").status_code == 404
    assert client.get(f"/leads/{ids['seller'][0]}").status_code == 200


def test_manager_sees_the_team_and_the_unassigned(app, users, login_as):
    ids = seed(app, users)
    html = login_as("manager").get("/leads/?owner=none").get_data(as_text=True)
    assert "nobody@x.co" in html
    team = login_as("manager").get("/leads/").get_data(as_text=True)
    assert "seller2 firm" in team and "seller3 firm" not in team
    assert login_as("manager").get(f"/leads/{ids['seller3'][0]}").status_code == 404


def test_list_filters_and_search(app, users, login_as):
    seed(app, users)
    client = login_as("admin")
    assert "seller2 firm 1" in client.get("/leads/?q=SELLER2 firm 1").get_data(as_text=True)
    expo = client.get("/leads/?source=expo").get_data(as_text=True)
    assert "firm 1" in expo and "firm 0" not in expo
    own = client.get(f"/leads/?owner={users['seller3']}").get_data(as_text=True)
    assert "seller3 firm" in own and "seller firm" not in own
    assert "No leads match." in client.get("/leads/?status=converted").get_data(as_text=True)


def test_list_query_count_does_not_grow_with_rows(app, users, login_as, count_queries):
    client = login_as("manager")
    seed(app, users, n=1)
    client.get("/leads/")
    with count_queries() as few:
        assert client.get("/leads/").status_code == 200
    seed_more = seed  # another 3 per seller, plus more unassigned
    with app.app_context():
        for i in range(30):
            create_lead({"email": f"bulk{i}@x.co"}, source="web", owner_id=users["seller2"])
        db.session.commit()
    with count_queries() as many:
        assert client.get("/leads/").status_code == 200
    assert len(many) == len(few), (len(few), len(many))
    assert seed_more


def test_card_query_count_is_bounded(app, users, login_as, count_queries):
    ids = seed(app, users, n=1)
    client = login_as("seller")
    client.get(f"/leads/{ids['seller'][0]}")
    with count_queries() as queries:
        client.get(f"/leads/{ids['seller'][0]}")
    assert len(queries) <= 12


def test_pagination_is_keyset(app, users, login_as):
    with app.app_context():
        for i in range(60):
            create_lead({"email": f"p{i}@x.co"}, source="web", owner_id=users["seller"])
        db.session.commit()
    client = login_as("seller")
    first = client.get("/leads/").get_data(as_text=True)
    assert "p59@x.co" in first and 'rel="next"' in first
    nxt = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    assert "p0@x.co" in client.get(nxt).get_data(as_text=True)


def test_create_and_edit_screens(app, users, login_as):
    client = login_as("seller")
    bad = client.post("/leads/new", data={"email": "nope", "phone": "12"})
    assert bad.status_code == 400 and "Enter a valid phone number" in bad.get_data(as_text=True)
    ok = client.post("/leads/new", data={"company": "New Co", "email": "n@new.example",
                                         "source": "fair"})
    assert ok.status_code == 302
    with app.app_context():
        lead = db.session.scalar(select(Lead))
        assert lead.created_by_id == users["seller"]
    edit = client.post(f"/leads/{lead.id}/edit", data={"company": "New Co 2",
                                                        "email": "n@new.example"})
    assert edit.status_code in (302, 404)  # 404 when the rules gave the lead to someone else


def test_screens_require_a_csrf_token(make_app, users):
    app = make_app(plugins=["leads"])
    from conveyor.testing import client_as
    response = client_as(app, "seller").post("/leads/new", data={"company": "X"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Lead)) is None


def test_activity_logging(app, users, login_as):
    ids = seed(app, users, n=1)
    client = login_as("seller")
    response = client.post(f"/leads/{ids['seller'][0]}/activities",
                           data={"kind": "call", "note": "Left a voicemail"})
    assert response.status_code == 302
    assert "Left a voicemail" in client.get(f"/leads/{ids['seller'][0]}").get_data(as_text=True)
    empty = client.post(f"/leads/{ids['seller'][0]}/activities", data={"kind": "call"})
    assert empty.status_code == 400


def test_admin_manages_forms_and_rules_and_gets_a_snippet(app, users, login_as):
    admin = login_as("admin")
    rule = admin.post("/leads/rules/new", data={
        "name": "Web RR", "position": "10", "strategy": "round_robin", "active": "y",
        "sellers": [str(users["seller"]), str(users["seller2"])]})
    assert rule.status_code == 302
    bad = admin.post("/leads/forms/new", data={"key": "Bad Key!", "name": "x",
                                               "fields": ["email"]})
    assert bad.status_code == 400 and "Lower-case letters" in bad.get_data(as_text=True)
    saved = admin.post("/leads/forms/new", data={
        "key": "contact", "name": "Contact us", "source": "site", "fields": ["name", "email"],
        "required": ["email"], "allowed_origins": "https://www.example.com", "rule_id": "1",
        "active": "y"})
    assert saved.status_code == 302
    snippet = html.unescape(admin.get(saved.headers["Location"]).get_data(as_text=True))
    assert 'action="http://localhost/public/leads/contact"' in snippet
    assert 'name="website"' in snippet and '<input name="email" type="email" required>' in snippet
    assert admin.get("/leads/rules/").status_code == 200
    assert login_as("manager").get("/leads/forms/").status_code == 403


def test_api_crud_assign_convert(app, users, api_headers):
    seller, manager = api_headers("seller"), api_headers("manager")
    created = app.test_client().post("/api/v1/leads", json={
        "company": "Api Co", "email": "api@co.example", "source": "partner"}, headers=seller)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert "owner_id" in body and body["source"] == "partner"
    lead_id = body["id"]
    client = app.test_client()
    assigned = client.post(f"/api/v1/leads/{lead_id}/assign", json={"owner_id": users["seller"]},
                           headers=manager)
    assert assigned.status_code == 200 and assigned.get_json()["owner_id"] == users["seller"]
    assert client.post(f"/api/v1/leads/{lead_id}/assign", json={"owner_id": users["seller"]},
                       headers=seller).status_code == 403
    listing = client.get("/api/v1/leads?q=api&status=new", headers=seller).get_json()
    assert [i["id"] for i in listing["items"]] == [lead_id]
    bad = client.patch(f"/api/v1/leads/{lead_id}", json={"status": "disqualified"},
                       headers=seller)
    assert bad.status_code == 422
    for status in ("in_progress", "qualified"):
        assert client.patch(f"/api/v1/leads/{lead_id}", json={"status": status},
                            headers=seller).status_code == 200
    converted = client.post(f"/api/v1/leads/{lead_id}/convert", json={}, headers=seller)
    assert converted.status_code == 201, converted.get_json()
    out = converted.get_json()
    assert out["lead"]["status"] == "converted" and out["deal_id"] and out["customer_id"]
    history = client.get(f"/api/v1/leads/{lead_id}/history", headers=seller).get_json()
    assert {a["reason"] for a in history["assignments"]} >= {"manual"}
    assert client.get(f"/api/v1/leads/{lead_id}", headers=api_headers("seller2")).status_code \
        == 404


def test_api_duplicate_create_is_merged(app, api_headers):
    headers = api_headers("marketer")
    client = app.test_client()
    first = client.post("/api/v1/leads", json={"email": "dup@x.co"}, headers=headers).get_json()
    second = client.post("/api/v1/leads", json={"email": "DUP@x.co", "name": "D"},
                         headers=headers).get_json()
    assert second["id"] == first["id"] and second["merged"] is True
    assert client.post("/api/v1/leads", json={"notes": "x"}, headers=headers).status_code == 422


def test_widgets_render_for_each_role(app, users, login_as):
    seed(app, users)
    with app.app_context():
        old = db.session.get(Lead, 1)
        old.assigned_at = utcnow() - timedelta(days=30)
        db.session.commit()
    seller = login_as("seller").get("/").get_data(as_text=True)
    assert "widget-leads-my-new" in seller and "seller firm 0" in seller
    marketer = login_as("marketer").get("/").get_data(as_text=True)
    assert "widget-leads-new-and-sources" in marketer and "expo" in marketer
    manager = login_as("manager").get("/").get_data(as_text=True)
    assert "widget-leads-unassigned-stale" in manager and "nobody@x.co" in manager
    assert "seller firm 0" in manager  # stale: assigned 30 days ago, never followed up


def test_nav_item_for_roles_with_leads_view(login_as):
    assert 'data-nav="leads"' in login_as("seller").get("/").get_data(as_text=True)
    assert 'data-nav="leads"' not in login_as("lawyer").get("/").get_data(as_text=True)


def test_funnel_and_relationship_hooks(app, users):
    from conveyor.models import Customer
    from conveyor.plugins.leads import plugin

    seed(app, users, n=2)
    with app.app_context():
        start, end = utcnow() - timedelta(days=1), utcnow() + timedelta(days=1)
        counts = plugin.funnel_lead_counts(start, end, None)
        assert counts == {users["seller"]: 2, users["seller2"]: 2, users["seller3"]: 2, None: 1}
        assert plugin.funnel_lead_counts(start, end, [users["seller"]]) == {users["seller"]: 2}
        customer = Customer(name="Linked", owner_id=users["seller"])
        db.session.add(customer)
        db.session.flush()
        create_lead({"email": "linked@x.co", "customer_id": customer.id}, source="call")
        db.session.commit()
        [query] = plugin.relationship_interest([customer.id])
        rows = db.session.execute(query).all()
        assert [r[0] for r in rows] == [customer.id]
        assert len(db.session.execute(plugin.relationship_interest(None)[0]).all()) == 1


def test_demo_seeds_the_website_form_with_round_robin_over_the_sellers(app, users):
    import random

    from conveyor.models import User
    from conveyor.plugins.leads import plugin
    from conveyor.plugins.leads.models import LeadForm, LeadRule
    with app.app_context():
        people = {name: db.session.get(User, uid) for name, uid in users.items()}
        sellers = [people[n] for n in ("seller", "seller2", "seller3")]
        plugin.seed_demo_data(session=db.session, users={**people, "sellers": sellers},
                              rng=random.Random(1))
        db.session.commit()
        form = db.session.scalar(select(LeadForm).where(LeadForm.key == "website"))
        rule = db.session.get(LeadRule, form.rule_id)
        assert rule.strategy == "round_robin"
        assert sorted(s.user_id for s in rule.sellers) == sorted(u.id for u in sellers)
        owners = list(db.session.scalars(select(Lead.owner_id).order_by(Lead.id)))
        assert len(owners) == 8 and set(owners) == {u.id for u in sellers}


def test_lead_counts_by_period_match_one_period_at_a_time_in_one_statement(app, users):
    """The five numbers' trend: each period's counts equal the single-period hook's."""
    from conveyor.plugins.leads import plugin
    from conveyor.testing import query_counter

    seed(app, users, n=2)
    with app.app_context():
        now = utcnow()
        leads = list(db.session.scalars(select(Lead).order_by(Lead.id)))
        for i, lead in enumerate(leads):  # spread over the last four days
            lead.created_at = now - timedelta(days=i % 4, hours=1)
        db.session.commit()
        bounds = [now - timedelta(days=4), now - timedelta(days=2, hours=12),
                  now - timedelta(days=1), now + timedelta(days=1)]
        with query_counter(app) as statements:
            trend = plugin.funnel_lead_counts_by_period(bounds, None)
        assert len(statements) == 1
        assert trend == [plugin.funnel_lead_counts(a, b, None)
                         for a, b in zip(bounds, bounds[1:])]
        assert sum(sum(t.values()) for t in trend) == len(leads) > 0
        assert len([t for t in trend if t]) >= 2
        mine = plugin.funnel_lead_counts_by_period(bounds, [users["seller"]])
        assert mine == [plugin.funnel_lead_counts(a, b, [users["seller"]])
                        for a, b in zip(bounds, bounds[1:])]
