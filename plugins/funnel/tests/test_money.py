"""Every total of the funnel in the company currency, at the rate of each deal's date.

Deals in USD (the company currency), EUR (rates that change during the periods), GBP (a rate
only from 30 days ago: older closings have none) and CNY (no rate at all). Each figure is
recomputed by brute force — every deal converted on its own at the rate of the day it closed
(won or lost) or of today (open) — and must match to the cent; the currencies that lack a rate
are named and their amounts left out, never counted as 0.

Runs on SQLite, and on PostgreSQL when CONVEYOR_TEST_DATABASE_URL is set."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from conveyor import db
from conveyor.money import set_rate
from conveyor.plugins.funnel.five import five_numbers
from conveyor.plugins.funnel.metrics import funnel, outcomes
from conveyor.plugins.funnel.periods import Period, current
from conveyor.plugins.funnel.plan import plan
from conveyor.plugins.funnel.sqlparts import load_pipeline
from conveyor.plugins.funnel.targets import set_user_target
from conveyor.plugins.funnel.testdata import generate
from conveyor.types import utcnow

CENT = Decimal("0.01")


def quant(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@pytest.fixture
def money_world(app, users):
    """~300 deals in four currencies, and the rates of EUR and GBP."""
    with app.app_context():
        pipe = load_pipeline()
        owners = [users["seller"], users["seller2"], users["manager"], None]
        world = generate(db.session, pipe, owners, deals=300, seed=5,
                         currencies=("USD", "EUR", "GBP", "CNY"))
        today = utcnow().date()
        rates = {"EUR": [(today - timedelta(days=500), Decimal("1.05")),
                         (today - timedelta(days=60), Decimal("1.1")),
                         (today - timedelta(days=10), Decimal("1.2345"))],
                 "GBP": [(today - timedelta(days=30), Decimal("1.27"))]}
        for currency, series in rates.items():
            for day, rate in series:
                set_rate(currency, day, rate)
        db.session.commit()
        world.rates = rates
        return world


def rate(world: Any, currency: str, day: date) -> Decimal | None:
    if currency == "USD":
        return Decimal(1)
    found = [r for d, r in world.rates.get(currency, []) if d <= day]
    return found[-1] if found else None


def expected(world: Any, deals: list[dict]) -> tuple[Decimal, set[str]]:
    """Converted sum of ``deals`` (each at its own date's rate) and the currencies left out."""
    total, missing = Decimal(0), set()
    today = utcnow().date()
    for d in deals:
        day = d["closed_at"].date() if d["closed_at"] is not None else today
        r = rate(world, d["currency"], day)
        if r is None:
            missing.add(d["currency"])
        else:
            total += d["amount"] * r
    return quant(total), missing


def in_period(at: Any, period: Period) -> bool:
    return at is not None and period.start_dt <= at < period.end_dt


def periods() -> list[Period]:
    today = utcnow().date()
    return [current("month", today), current("month", today).previous(),
            Period(today - timedelta(days=90), today + timedelta(days=1)),
            Period(today - timedelta(days=800), today + timedelta(days=1))]


def test_the_data_mixes_currencies_and_misses_rates(ctx, money_world):
    currencies = {d["currency"] for d in money_world.deals}
    assert currencies == {"USD", "EUR", "GBP", "CNY"}
    closed = [d for d in money_world.deals if d["closed_at"] is not None]
    gbp = [rate(money_world, "GBP", d["closed_at"].date()) for d in closed
           if d["currency"] == "GBP"]
    assert None in gbp and any(r is not None for r in gbp), "GBP: some closings with a rate"
    eur = {rate(money_world, "EUR", d["closed_at"].date()) for d in closed
           if d["currency"] == "EUR"}
    assert len(eur) >= 2, "EUR closings at different rates"


def test_funnel_amounts_and_weighted_in_company_currency(ctx, money_world, users):
    pipe = load_pipeline()
    for period in periods():
        for owners in (None, [users["seller"]]):
            result = funnel(pipe, period, owners)
            for row in result.rows + result.lost:
                deals = [d for d in money_world.deals
                         if d["stage_id"] == row.stage.id
                         and (owners is None or d["owner_id"] in owners)
                         and (row.stage.is_open or in_period(d["closed_at"], period))]
                amount, missing = expected(money_world, deals)
                assert row.count == len(deals)
                assert row.amount == amount, (period, row.stage.name)
                assert row.total.currency == "USD"
                assert set(row.total.missing) == missing
                assert row.weighted_amount == quant(amount * row.stage.percent / 100)
                parts: dict[str, Decimal] = {}
                for d in deals:
                    parts[d["currency"]] = parts.get(d["currency"], Decimal(0)) + d["amount"]
                assert row.total.parts == {c: quant(a) for c, a in parts.items()}
    open_rows = [r for r in funnel(pipe, periods()[0], None).rows if r.stage.is_open]
    assert all("CNY" in r.total.missing for r in open_rows if "CNY" in r.total.parts)
    assert any(r.total.missing for r in open_rows), "a currency without a rate is named"


def test_won_lost_and_lost_reasons_at_the_closing_days_rate(ctx, money_world, users):
    pipe = load_pipeline()
    stage = {s.id: s for s in pipe.stages}
    for period in periods():
        for owners in (None, [users["seller2"]]):
            got = outcomes(pipe, period, owners)
            closed = [d for d in money_world.deals if in_period(d["closed_at"], period)
                      and (owners is None or d["owner_id"] in owners)
                      and not stage[d["stage_id"]].is_open]
            won = [d for d in closed if stage[d["stage_id"]].is_won]
            lost = [d for d in closed if stage[d["stage_id"]].is_lost]
            assert (got.won_amount, set(got.won_total.missing)) == expected(money_world, won)
            assert (got.lost_amount, set(got.lost_total.missing)) == expected(money_world, lost)
            reasons = {}
            for d in lost:
                reasons.setdefault(d["lost_reason"], []).append(d)
            assert {r: (n, t.amount, set(t.missing)) for r, n, t in got.lost_reasons} == {
                r: (len(ds), *expected(money_world, ds)) for r, ds in reasons.items()}


def test_five_numbers_amounts(ctx, money_world, users):
    pipe = load_pipeline()
    stage = {s.id: s for s in pipe.stages}
    period = current("month", utcnow().date())  # not over: opportunities are the open deals now
    result = five_numbers(pipe, period, None, now=money_world.now)
    for owner, figures in result.current.items():
        mine = [d for d in money_world.deals if d["owner_id"] == owner]
        won = [d for d in mine if stage[d["stage_id"]].is_won and in_period(d["closed_at"],
                                                                          period)]
        opened = [d for d in mine if stage[d["stage_id"]].is_open]
        closed_amount, missing_won = expected(money_world, won)
        open_amount, missing_open = expected(money_world, opened)
        assert figures.closed_amount == closed_amount
        assert figures.opportunities_amount == open_amount
        assert set(figures.missing_currencies) == missing_won | missing_open
    # The month before is over: its opportunities are the deals open at its end (their stage
    # then, from the history), at today's rate.
    before = result.previous
    history: dict[int, list[dict]] = {}
    for h in money_world.history:
        history.setdefault(h["deal_id"], []).append(h)
    for owner, figures in result.before.items():
        opened = []
        for d in money_world.deals:
            rows = sorted((h for h in history[d["id"]] if h["at"] < before.end_dt),
                          key=lambda h: h["at"])
            if d["owner_id"] == owner and rows and stage[rows[-1]["to_stage_id"]].is_open:
                opened.append({**d, "closed_at": None})
        assert figures.opportunities == len(opened)
        assert figures.opportunities_amount == expected(money_world, opened)[0]


def test_plan_converts_signed_pipeline_and_targets(ctx, money_world, users):
    pipe = load_pipeline()
    stage = {s.id: s for s in pipe.stages}
    seller = users["seller"]
    period = current("month", utcnow().date()).previous()
    set_user_target(seller, "month", period.start, Decimal("1000.00"), Decimal("100.00"), "EUR",
                    None)
    db.session.commit()
    row = plan(period, [seller], [])[0]
    mine = [d for d in money_world.deals if d["owner_id"] == seller]
    won = [d for d in mine if stage[d["stage_id"]].is_won and in_period(d["closed_at"], period)]
    opened = [d for d in mine if stage[d["stage_id"]].is_open]
    signed, missing_signed = expected(money_world, won)
    potential, missing_open = expected(money_world, opened)
    assert row.currency == "USD"
    assert row.signed_volume == signed
    assert row.potential == potential
    today = utcnow().date()
    forecast = sum((d["amount"] * stage[d["stage_id"]].percent / 100
                    * rate(money_world, d["currency"], today)
                    for d in opened if rate(money_world, d["currency"], today) is not None),
                   Decimal(0))
    assert row.forecast == quant(forecast)
    assert set(row.missing) == missing_signed | missing_open
    eur = rate(money_world, "EUR", period.last_day)
    assert (row.target.volume, row.target.currency) == (quant(1000 * eur), "USD")
    assert row.percent("volume") == pytest.approx(float(signed / quant(1000 * eur) * 100))


def test_a_target_in_a_currency_without_a_rate_is_not_compared(ctx, money_world, users):
    seller = users["seller"]
    period = current("month", utcnow().date())
    set_user_target(seller, "month", period.start, Decimal("500.00"), Decimal("50.00"), "CNY",
                    None)
    db.session.commit()
    row = plan(period, [seller], [])[0]
    assert row.target.currency == "CNY" and "CNY" in row.missing
    assert row.percent("volume") is None


def test_api_and_page_name_the_currency_and_the_missing_rates(app, money_world, login_as):
    client = login_as("admin")
    body = client.get("/api/v1/funnel?owner=all").get_json()
    assert body["currency"] == "USD"
    stages = {s["stage_id"]: s for s in body["stages"]}
    assert any("CNY" in s["missing_currencies"] for s in stages.values())
    for s in stages.values():
        assert isinstance(s["amount"], str)
    since = (utcnow().date() - timedelta(days=800)).isoformat()
    conv = client.get(f"/api/v1/funnel/conversion?owner=all&from={since}").get_json()
    assert conv["currency"] == "USD" and "won_amount" in conv
    page = client.get("/funnel/?owner=all").get_data(as_text=True)
    assert "no exchange rate for" in page and "CNY" in page
    csv = client.get("/funnel/?owner=all&format=csv&table=funnel").get_data(as_text=True)
    assert "Currency" in csv.splitlines()[0] and "CNY" in csv


def test_integer_sums_equal_decimal_conversion(ctx):
    """The company's year adds tens of thousands of (currency, day) rows as integers
    (``fx.Exact``: cents × rate units); it must give exactly what converting the Decimal sums
    (``fx.convert``) gives — amounts, parts, missing currencies — for any rows and rates,
    weighted (a percentage) or not."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from conveyor.plugins.funnel import fx

    start = date(2026, 1, 1)
    days = st.integers(0, 40).map(lambda n: start + timedelta(days=n))
    rates = st.decimals(min_value=Decimal("0.0000000001"), max_value=Decimal("10000"),
                        places=10, allow_nan=False, allow_infinity=False)
    series = st.lists(st.tuples(days, rates), max_size=6)
    rows = st.lists(st.tuples(st.sampled_from(["USD", "EUR", "GBP", "CNY"]), days,
                              st.integers(-10**12, 10**12)), max_size=40)

    @settings(max_examples=200, deadline=None)
    @given(rows=rows, eur=series, gbp=series, percent=st.integers(0, 100))
    def check(rows, eur, gbp, percent):
        book = object.__new__(fx.RateBook)
        book.home = "USD"
        book.series = {}
        for currency, points in (("EUR", eur), ("GBP", gbp)):
            by_day = dict(sorted(points))
            if by_day:
                book.series[currency] = (list(by_day), list(by_day.values()))
        rate = fx.RateInts(book)
        plain, weighted = fx.Exact(), fx.Exact(extra=2)
        sums: fx.Sums = {}
        weighted_sums: fx.Sums = {}
        for currency, day, cents in rows:
            amount = Decimal(cents).scaleb(-2)
            plain.add(currency, cents, rate(currency, day))
            weighted.add(currency, cents, rate(currency, day), percent)
            fx.add(sums, currency, day, amount)
            fx.add(weighted_sums, currency, day, amount * percent / 100)
        assert plain.total() == fx.convert(sums, book)
        got, want = weighted.total(), fx.convert(weighted_sums, book)
        assert (got.amount, got.missing) == (want.amount, want.missing)

    check()


def _won_converted_in_python(pipe, periods, owners):
    """The won figures as :func:`five.figures_over` computes them on PostgreSQL (or after an
    overflow): the (owner, currency, day) rows converted in Python."""
    from conveyor.plugins.funnel import five, fx

    first, last = periods[0].start, periods[-1].end
    rows = db.session.execute(five.won_by_owner(
        pipe, Period(first, last), owners, starts=[p.start for p in periods])).all()
    book = fx.RateBook({r[1] for r in rows}, first, last)
    return five._won_in_python(pipe, periods, owners, rows, fx.RateInts(book))


def test_won_converted_in_the_statement_equals_python(ctx, money_world, users):
    """On SQLite the won deals of each period are converted in the statement (each row at its
    day's rate, integers in three parts, a row per owner and period); it must give exactly the
    counts, amounts and missing currencies of converting every (owner, currency, day) row in
    Python — for everyone and for some sellers, one period and six."""
    from conveyor.plugins.funnel import five

    if db.session.get_bind().dialect.name != "sqlite":
        pytest.skip("converted in the statement on SQLite only")
    pipe = load_pipeline()
    month = current("month", utcnow().date())
    compared = 0
    for periods in ([month.previous(), month], five.trend_periods(month),
                    [Period(utcnow().date() - timedelta(days=800),
                            utcnow().date() + timedelta(days=1))]):
        for owners in (None, [users["seller"]], [users["seller"], users["manager"]]):
            def plain(found):  # parts per currency are not kept in the statement's sums
                return [{o: (n, t.amount, t.missing) for o, (n, t) in p.items()} for p in found]

            got = plain(five.won_converted(pipe, periods, owners))
            assert got == plain(_won_converted_in_python(pipe, periods, owners))
            compared += sum(len(p) for p in got)
    assert compared > 20
    everything = five.won_converted(pipe, [Period(utcnow().date() - timedelta(days=800),
                                                  utcnow().date() + timedelta(days=1))], None)
    assert {c for _n, t in everything[0].values() for c in t.missing} == {"GBP", "CNY"}
    assert len({t.amount for _n, t in everything[0].values()}) > 2


@pytest.mark.parametrize("days, amount", [(1, Decimal("1000000000000000.00")),
                                          (6, Decimal("500000000000.00"))])
def test_won_sums_too_large_for_sqlite_integers_convert_in_python(ctx, money_world, users,
                                                                  days, amount):
    """A product past 2**63 (one huge day) comes back from SQLite as a float, a sum past it
    (several large days) as an error: either way the figures are converted in Python, still
    exact."""
    from conveyor.plugins.funnel import five
    from conveyor.plugins.funnel.models import FunnelClosedTotal

    if db.session.get_bind().dialect.name != "sqlite":
        pytest.skip("converted in the statement on SQLite only")
    pipe = load_pipeline()
    won = pipe.ids_where(won=True)[0]
    today = utcnow().date()
    set_rate("CHF", today - timedelta(days=100), Decimal("1.1234567891"))  # no deal has it
    for n in range(days):
        db.session.add(FunnelClosedTotal(owner_id=users["seller"], day=today - timedelta(days=n),
                                         stage_id=won, currency="CHF", lost_reason="", count=1,
                                         amount=amount, margin=Decimal(0)))
    db.session.flush()
    period = Period(today - timedelta(days=40), today + timedelta(days=1))
    assert five.won_converted(pipe, [period], [users["seller"]]) is None
    n, total = _won_converted_in_python(pipe, [period], [users["seller"]])[0][users["seller"]]
    mine = [d for d in money_world.deals if d["owner_id"] == users["seller"]
            and pipe.stage(d["stage_id"]).is_won and in_period(d["closed_at"], period)]
    others, _missing = expected(money_world, mine)
    assert n == len(mine) + days
    assert total.amount == others + quant(days * amount * Decimal("1.1234567891"))
    figures = five.figures_for(pipe, period, [users["seller"]], money_world.now)
    assert (figures[users["seller"]].closed, figures[users["seller"]].closed_amount) == (
        n, total.amount)
