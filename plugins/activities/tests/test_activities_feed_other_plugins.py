"""Visits feed the funnel's five numbers; activities feed the relationships' report — through
those plugins' own API and pages."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conveyor.testing import client_as, token_headers


@pytest.fixture
def world(make_app, records_factory):
    app = make_app(plugins=["funnel", "relationships", "activities"])
    records = records_factory(app)
    from conveyor import db
    from conveyor.models import User
    from conveyor.plugins.activities.services import complete, create_activity

    def held(username: str, kind: str, day: int, **data):
        with app.app_context():
            user = db.session.get(User, app.config["TEST_USER_IDS"][username])
            activity = create_activity({"kind": kind, "title": f"{kind} {day}",
                                        "due_at": datetime(2026, 1, day, 10, tzinfo=UTC),
                                        **data}, by=user)
            complete(activity, by=user, result="held")
            db.session.commit()

    deal = {"deal_id": records["seller_deal"]}
    held("seller", "visit", 5, visit_kind="FSI", **deal)
    held("seller", "visit", 12, visit_kind="FUA", **deal)
    held("seller", "visit", 19, **deal)  # a visit held before: FUA by default
    held("seller", "call", 20, **deal)
    held("seller2", "visit", 7, deal_id=records["seller2_deal"])  # first at this customer
    held("seller", "visit", 25, visit_kind="FSI", customer_id=records["seller_customer"])
    with app.app_context():  # a planned visit is not held: not counted
        user = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        create_activity({"kind": "visit", "title": "planned", **deal,
                         "due_at": datetime(2026, 1, 26, 10, tzinfo=UTC)}, by=user)
        db.session.commit()
    held("seller", "visit", 1, **deal)  # before the asked period: not counted
    return app


def test_the_funnel_counts_visits_held_per_seller_first_and_follow_up(world):
    app = world
    ids = app.config["TEST_USER_IDS"]
    body = app.test_client().get(
        "/api/v1/funnel/five-numbers?owner=all&from=2026-01-02&to=2026-01-31",
        headers=token_headers(app, "admin")).json
    assert body["visits_available"] is True
    by_owner = {s["owner_id"]: s["current"] for s in body["sellers"]}
    assert (by_owner[ids["seller"]]["visits_first"],
            by_owner[ids["seller"]]["visits_follow_up"]) == (2, 2)
    assert (by_owner[ids["seller2"]]["visits_first"],
            by_owner[ids["seller2"]]["visits_follow_up"]) == (1, 0)


def test_a_seller_sees_only_their_own_visits_in_the_funnel(world):
    app = world
    ids = app.config["TEST_USER_IDS"]
    body = app.test_client().get("/api/v1/funnel/five-numbers?from=2026-01-02&to=2026-01-31",
                                 headers=token_headers(app, "seller")).json
    owners = {s["owner_id"] for s in body["sellers"]}
    assert owners <= {ids["seller"]}


def test_the_funnel_page_shows_the_visit_columns_instead_of_hiding_them(world):
    html = client_as(world, "manager").get("/funnel/five").get_data(as_text=True)
    assert 'id="visits-hidden"' not in html
    assert "First visits" in html and "Follow-up visits" in html


def test_the_relationships_report_counts_activities_per_kind_and_type(world):
    app = world
    body = app.test_client().get(
        "/api/v1/relationships/activities?start=2026-01-02&end=2026-01-31",
        headers=token_headers(app, "admin")).json
    assert body["available"] is True
    counts = {(r["activity"], r["type"]): r["count"] for r in body["rows"]}
    # Both customers have an open deal: potential.
    assert counts == {("visit", "potential"): 5, ("call", "potential"): 1}


def test_the_relationships_report_counts_only_the_managers_team(world):
    app = world
    body = app.test_client().get(
        "/api/v1/relationships/activities?start=2026-01-02&end=2026-01-31",
        headers=token_headers(app, "seller2")).json
    assert {(r["activity"], r["count"]) for r in body["rows"]} == {("visit", 1)}


def test_the_relationships_page_shows_the_table(world):
    html = client_as(world, "manager").get(
        "/relationships/?start=2026-01-02&end=2026-01-31").get_data(as_text=True)
    section = html.split('<section class="box" id="activities">')[1].split("</section>")[0]
    assert "Not available" not in section
    assert "<td>Visit</td>" in section


def test_the_five_numbers_trend_counts_visits_as_each_period_does(world):
    """Visits in the trend of the five numbers: each period's totals equal the five numbers of
    that period, and the statements do not grow with the number of periods."""
    from datetime import date

    from conveyor.plugins.funnel.five import five_numbers, five_trend
    from conveyor.plugins.funnel.periods import Period
    from conveyor.plugins.funnel.sqlparts import load_pipeline
    from conveyor.testing import query_counter

    app = world
    now = datetime(2026, 2, 10, tzinfo=UTC)
    with app.test_request_context():
        pipe = load_pipeline()
        period = Period(date(2026, 1, 1), date(2026, 2, 1), "month")
        counted = []
        for n in (2, 6):
            with query_counter(app) as statements:
                trend = five_trend(pipe, period, None, now=now, count=n)
            counted.append(len(statements))
        assert counted[0] == counted[1]
        for p, total in trend:
            expected = five_numbers(pipe, p, None, now=now).total("current")
            assert (total.visits_first, total.visits_follow_up) == (
                expected.visits_first, expected.visits_follow_up), p
        assert trend[-1][1].visits_first + trend[-1][1].visits_follow_up > 0
        assert trend[0][1].visits_first == 0
