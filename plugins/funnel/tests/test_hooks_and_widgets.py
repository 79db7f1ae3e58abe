"""The funnel's own hooks (leads, visits), its home widgets, demo data and manifest."""
from __future__ import annotations

import random
from datetime import UTC, date, datetime

from sqlalchemy import select

from conveyor import db, hookimpl
from conveyor.models import User
from conveyor.plugins.funnel.five import five_numbers
from conveyor.plugins.funnel.models import FunnelTarget
from conveyor.plugins.funnel.periods import Period
from conveyor.plugins.funnel.sqlparts import load_pipeline


class LeadsAndVisits:
    def __init__(self):
        self.calls = []

    @hookimpl
    def funnel_lead_counts(self, start, end, owner_ids):
        self.calls.append((start, end, owner_ids))
        return {5: 7, None: 2, 6: 1}

    @hookimpl
    def funnel_client_visits(self, start, end, owner_ids):
        return {5: {"first": 3, "follow_up": 4}}


def test_leads_and_visits_appear_when_a_plugin_answers(make_app, users):
    impl = LeadsAndVisits()
    app = make_app(plugins=["funnel"], extra_plugins=[("crm_extras", impl)])
    with app.test_request_context():
        period = Period(date(2026, 1, 1), date(2026, 2, 1), "month")
        result = five_numbers(load_pipeline(), period, [5], now=datetime.now(UTC))
        assert result.leads_available and result.visits_available
        assert result.current[5].leads == 7 and 6 not in result.current
        assert (result.current[5].visits_first, result.current[5].visits_follow_up) == (3, 4)
        assert impl.calls[0] == (period.start_dt, period.end_dt, [5])
        assert impl.calls[1][0] == datetime(2025, 12, 1, tzinfo=UTC)
    from conveyor.testing import client_as

    html = client_as(app, "admin").get("/funnel/five?owner=all").get_data(as_text=True)
    assert "<th class=\"num\">Leads</th>" in html and 'id="leads-hidden"' not in html


def test_without_providers_leads_and_visits_are_hidden_and_said_so(app, login_as):
    html = login_as("seller").get("/funnel/five").get_data(as_text=True)
    assert 'id="leads-hidden"' in html and 'id="visits-hidden"' in html
    assert "<th class=\"num\">Leads</th>" not in html


def test_home_shows_both_widgets_to_sellers_and_managers(world, login_as):
    for who in ("seller", "manager"):
        html = login_as(who).get("/").get_data(as_text=True)
        assert 'id="widget-plan-fulfilment"' in html and 'id="widget-stalled-deals"' in html
    html = login_as("seller").get("/").get_data(as_text=True)
    widget = html[html.index('id="widget-stalled-deals"'):].split("</section>")[0]
    assert "Stalled deals (" in widget and "/deals/" in widget


def test_nav_item_only_for_those_who_may_see_the_funnel(app, login_as):
    assert 'data-nav="funnel"' in login_as("seller").get("/").get_data(as_text=True)
    assert 'data-nav="funnel"' not in login_as("marketer").get("/").get_data(as_text=True)


def test_seed_demo_data_sets_this_months_and_quarters_targets(app, users):
    with app.test_request_context():
        people = {name: db.session.get(User, uid) for name, uid in users.items()}
        people["sellers"] = [people["seller"], people["seller2"], people["seller3"]]
        app.extensions["conveyor"].hook.seed_demo_data(session=db.session, users=people,
                                                       rng=random.Random(1))
        db.session.commit()
        rows = list(db.session.scalars(select(FunnelTarget)))
        teams = {r.team_id for r in rows if r.team_id}
        assert teams == {1, 2}
        quarters = {r.user_id for r in rows if r.period_kind == "quarter"}
        assert quarters == {users["seller"], users["seller2"], users["seller3"]}


def test_manifest_names_the_hookspecs(app):
    state = app.extensions["conveyor"]
    funnel = next(p for p in state.plugins if p.name == "funnel")
    assert funnel.manifest.hookspecs.__name__.endswith("funnel.hookspecs")
    for name in ("funnel_lead_counts", "funnel_client_visits", "funnel_fulfilment"):
        assert getattr(state.pm.hook, name).get_hookimpls() == []


def test_register_api_blueprints_mounts_the_documented_api(app):
    impl = next(i for i in app.extensions["conveyor"].pm.hook.register_api_blueprints
                .get_hookimpls() if i.plugin_name == "funnel")
    (blueprint,) = impl.function(api=app.extensions["conveyor_api"])
    assert blueprint.url_prefix == "/api/v1/funnel"
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    for path in ("", "/conversion", "/dwell", "/stalled", "/five-numbers", "/targets",
                 "/targets/{target_id}"):
        assert f"/api/v1/funnel{path}" in spec["paths"], path
