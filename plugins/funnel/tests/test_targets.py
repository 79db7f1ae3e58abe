"""Targets: team splits add up, periods aggregate, plan fulfilment matches the deals, and the
forms and API let managers (only) set them."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from conveyor import db, hookimpl
from conveyor.plugins.funnel.models import FunnelTarget
from conveyor.plugins.funnel.periods import current, period_of
from conveyor.plugins.funnel.plan import plan
from conveyor.plugins.funnel.targets import (
    TargetError,
    even_split,
    set_team_target,
    set_user_target,
    targets_for,
)

D = Decimal


def test_even_split_adds_up_to_the_cent():
    assert even_split(D("100.00"), 3) == [D("33.34"), D("33.33"), D("33.33")]
    assert sum(even_split(D("0.05"), 4)) == D("0.05")
    assert even_split(D("10"), 0) == []


def test_team_target_splits_between_its_sellers(ctx, users):
    team = set_team_target(1, "month", date(2026, 3, 14), D("1000.01"), D("300.00"), "USD", None)
    shares = list(db.session.scalars(select(FunnelTarget).where(FunnelTarget.parent_id == team.id)))
    assert {s.user_id for s in shares} == {users["seller"], users["seller2"]}  # not the manager
    assert sum(s.volume for s in shares) == D("1000.01")
    assert sum(s.margin for s in shares) == D("300.00")
    assert team.period_start == date(2026, 3, 1)


def test_shares_must_add_up_and_nothing_is_half_written(ctx, users):
    with pytest.raises(TargetError, match="add up"):
        set_team_target(1, "month", date(2026, 3, 1), D("100"), D("10"), "USD", None,
                        shares={users["seller"]: (D("60"), D("5")),
                                users["seller2"]: (D("30"), D("5"))})
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(FunnelTarget)) == 0
    with pytest.raises(TargetError, match="team's sellers"):
        set_team_target(1, "month", date(2026, 3, 1), D("100"), D("10"), "USD", None,
                        shares={users["seller3"]: (D("100"), D("10"))})


def test_a_share_changes_only_through_its_team(ctx, users):
    set_team_target(1, "month", date(2026, 3, 1), D("100"), D("10"), "USD", None)
    with pytest.raises(TargetError, match="share of a team target"):
        set_user_target(users["seller"], "month", date(2026, 3, 1), D("1"), D("1"), "USD", None)
    set_user_target(users["seller"], "quarter", date(2026, 1, 1), D("1"), D("1"), "USD", None)


def test_periods_aggregate_upwards(ctx, users):
    seller = users["seller"]
    set_user_target(seller, "month", date(2026, 1, 1), D("100"), D("10"), "USD", None)
    set_user_target(seller, "month", date(2026, 2, 1), D("200"), D("20"), "USD", None)
    set_user_target(seller, "quarter", date(2026, 4, 1), D("1000"), D("100"), "USD", None)
    for period, volume in ((period_of("quarter", date(2026, 1, 1)), D("300")),
                           (period_of("year", date(2026, 1, 1)), D("1300")),
                           (period_of("month", date(2026, 3, 1)), None),
                           (period_of("quarter", date(2026, 4, 1)), D("1000"))):
        target = targets_for([seller], [], period)[0][seller]
        assert (target.volume if target else None) == volume


def test_team_without_own_target_is_the_sum_of_its_members(ctx, users):
    set_user_target(users["seller"], "month", date(2026, 5, 1), D("10"), D("1"), "USD", None)
    set_user_target(users["seller2"], "month", date(2026, 5, 1), D("15"), D("2"), "USD", None)
    rows = plan(period_of("month", date(2026, 5, 1)), [], [1])
    team = rows[0]
    assert team.kind == "team" and team.target.volume == D("25") and team.target.derived


def test_plan_fulfilment_matches_the_deals(ctx, world, brute, users):
    for period in (current("month", world.now.date()), current("year", world.now.date())):
        rows = plan(period, [users["seller"], users["seller3"]], [])
        for row in rows:
            assert (row.signed_volume, row.signed_margin) == brute.signed(period, row.id)
            assert (row.potential, row.forecast) == brute.pipeline_sums(row.id)
    team = plan(current("year", world.now.date()), [], [1])[0]
    members = [users["manager"], users["seller"], users["seller2"], users["assistant"]]
    assert team.potential == sum(brute.pipeline_sums(u)[0] for u in members)


class Invoices:
    @hookimpl
    def funnel_fulfilment(self, start, end, owner_ids):
        return {oid: {"volume": D("123.45"), "margin": D("1.00")} for oid in owner_ids or []}


def test_fulfilment_from_invoices_when_a_plugin_provides_them(make_app, users):
    app = make_app(plugins=["funnel"], extra_plugins=[("invoices", Invoices())],
                   config={"funnel": {"fulfilment_source": "invoices"}})
    with app.test_request_context():
        row = plan(current("month"), [users["seller"]], [])[0]
        assert (row.signed_volume, row.signed_margin) == (D("123.45"), D("1.00"))


def test_without_an_invoice_plugin_the_page_says_so(app, login_as):
    html = login_as("manager").get("/funnel/targets").get_data(as_text=True)
    assert "invoices are unavailable" in html


def test_manager_sets_a_team_target_through_the_form(app, login_as, users, post):
    client = login_as("manager")
    assert client.get("/funnel/targets/team").status_code == 200
    page = client.get("/funnel/targets/team?team_id=1&period_kind=month&period_start=2026-03-01")
    assert page.status_code == 200 and b"share_volume_" in page.data
    bad = post(client, "/funnel/targets/team", {
        "team_id": 1, "period_kind": "month", "period_start": "2026-03-01", "volume": "100",
        "margin": "10", "currency": "USD", f"share_volume_{users['seller']}": "50"})
    assert bad.status_code == 400 and b"Fill in every share" in bad.data
    ok = post(client, "/funnel/targets/team", {
        "team_id": 1, "period_kind": "month", "period_start": "2026-03-01", "volume": "100",
        "margin": "10", "currency": "usd"})
    assert ok.status_code == 302
    html = client.get(ok.headers["Location"]).get_data(as_text=True)
    assert "share of a team target" in html
    assert login_as("seller").get("/funnel/targets/team").status_code == 403


def test_form_errors_show_in_place(app, login_as, users, post):
    client = login_as("manager")
    response = post(client, "/funnel/targets/user", {
        "user_id": users["seller"], "period_kind": "month", "period_start": "2026-03-01",
        "volume": "12.345", "margin": "-1", "currency": "US"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert html.count('class="field-error"') >= 3


def test_api_sets_changes_and_deletes_targets(app, api_headers, users):
    client = app.test_client()
    headers = api_headers("manager")
    created = client.post("/api/v1/funnel/targets", headers=headers, json={
        "team_id": 1, "period_kind": "quarter", "period_start": "2026-04-15",
        "volume": "900.00", "margin": "90.00"})
    assert created.status_code == 201, created.get_json()
    target = created.get_json()
    assert target["period_start"] == "2026-04-01" and target["volume"] == "900.00"
    changed = client.put(f"/api/v1/funnel/targets/{target['id']}", headers=headers, json={
        "volume": "1000.00", "margin": "100.00",
        "shares": [{"user_id": users["seller"], "volume": "700.00", "margin": "50.00"},
                   {"user_id": users["seller2"], "volume": "300.00", "margin": "50.00"}]})
    assert changed.status_code == 200
    bad = client.put(f"/api/v1/funnel/targets/{target['id']}", headers=headers, json={
        "volume": "1000.00", "margin": "100.00",
        "shares": [{"user_id": users["seller"], "volume": "1.00", "margin": "50.00"}]})
    assert bad.status_code == 422
    listed = client.get("/api/v1/funnel/targets?from=2026-04-01&to=2026-06-30",
                        headers=headers).get_json()
    shares = {t["user_id"]: t["volume"] for t in listed["targets"] if t["parent_id"]}
    assert shares == {users["seller"]: "700.00", users["seller2"]: "300.00"}
    share_id = next(t["id"] for t in listed["targets"] if t["parent_id"])
    assert client.delete(f"/api/v1/funnel/targets/{share_id}", headers=headers).status_code == 409
    assert client.delete(f"/api/v1/funnel/targets/{target['id']}",
                         headers=headers).status_code == 204
    assert client.post("/api/v1/funnel/targets", headers=api_headers("seller"), json={
        "user_id": users["seller"], "period_kind": "month", "period_start": "2026-04-01",
        "volume": "1.00", "margin": "1.00"}).status_code == 403
    assert client.post("/api/v1/funnel/targets", headers=headers, json={
        "user_id": users["seller"], "team_id": 1, "period_kind": "month",
        "period_start": "2026-04-01", "volume": "1.00", "margin": "1.00"}).status_code == 422


def test_manager_without_view_all_sets_only_own_teams_targets(make_app, users):
    from conveyor.testing import token_headers

    app = make_app(plugins=["funnel"], config={
        "roles": {"manager": {"remove_permissions": ["funnel.view_all"]}}})
    client = app.test_client()
    headers = token_headers(app, "manager")
    assert client.post("/api/v1/funnel/targets", headers=headers, json={
        "user_id": users["seller3"], "period_kind": "month", "period_start": "2026-04-01",
        "volume": "1.00", "margin": "1.00"}).status_code == 403
    assert client.post("/api/v1/funnel/targets", headers=headers, json={
        "team_id": 2, "period_kind": "month", "period_start": "2026-04-01",
        "volume": "1.00", "margin": "1.00"}).status_code == 403
