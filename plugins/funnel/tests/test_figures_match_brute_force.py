"""Every figure the SQL computes equals a brute-force recomputation over the same rows.

Runs on SQLite, and on PostgreSQL when CONVEYOR_TEST_DATABASE_URL is set."""
from __future__ import annotations

from datetime import timedelta

import pytest

from conveyor.plugins.funnel import dwell as dwell_mod
from conveyor.plugins.funnel.five import five_numbers
from conveyor.plugins.funnel.metrics import conversion, funnel, outcomes
from conveyor.plugins.funnel.periods import Period, current, period_of
from conveyor.plugins.funnel.sqlparts import load_pipeline

SECONDS = 1.0  # SQLite's julianday arithmetic is exact to about a millisecond


def periods(world):
    today = world.now.date()
    return [current("month", today), current("month", today).previous(),
            period_of("quarter", today).previous(), current("year", today),
            Period(today - timedelta(days=45), today + timedelta(days=1)),
            Period(today - timedelta(days=800), today + timedelta(days=30))]


def scopes(users):
    return [None, [users["seller"]], [users["seller"], users["seller2"]], []]


def close(a, b, tol=SECONDS):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol + 1e-9 * abs(b)


def exact(got, expected):
    """Days computed from whole hours (or seconds) equal the brute force's, and so does the
    figure as the pages show it (one decimal)."""
    if got is None or expected is None:
        return got is None and expected is None
    return abs(got - expected) <= 1e-9 * max(1.0, abs(expected)) \
        and f"{got:.1f}" == f"{expected:.1f}"


def test_funnel_counts_amounts_weighted_and_reached(ctx, world, brute, users):
    pipe = load_pipeline()
    for period in periods(world):
        for owners in scopes(users):
            expected = brute.funnel(period, owners)
            result = funnel(pipe, period, owners)
            for row in result.rows + result.lost:
                e = expected[row.stage.id]
                got = {"count": row.count, "amount": row.amount,
                       "weighted": row.weighted_amount,
                       "reached": row.reached if not row.stage.is_lost else 0}
                assert got == e, (period, owners, row.stage.name)


def test_funnel_data_is_not_trivial(ctx, world, brute):
    period = Period(world.now.date() - timedelta(days=400), world.now.date() + timedelta(days=1))
    figures = brute.funnel(period, None)
    assert sum(f["reached"] > 0 for f in figures.values()) >= 8
    assert sum(f["count"] > 0 for f in figures.values()) >= 8


def test_conversion_counts_skips_as_passing(ctx, world, brute, users):
    pipe = load_pipeline()
    for period in periods(world):
        for owners in scopes(users):
            expected = brute.funnel(period, owners)
            result = conversion(pipe, period, owners)
            for step in result.steps:
                assert step.entered == expected[step.source.id]["reached"]
                assert step.passed == expected[step.target.id]["reached"]
                assert step.passed <= step.entered
            won = next(s for s in pipe.stages if s.is_won)
            assert result.overall.passed == expected[won.id]["reached"]
            drops = [expected[a.id]["reached"] - expected[b.id]["reached"]
                     for a, b in zip(pipe.funnel_stages, pipe.funnel_stages[1:])]
            if max(drops) > 0:
                assert result.worst.dropped == max(drops)
                assert result.steps.index(result.worst) == drops.index(max(drops))
            else:
                assert result.worst is None


def test_dwell_median_p90_mean_per_stage(ctx, world, brute, users):
    pipe = load_pipeline()
    checked = 0
    for period in periods(world):
        for owners in scopes(users):
            expected = brute.dwell(period, owners)
            for row in dwell_mod.dwell(pipe, period, owners):
                e = expected.get(row.stage.id)
                if e is None:
                    assert row.stays == 0 and row.median_days is None
                    continue
                assert row.stays == e["n"]
                assert exact(row.median_days, e["median"])
                assert exact(row.p90_days, e["p90"])
                assert exact(row.mean_days, e["mean"])
                checked += 1
    assert checked > 20


def test_win_rate_cycle_and_lost_reasons(ctx, world, brute, users):
    pipe = load_pipeline()
    for period in periods(world):
        for owners in scopes(users):
            e = brute.outcomes(period, owners)
            got = outcomes(pipe, period, owners)
            assert (got.won, got.lost) == (e["won"], e["lost"])
            assert got.win_rate == (e["won"] / (e["won"] + e["lost"])
                                    if e["won"] + e["lost"] else None)
            assert exact(got.cycle_median_days, e["median"])
            assert exact(got.cycle_mean_days, e["mean"])
            assert {r: (n, a.amount) for r, n, a in got.lost_reasons} == e["reasons"]


@pytest.mark.parametrize("committed", [60, 20])
def test_five_numbers_per_seller_and_previous_period(ctx, world, brute, users, committed):
    ctx.app.extensions["conveyor"].settings["funnel.committed_percent"] = committed
    pipe = load_pipeline()
    for period in periods(world):
        for owners in scopes(users):
            result = five_numbers(pipe, period, owners, now=world.now)
            for which, p in (("current", period), ("before", period.previous())):
                expected = brute.five(p, owners, committed)
                got = {o: {"closed": f.closed, "committed": f.committed,
                           "opportunities": f.opportunities}
                       for o, f in getattr(result, which).items()}
                assert got == expected, (which, p, owners)
                total = result.total(which)
                assert total.closed == sum(v["closed"] for v in expected.values())
                assert total.opportunities == sum(v["opportunities"] for v in expected.values())
            assert not result.leads_available and not result.visits_available


def test_stalled_deals_exceed_their_stage_p90(ctx, world, brute, users):
    pipe = load_pipeline()
    now = world.now
    limits = brute.thresholds(now)
    assert limits, "the generated data must give every open stage some completed stays"
    for owners in scopes(users):
        expected = {d["id"] for d in brute.deals(owners)
                    if brute.stage[d["stage_id"]].is_open and d["stage_id"] in limits
                    and (now - d["stage_entered_at"]).total_seconds() > limits[d["stage_id"]]}
        rows, total = dwell_mod.stalled(pipe, owners, limit=None, now=now)
        assert {r.id for r in rows} == expected
        assert total == len(expected)
        for r in rows:
            assert r.days > r.threshold_days
            assert close(r.threshold_days * 86400, limits[r.stage.id])
        assert [r.entered_at for r in rows] == sorted(r.entered_at for r in rows)


def test_stalled_threshold_setting_overrides_p90(ctx, world, brute):
    pipe = load_pipeline()
    negotiation = next(s for s in pipe.stages if s.name == "Negotiation")
    first = pipe.open_stages[0]
    ctx.app.extensions["conveyor"].settings["funnel.stalled_days"] = {
        "Negotiation": 3, str(first.id): 1000}
    limits = dwell_mod.thresholds(pipe)
    assert limits[negotiation.id] == (3 * 86400, "setting")
    assert limits[first.id] == (1000 * 86400, "setting")
    rows, _total = dwell_mod.stalled(pipe, None, limit=None, now=world.now)
    expected = {d["id"] for d in world.deals if d["stage_id"] == negotiation.id
                and (world.now - d["stage_entered_at"]).total_seconds() > 3 * 86400}
    assert {r.id for r in rows if r.stage.id == negotiation.id} == expected
    assert not [r for r in rows if r.stage.id == first.id]
