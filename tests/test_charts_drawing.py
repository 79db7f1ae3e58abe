"""What conveyor.charts draws, read back from its markup: bar lengths proportional to the largest
value, a funnel centred, small values still visible, the series' tones and rows, every label,
value and title present and escaped, progress against a goal, sparklines, empty states.

The pages' tests check that a chart holds the right figures (``data-values``); these check that
the drawing shows them — a bar half as long for half the value."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from conveyor.charts import (
    TONES,
    ChartProgress,
    ChartRow,
    ChartSeries,
    SparkPoint,
    bar_chart,
    progress_chart,
    sparkline,
)

RECT = re.compile(r"<rect ([^>]*)/>")
ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')


@pytest.fixture(autouse=True)
def request_context() -> Any:
    app = Flask(__name__)
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    from flask_babel import Babel

    Babel(app)
    with app.test_request_context():
        yield


def rects(svg: str) -> list[dict[str, str]]:
    return [dict(ATTR.findall(m)) for m in RECT.findall(svg)]


def bars(html: str) -> list[list[dict[str, str]]]:
    """The rectangles of each row's bar drawing (the legend's swatches left out)."""
    return [rects(svg) for svg in re.findall(r'<svg class="chart-bar".*?</svg>', html, re.S)]


def width(rect: dict[str, str]) -> float:
    return float(rect["width"])


def test_bars_are_proportional_to_the_largest_value() -> None:
    html = bar_chart([ChartRow("A", 40, "40"), ChartRow("B", 10, "10"),
                      ChartRow("C", Decimal("20"), "20"), ChartRow("D", 0, "0")], "Deals")
    drawn = [width(r[0]) for r in bars(html)]
    assert drawn == [100.0, 25.0, 50.0, 0.0]
    assert all(float(r[0]["x"]) == 0 for r in bars(html))  # left-aligned


def test_a_tiny_value_stays_visible_and_a_negative_one_is_none() -> None:
    html = bar_chart([ChartRow("Big", 100_000, "100k"), ChartRow("Tiny", 1, "1"),
                      ChartRow("Below", -50, "-50")], "Deals")
    big, tiny, below = (width(r[0]) for r in bars(html))
    assert big == 100.0 and tiny == pytest.approx(0.6) and below == 0.0
    assert 'data-values="0"' in html  # the clamped value, as drawn


def test_a_funnel_is_centred() -> None:
    html = bar_chart([ChartRow("Wide", 10, "10"), ChartRow("Narrow", 4, "4")], "Funnel",
                     centered=True)
    for (rect,) in bars(html):
        assert float(rect["x"]) == pytest.approx((100 - width(rect)) / 2)
    assert "centered" in html


def test_every_label_value_and_title_is_shown_and_escaped() -> None:
    html = bar_chart([ChartRow("<b>Acme</b> & Co", 3, "3 <deals>", href="/x?a=1&b=<2>")],
                     "Title <i>", chart_id="c<1>")
    assert "<b>" not in html and "<i>" not in html and "<deals>" not in html
    assert '&lt;b&gt;Acme&lt;/b&gt; &amp; Co' in re.search(
        r'<span class="chart-label">(.*?)</span>', html).group(1)
    assert '<a href="/x?a=1&amp;b=&lt;2&gt;">' in html
    assert re.search(r"<title>&lt;b&gt;Acme&lt;/b&gt; &amp; Co: 3 &lt;deals&gt;</title>", html)
    assert re.search(r'<span class="chart-figure">3 &lt;deals&gt;</span>', html)
    assert '<figcaption class="chart-title">Title &lt;i&gt;</figcaption>' in html
    assert 'id="c&lt;1&gt;"' in html


def test_series_are_stacked_each_in_its_tone_with_a_legend() -> None:
    series = [ChartSeries("Won", "won"), ChartSeries("Lost", "lost")]
    html = bar_chart([ChartRow("Jan", [6, 3], ["6", "3"]), ChartRow("Feb", [2, 0], ["2", "0"])],
                     "By month", series=series)
    jan, feb = bars(html)
    assert [width(r) for r in jan] == [100.0, 50.0] and [width(r) for r in feb] == [
        pytest.approx(100 / 3, abs=0.01), 0.0]
    assert [r["fill"] for r in jan] == [TONES["won"], TONES["lost"]]
    assert float(jan[0]["y"]) + float(jan[0]["height"]) <= float(jan[1]["y"])  # one under another
    legend = re.search(r'<ul class="chart-legend">(.*?)</ul>', html, re.S).group(1)
    assert "Won" in legend and "Lost" in legend and TONES["won"] in legend
    assert "<title>Jan: Won 6, Lost 3</title>" in html


def test_a_single_series_has_no_legend_and_a_flagged_row_its_own_tone() -> None:
    html = bar_chart([ChartRow("Slow", 5, "5", tone="warn"), ChartRow("Fine", 5, "5")], "Stages")
    assert "chart-legend" not in html
    assert [r[0]["fill"] for r in bars(html)] == [TONES["warn"], TONES["accent"]]


def test_nothing_to_draw_is_a_sentence() -> None:
    for rows in ([], [ChartRow("A", 0, "0")], [ChartRow("A", -1, "-1")]):
        html = bar_chart(rows, "Deals", empty="No deals.")
        assert "<svg" not in html and "No deals." in html
    assert "<svg" not in progress_chart([], "Plan") and "<svg" not in sparkline([], "Trend")


def progress_rects(html: str) -> list[dict[str, str]]:
    return rects(re.search(r'<svg class="chart-bar".*?</svg>', html, re.S).group(0))


def test_progress_towards_a_goal() -> None:
    half = progress_chart([ChartProgress("Anna <x>", 50, 100, "50 %", detail="of target")],
                          "Plan")
    track, done = progress_rects(half)
    assert width(track) == 100 and track["fill"] == TONES["track"]
    assert width(done) == 50 and done["fill"] == TONES["accent"]
    assert re.search(r'<span class="chart-label">Anna &lt;x&gt;<small [^>]*>of target</small>',
                     half) and "<x>" not in half and "50 %" in half
    assert "<title>Anna &lt;x&gt;: 50 %</title>" in half

    reached = progress_chart([ChartProgress("Boris", 100, 100, "100 %")], "Plan")
    assert progress_rects(reached)[1]["fill"] == TONES["won"]
    assert len(progress_rects(reached)) == 2  # no mark at 100 % when it is the end

    over = progress_chart([ChartProgress("Vera", 150, 100, "150 %", note="Ahead")], "Plan")
    track, done, mark = progress_rects(over)
    assert width(done) == 100 and done["fill"] == TONES["won"]
    assert float(mark["x"]) + width(mark) / 2 == pytest.approx(100 / 1.5, abs=0.01)
    assert '<small class="warn">Ahead</small>' in over

    far = progress_chart([ChartProgress("Gleb", 500, 100, "500 %")], "Plan")
    assert float(progress_rects(far)[2]["x"]) == pytest.approx(50 - 0.4)  # drawn up to twice


def test_progress_without_a_goal_says_why_instead_of_a_bar() -> None:
    html = progress_chart([ChartProgress("Dina", 5, None, "—", note="No target set")], "Plan")
    assert "<svg" not in html and "No target set" in html and 'data-ratio=""' in html


def test_sparkline_heights_and_the_last_period_darker() -> None:
    html = sparkline([SparkPoint("Oct", 10, "10"), SparkPoint("Nov", 5, "5"),
                      SparkPoint("Dec", 0.01, "0.01")], "Won <deals>")
    baseline, *columns = rects(html)
    assert [float(c["height"]) for c in columns] == [30.0, 15.0, 1.5]
    assert [float(c["y"]) + float(c["height"]) for c in columns] == [31.0] * 3  # on the axis
    assert [c["fill"] for c in columns] == [TONES["light"], TONES["light"], TONES["accent"]]
    assert "<title>Won &lt;deals&gt; — Oct: 10, Nov: 5, Dec: 0.01</title>" in html
    assert width(baseline) == 30 and 'width="30"' in html
