"""The funnel's charts: each is drawn on its page from the figures its table shows, those match
the brute-force recomputation, the statements behind a page do not grow with the periods drawn,
and an empty selection is a sentence, not an empty drawing.

Runs on SQLite, and on PostgreSQL when CONVEYOR_TEST_DATABASE_URL is set."""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

from conveyor.plugins.funnel.five import five_trend, trend_periods
from conveyor.plugins.funnel.periods import Period, add_months, current
from conveyor.plugins.funnel.sqlparts import load_pipeline
from conveyor.testing import query_counter

from .conftest import in_period, quant


def section(html: str, marker: str, end: str = "</figure>") -> str:
    part = html[html.index(marker):]
    return part[:part.index(end)]


def chart_values(html: str, chart_id: str) -> dict[str, list[float]]:
    """``data-key`` → the values a chart's bars were drawn from."""
    chart = section(html, f'id="{chart_id}"')
    return {k: [float(v) for v in vals.split(";")] for k, vals in
            re.findall(r'class="chart-row" data-key="([^"]*)" data-values="([^"]*)"', chart)}


def test_funnel_chart_by_count_and_amount_matches_table_and_brute_force(world, login_as,
                                                                        users, brute):
    html = login_as("seller").get("/funnel/?from=2020-01-01&to=2029-12-31").get_data(as_text=True)
    period = Period(date(2020, 1, 1), date(2030, 1, 1))
    expected = brute.funnel(period, [users["seller"]])
    counts = chart_values(html, "funnel-chart-count")
    amounts = chart_values(html, "funnel-chart-amount")
    open_ids = [str(s.id) for s in brute.pipe.open_stages]
    assert list(counts) == open_ids == list(amounts)
    table = section(html, 'id="funnel-table"', "</table>")
    for sid in open_ids:
        assert counts[sid] == [expected[int(sid)]["count"]]
        assert Decimal(str(amounts[sid][0])) == expected[int(sid)]["amount"]
        row = re.search(rf'<tr data-stage="{sid}">(.*?)</tr>', table, re.S).group(1)
        assert re.findall(r'kind=now[^"]*">(\d+)</a>', row) == [str(expected[int(sid)]["count"])]
    assert sum(v[0] for v in counts.values()) > 0
    svg = section(html, 'id="funnel-chart-count"')
    assert 'role="img"' in svg and "<title>" in svg


def test_won_lost_by_month_matches_table_and_brute_force(world, login_as, brute):
    today = world.now.date()
    start = add_months(today.replace(day=1), -5)
    html = login_as("admin").get(
        f"/funnel/?owner=all&from={start}&to={today}").get_data(as_text=True)
    counts = chart_values(html, "months-chart-count")
    amounts = chart_values(html, "months-chart-amount")
    months = [add_months(start, i) for i in range(6)]
    assert list(counts) == [m.isoformat() for m in months] == list(amounts)
    table = section(html, 'id="months-table"', "</table>")
    total_won = 0
    for month in months:
        period = Period(month, min(add_months(month, 1), today + timedelta(days=1)))
        closed = [d for d in brute.deals(None) if in_period(d["closed_at"], period)]
        won = [d for d in closed if brute.stage[d["stage_id"]].is_won]
        lost = [d for d in closed if brute.stage[d["stage_id"]].is_lost]
        assert counts[month.isoformat()] == [len(won), len(lost)]
        assert [Decimal(str(v)) for v in amounts[month.isoformat()]] == [
            quant(sum((d["amount"] for d in won), Decimal(0))),
            quant(sum((d["amount"] for d in lost), Decimal(0)))]
        row = re.search(rf'<tr data-month="{month}">(.*?)</tr>', table, re.S).group(1)
        cells = re.findall(r'<td class="num">(\d+)</td>', row)
        assert cells == [str(len(won)), str(len(lost))]
        total_won += len(won)
    assert total_won > 0


def test_five_numbers_trend_matches_brute_force_for_every_period(ctx, world, brute, users):
    pipe = load_pipeline()
    today = world.now.date()
    for period in [current("month", today), current("month", today).previous(),
                   Period(today - timedelta(days=13), today + timedelta(days=1))]:
        for owners in [None, [users["seller"]]]:
            trend = five_trend(pipe, period, owners, now=world.now)
            assert [p for p, _f in trend] == trend_periods(period)
            assert trend[-1][0] == period
            for p, figures in trend:
                expected = brute.five(p, owners)
                for name in ("closed", "committed", "opportunities"):
                    assert getattr(figures, name) == sum(f[name] for f in expected.values()), \
                        (period, p, owners, name)


def test_five_page_draws_a_sparkline_per_number_from_its_trend_table(world, login_as, brute):
    html = login_as("admin").get("/funnel/five?owner=all").get_data(as_text=True)
    table = section(html, 'id="trend-table"', "</table>")
    rows = re.findall(r'<tr data-start="([^"]+)">(.*?)</tr>', table, re.S)
    assert len(rows) == 6
    columns = list(zip(*[[int(v) for v in re.findall(r'<td class="num"[^>]*>(\d+)</td>', r)]
                         for _s, r in rows]))
    for name, column in zip(("closed", "committed", "opportunities"), columns):
        spark = section(html, f'id="spark-{name}"', "</svg>")
        assert 'role="img"' in spark and "<title>" in spark
        values = [float(v) for v in re.search(r'data-values="([^"]+)"', spark).group(1).split(";")]
        assert values == [float(v) for v in column]
        shown = re.search(rf'id="five-{name}">.*?class="figure">([\d,.\s\u00a0]+)<', html, re.S)
        assert int(re.sub(r"\D", "", shown.group(1))) == column[-1]
    this_month = current("month", world.now.date())
    expected = brute.five(this_month, None)
    assert columns[2][-1] == sum(f["opportunities"] for f in expected.values()) > 0


def test_trend_statements_do_not_grow_with_the_number_of_periods(app, ctx, world, users):
    pipe = load_pipeline()
    month = current("month", world.now.date()).previous()
    counted = []
    for n in (2, 6, 12):
        with query_counter(app) as statements:
            five_trend(pipe, month, [users["seller"]], now=world.now, count=n)
        counted.append(len(statements))
    assert counted[0] == counted[1] == counted[2] <= 4


def test_funnel_page_statements_do_not_grow_with_the_months_shown(world, login_as,
                                                                   count_queries):
    client = login_as("admin")
    today = world.now.date()
    client.get("/funnel/?owner=all")
    # Both ranges hold whole months and part of this one: the sales cycle reads the kept
    # durations for the whole months (two statements) and the history for the days; a range of
    # only part of a month skips the former.
    counted, seen = [], []
    for months in (3, 12):
        start = add_months(today.replace(day=1), 1 - months)
        with count_queries() as q:
            assert client.get(f"/funnel/?owner=all&from={start}&to={today}").status_code == 200
        counted.append(len(q))
        seen.append([str(s)[:200] for s in q])
    assert counted[0] == counted[1], "\n\n".join("\n---\n".join(x) for x in seen)


def test_plan_progress_bars_match_the_plan_table(app, world, login_as, users, post):
    client = login_as("manager")
    month = current("month", world.now.date())
    response = post(client, "/funnel/targets/user", {
        "user_id": users["seller"], "period_kind": "month",
        "period_start": month.start.isoformat(), "volume": "50000", "margin": "5000",
        "currency": "USD"})
    assert response.status_code == 302
    html = client.get(f"/funnel/targets?from={month.start}&to={month.last_day}").get_data(
        as_text=True)
    chart = section(html, 'id="plan-chart"')
    ratios = dict(re.findall(r'data-key="([^"]+)" data-ratio="([^"]*)"', chart))
    table = section(html, 'id="plan-table"', "</table>")
    rows = re.findall(r'<tr data-kind="(\w+)" data-id="(\d+)">', table)
    assert list(ratios) == [f"{k}-{i}" for k, i in rows]
    seller_key = f"user-{users['seller']}"
    from conveyor.plugins.funnel.plan import plan

    with app.test_request_context():
        row = next(r for r in plan(month, [users["seller"]], []) if r.kind == "user")
    assert abs(float(ratios[seller_key]) - row.percent("volume") / 100) < 1e-4
    assert 'role="img"' in chart and "<title>" in chart
    # A row without a target says so instead of drawing a bar.
    assert "No target set" in chart
    # The seller's home widget draws the same bar.
    home = login_as("seller").get("/").get_data(as_text=True)
    widget = section(home, 'id="widget-plan-chart"')
    assert re.findall(r'data-key="([^"]+)" data-ratio="([^"]*)"', widget) == [
        (seller_key, ratios[seller_key])]


def test_empty_selection_shows_empty_states_not_empty_drawings(app, login_as):
    client = login_as("admin")
    for url in ["/funnel/?owner=all", "/funnel/five?owner=all", "/funnel/targets?owner=all",
                "/"]:
        response = client.get(url)
        assert response.status_code == 200, url
    html = client.get("/funnel/?owner=all").get_data(as_text=True)
    assert 'class="chart-bar"' not in html
    assert "No open deals in this selection." in html
    assert 'id="months-empty"' in html and 'id="months-table"' not in html
    five = client.get("/funnel/five?owner=all").get_data(as_text=True)
    assert five.count('class="chart-spark"') == 3  # zeros over six periods: still a trend


def test_chart_labels_are_escaped(ctx):
    from conveyor import ChartProgress, ChartRow, SparkPoint, bar_chart, progress_chart, sparkline

    evil = '<script>alert(1)</script>"'
    html = str(bar_chart([ChartRow(evil, 3, evil, href='/x?"a')], evil))
    html += str(progress_chart([ChartProgress(evil, 1, 2, evil, note=evil)], evil))
    html += str(sparkline([SparkPoint(evil, 1, evil)], evil))
    assert "<script>" not in html and '?"a' not in html
    assert html.count('role="img"') == 3
