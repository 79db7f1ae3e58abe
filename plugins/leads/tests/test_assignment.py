"""Assignment: rules (round robin, least loaded, criteria, time of day, active sellers only),
manual and bulk assignment by a manager, every change recorded with its reason."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from conveyor import db
from conveyor.models import User
from conveyor.plugins.leads.assignment import in_window, pick_owner
from conveyor.plugins.leads.models import Lead, LeadAssignment
from conveyor.plugins.leads.services import create_lead


def owners(app, n, **data):
    with app.app_context():
        out = []
        for i in range(n):
            lead = create_lead({"email": f"p{i}-{data.get('industry', '')}@example.com", **data},
                               source=data.pop("source", "web") if "source" in data else "web")
            out.append(lead.owner_id)
        db.session.commit()
        return out


def test_round_robin_takes_turns(app, make_rule, users):
    make_rule("RR", ["seller", "seller2", "seller3"])
    assert owners(app, 6) == [users[u] for u in ("seller", "seller2", "seller3") * 2]


def test_least_loaded_picks_the_seller_with_fewest_open_leads(app, make_rule, users):
    with app.app_context():
        for i in range(3):  # seller already has three open leads
            create_lead({"email": f"old{i}@example.com"}, source="x", owner_id=users["seller"])
        db.session.commit()
    make_rule("LL", ["seller", "seller2"], strategy="least_loaded")
    assert owners(app, 3) == [users["seller2"]] * 3
    # Level now: a tie is broken by the rule's turn, so the next two go one each.
    assert sorted(owners(app, 2, industry="x")) == sorted([users["seller"], users["seller2"]])


def test_criteria_route_leads_and_first_matching_rule_wins(app, make_rule, users):
    make_rule("IT in Moscow", ["seller3"], position=1, industry="IT, Software", region="moscow")
    make_rule("Everything else", ["seller"], position=5)
    it = owners(app, 1, industry="Software", region="Moscow")
    other = owners(app, 1, industry="Retail", region="Moscow")
    assert it == [users["seller3"]] and other == [users["seller"]]


def test_source_and_size_criteria(app, make_rule, users):
    make_rule("Big from expo", ["seller2"], position=1, source="expo", size="201-1000, 1000+")
    make_rule("Rest", ["seller"], position=2)
    with app.app_context():
        big = create_lead({"email": "b@x.co", "size": "1000+"}, source="expo")
        small = create_lead({"email": "s@x.co", "size": "1-10"}, source="expo")
        db.session.commit()
        assert (big.owner_id, small.owner_id) == (users["seller2"], users["seller"])


def test_time_of_day_window(app, make_rule, users):
    make_rule("Night shift", ["seller3"], position=1, hour_from=22, hour_to=6)
    make_rule("Day", ["seller"], position=2)
    with app.app_context():  # default_timezone is UTC in the test config
        night = pick_owner({}, now=datetime(2026, 1, 5, 23, 30, tzinfo=UTC))
        early = pick_owner({}, now=datetime(2026, 1, 5, 5, 59, tzinfo=UTC))
        day = pick_owner({}, now=datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
        db.session.rollback()
    assert night[0] == early[0] == users["seller3"]
    assert day[0] == users["seller"]
    assert in_window(9, 9, 18) and not in_window(18, 9, 18) and in_window(3, 22, 6)


def test_inactive_sellers_are_skipped(app, make_rule, users):
    make_rule("RR", ["seller", "seller2"])
    with app.app_context():
        db.session.get(User, users["seller"]).active = False
        db.session.commit()
    assert owners(app, 3) == [users["seller2"]] * 3


def test_rule_without_active_sellers_falls_through(app, make_rule, users):
    make_rule("Only seller3", ["seller3"], position=1)
    make_rule("Fallback", ["seller2"], position=2)
    with app.app_context():
        db.session.get(User, users["seller3"]).active = False
        db.session.commit()
    assert owners(app, 1) == [users["seller2"]]


def test_no_matching_rule_leaves_the_lead_unassigned(app, make_rule):
    make_rule("IT only", ["seller"], industry="IT")
    assert owners(app, 1, industry="Retail") == [None]


def test_the_forms_rule_is_tried_first(app, make_rule, make_form, client, users):
    make_rule("General", ["seller"], position=1)
    make_form(rule_id=make_rule("Website", ["seller3"], position=99))
    client.post("/public/leads/website", json={"email": "w@x.co"})
    with app.app_context():
        assert db.session.scalar(select(Lead.owner_id)) == users["seller3"]


def test_every_assignment_is_recorded_with_its_reason(app, make_rule, users, login_as):
    make_rule("RR", ["seller"])
    with app.app_context():
        lead_id = create_lead({"email": "a@b.co"}, source="web").id
        db.session.commit()
    manager = login_as("manager")
    response = manager.post(f"/leads/{lead_id}/assign",
                            data={"owner_id": users["seller2"], "note": "knows them"})
    assert response.status_code == 302
    with app.app_context():
        rows = db.session.execute(select(LeadAssignment.reason, LeadAssignment.owner_id,
                                         LeadAssignment.previous_owner_id, LeadAssignment.by_id)
                                  .order_by(LeadAssignment.id)).all()
    assert rows == [("rule", users["seller"], None, None),
                    ("manual", users["seller2"], users["seller"], users["manager"])]
    card = manager.get(f"/leads/{lead_id}")
    assert b"knows them" in card.data and b"by hand" in card.data and b"by the rules" in card.data


def test_bulk_assignment_by_a_manager(app, users, login_as):
    with app.app_context():
        ids = [create_lead({"email": f"b{i}@x.co"}, source="web").id for i in range(3)]
        db.session.commit()
    response = login_as("manager").post("/leads/assign", data={
        "lead_id": [str(i) for i in ids], "owner_id": users["seller2"], "next": "/leads/"})
    assert response.status_code == 302
    with app.app_context():
        assert set(db.session.scalars(select(Lead.owner_id))) == {users["seller2"]}
        assert db.session.query(LeadAssignment).count() == 3


def test_manager_cannot_assign_outside_the_team(app, users, login_as):
    with app.app_context():
        lead_id = create_lead({"email": "t@x.co"}, source="web").id
        db.session.commit()
    response = login_as("manager").post(f"/leads/{lead_id}/assign",
                                        data={"owner_id": users["seller3"]})
    assert response.status_code == 400  # seller3 is in the South team
    with app.app_context():
        assert db.session.get(Lead, lead_id).owner_id is None


def test_sellers_may_not_assign(app, users, login_as):
    with app.app_context():
        lead_id = create_lead({"email": "t@x.co"}, source="web", owner_id=users["seller"]).id
        db.session.commit()
    seller = login_as("seller")
    assert seller.post(f"/leads/{lead_id}/assign",
                       data={"owner_id": users["seller2"]}).status_code == 403
    assert seller.post("/leads/assign", data={"lead_id": [str(lead_id)],
                                              "owner_id": users["seller"]}).status_code == 403
