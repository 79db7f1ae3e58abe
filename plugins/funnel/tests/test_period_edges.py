"""Period edges: a deal won, or reaching a stage, exactly at 00:00 on the 1st counts in the new
month only — in the funnel, the conversion and the five numbers, API and pages alike."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from conveyor import crm, db
from conveyor.models import Deal, Stage, StageHistory, User

EDGE = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
FEB = {"from": "2026-02-01", "to": "2026-02-28"}
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def edge(app, users):
    """One deal reaching the second stage and won exactly at the edge; one won a microsecond
    before it (the last moment of February)."""
    with app.app_context():
        seller = db.session.get(User, users["seller"])
        stages = list(db.session.scalars(select(Stage).order_by(Stage.position)))
        second, won = stages[1], next(s for s in stages if s.is_won)
        customer = crm.create_customer({"name": "Edge"}, seller)
        db.session.flush()
        ids = {}
        for name, at in (("edge", EDGE), ("before", EDGE - timedelta(microseconds=1))):
            deal = crm.create_deal({"customer_id": customer.id, "title": name,
                                    "stage": stages[0]}, seller)
            db.session.flush()
            crm.move_deal(deal, second, seller)
            crm.move_deal(deal, won, seller)
            db.session.flush()
            db.session.execute(update(StageHistory).where(StageHistory.deal_id == deal.id)
                               .values(at=at - timedelta(days=40)))
            db.session.execute(update(StageHistory).where(
                StageHistory.deal_id == deal.id, StageHistory.to_stage_id.in_(
                    [second.id, won.id])).values(at=at))
            # As conveyor.crm keeps them: a closed deal entered its stage when it closed.
            db.session.execute(update(Deal).where(Deal.id == deal.id).values(
                closed_at=at, stage_entered_at=at, created_at=at - timedelta(days=40)))
            ids[name] = deal.id
        # Rows rewritten with bulk SQL, past the ORM: the funnel's summaries are rebuilt, as
        # after any such load.
        from conveyor.plugins.funnel.summaries import rebuild

        rebuild(db.session.connection())
        db.session.commit()
        return {"second": second.id, "won": won.id, **ids}


def get(app, api_headers, path, period):
    response = app.test_client().get(path, query_string={"owner": "all", **period},
                                     headers=api_headers("admin"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_funnel_counts_the_edge_in_the_new_month(app, api_headers, edge):
    for period, expected in ((FEB, 1), (MARCH, 1)):  # one deal each side of the edge
        stages = {s["stage_id"]: s for s in get(app, api_headers, "/api/v1/funnel",
                                                period)["stages"]}
        assert stages[edge["won"]]["count"] == expected
        assert stages[edge["second"]]["reached"] == expected
    april = {s["stage_id"]: s for s in get(app, api_headers, "/api/v1/funnel",
                                           {"from": "2026-04-01", "to": "2026-04-30"})["stages"]}
    assert april[edge["won"]]["count"] == 0 and april[edge["second"]]["reached"] == 0


def test_the_drilldown_lists_the_edge_deal_in_march_only(app, edge, login_as):
    """Which deal is counted, not only how many: the reached drill-down lists it."""
    def listed(period):
        response = login_as("admin").get("/funnel/deals", query_string={
            "owner": "all", "stage": edge["second"], "kind": "reached", **period,
            "format": "csv"})
        assert response.status_code == 200
        return {line.split(",")[0].lstrip("\ufeff") for line in
                response.get_data(as_text=True).splitlines()[1:]}

    march, feb = listed(MARCH), listed(FEB)
    assert any("edge" in row for row in march) and not any("before" in row for row in march)
    assert any("before" in row for row in feb) and not any("edge" in row for row in feb)


def test_conversion_and_five_numbers_agree(app, api_headers, edge):
    for period in (FEB, MARCH):
        conversion = get(app, api_headers, "/api/v1/funnel/conversion", period)
        assert conversion["won"] == 1
        five = get(app, api_headers, "/api/v1/funnel/five-numbers", period)
        assert five["total"]["current"]["closed"] == 1
    five = get(app, api_headers, "/api/v1/funnel/five-numbers", MARCH)
    assert five["total"]["previous"]["closed"] == 1  # February: the one before the edge
