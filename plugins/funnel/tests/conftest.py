"""Fixtures for the funnel's tests: an app with the plugin, generated deals, brute force.

The brute-force functions recompute every figure in plain Python over the generated rows, the
slow obvious way, so the SQL can be compared with them figure by figure.
"""
from __future__ import annotations

import math
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import pytest

CENT = Decimal("0.01")


@pytest.fixture
def app(make_app):
    return make_app(plugins=["funnel"], config={"funnel": {"threshold_cache_seconds": 0}})


@pytest.fixture
def world(app, users):
    """~300 deals over three sellers, the manager and nobody, with their stage histories."""
    from conveyor import db
    from conveyor.plugins.funnel.sqlparts import load_pipeline
    from conveyor.plugins.funnel.testdata import generate

    with app.app_context():
        pipe = load_pipeline()
        owners = [users["seller"], users["seller2"], users["seller3"], users["manager"], None]
        return generate(db.session, pipe, owners, deals=300, seed=7)


def in_period(at: datetime | None, period: Any) -> bool:
    return at is not None and period.start_dt <= at < period.end_dt


def quant(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def percentile_exact(values: list[int], p: float) -> Fraction | None:
    """The continuous percentile of whole numbers, as an exact fraction (no float noise at a
    tie of the shown decimal)."""
    if not values:
        return None
    values = sorted(values)
    pos = Fraction(str(p)) * (len(values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def percentile_cont(values: list[int], p: float, per: int = 1) -> float | None:
    """:func:`percentile_exact` divided by ``per`` (24: hours to days), rounded once."""
    exact = percentile_exact(values, p)
    return None if exact is None else float(exact / per)


def whole_seconds(later: datetime, earlier: datetime) -> int:
    """``later - earlier`` in whole seconds, each moment's fraction of a second dropped."""
    return int(later.timestamp() // 1) - int(earlier.timestamp() // 1)


def hours(seconds: int) -> int:
    """Whole hours, rounded towards zero."""
    return int(seconds / 3600) if seconds >= 0 else -int(-seconds / 3600)


class Brute:
    """Every figure, by brute force over the generated rows."""

    def __init__(self, world: Any) -> None:
        self.w = world
        self.pipe = world.pipeline
        self.stage = {s.id: s for s in self.pipe.stages}
        self.rows_of: dict[int, list[dict]] = {}
        for h in world.history:
            self.rows_of.setdefault(h["deal_id"], []).append(h)
        for rows in self.rows_of.values():
            rows.sort(key=lambda h: h["at"])

    def deals(self, owners: list[int] | None) -> list[dict]:
        return [d for d in self.w.deals
                if owners is None or d["owner_id"] in owners]

    def funnel(self, period: Any, owners: list[int] | None) -> dict[int, dict]:
        out = {}
        for s in self.pipe.stages:
            ds = [d for d in self.deals(owners) if d["stage_id"] == s.id
                  and (s.is_open or in_period(d["closed_at"], period))]
            amount = sum((d["amount"] for d in ds), Decimal(0))
            reached = 0 if s.is_lost else sum(
                1 for d in self.deals(owners)
                if any(in_period(h["at"], period) and not self.stage[h["to_stage_id"]].is_lost
                       and self.stage[h["to_stage_id"]].position >= s.position
                       for h in self.rows_of[d["id"]]))
            out[s.id] = {"count": len(ds), "amount": quant(amount),
                         "weighted": quant(amount * s.percent / 100), "reached": reached}
        return out

    def stays(self, owners: list[int] | None, start: datetime, end: datetime) -> dict[int, list]:
        """Per open stage, the whole seconds of each completed stay that ended in the range."""
        out: dict[int, list[int]] = {}
        for d in self.deals(owners):
            rows = self.rows_of[d["id"]]
            for a, b in zip(rows, rows[1:]):
                if self.stage[a["to_stage_id"]].is_open and start <= b["at"] < end:
                    out.setdefault(a["to_stage_id"], []).append(whole_seconds(b["at"], a["at"]))
        return out

    def thresholds(self, now: datetime) -> dict[int, float]:
        """Each open stage's p90 (seconds, of whole hours) of completed stays that ended since
        the first of the month 365 days ago (everyone's)."""
        from datetime import timedelta

        since = (now.date() - timedelta(days=365)).replace(day=1)
        start = datetime.combine(since, datetime.min.time(), tzinfo=now.tzinfo)
        stays = self.stays(None, start, now + timedelta(days=400))
        return {sid: percentile_cont([hours(s) for s in v], 0.9) * 3600
                for sid, v in stays.items()}

    def dwell(self, period: Any, owners: list[int] | None) -> dict[int, dict]:
        """Median and p90 of whole hours, in days; mean of whole seconds, in days."""
        return {sid: {"n": len(v), "median": percentile_cont([hours(s) for s in v], 0.5, 24),
                      "p90": percentile_cont([hours(s) for s in v], 0.9, 24),
                      "mean": sum(v) / len(v) / 86400}
                for sid, v in self.stays(owners, period.start_dt, period.end_dt).items()}

    def outcomes(self, period: Any, owners: list[int] | None) -> dict:
        closed = [d for d in self.deals(owners) if in_period(d["closed_at"], period)]
        won = [d for d in closed if self.stage[d["stage_id"]].is_won]
        lost = [d for d in closed if self.stage[d["stage_id"]].is_lost]
        cycles = [whole_seconds(d["closed_at"], d["created_at"]) for d in won]
        reasons: dict[str, list] = {}
        for d in lost:
            reasons.setdefault(d["lost_reason"], []).append(d["amount"])
        return {"won": len(won), "lost": len(lost),
                "median": (percentile_cont([hours(c) for c in cycles], 0.5, 24)
                           if cycles else None),
                "mean": sum(cycles) / len(cycles) / 86400 if cycles else None,
                "reasons": {r: (len(a), quant(sum(a, Decimal(0)))) for r, a in reasons.items()}}

    def stage_at(self, deal: dict, at: datetime) -> int | None:
        before = [h for h in self.rows_of[deal["id"]] if h["at"] < at]
        return before[-1]["to_stage_id"] if before else None

    def five(self, period: Any, owners: list[int] | None, committed_percent: int = 60) -> dict:
        out: dict = {}
        for d in self.deals(owners):
            f = out.setdefault(d["owner_id"], {"closed": 0, "committed": 0, "opportunities": 0})
            if self.stage[d["stage_id"]].is_won and in_period(d["closed_at"], period):
                f["closed"] += 1
            sid = self.stage_at(d, period.end_dt)
            if sid is not None and self.stage[sid].is_open:
                f["opportunities"] += 1
                if self.stage[sid].percent >= committed_percent:
                    f["committed"] += 1
        return {k: v for k, v in out.items() if any(v.values())}

    def pipeline_sums(self, owner: int) -> tuple[Decimal, Decimal]:
        ds = [d for d in self.deals([owner]) if self.stage[d["stage_id"]].is_open]
        potential = sum((d["amount"] for d in ds), Decimal(0))
        forecast = sum((d["amount"] * self.stage[d["stage_id"]].percent / 100 for d in ds),
                       Decimal(0))
        return quant(potential), quant(forecast)

    def signed(self, period: Any, owner: int) -> tuple[Decimal, Decimal]:
        ds = [d for d in self.deals([owner]) if self.stage[d["stage_id"]].is_won
              and in_period(d["closed_at"], period)]
        return (quant(sum((d["amount"] for d in ds), Decimal(0))),
                quant(sum((d["margin"] for d in ds), Decimal(0))))


@pytest.fixture
def brute(world):
    return Brute(world)


@pytest.fixture
def ctx(app):
    """A request context signed in as nobody, for calling services directly."""
    with app.test_request_context():
        yield SimpleNamespace(app=app)


@pytest.fixture
def post():
    """``post(client, url, data)``: a form POST carrying the page's CSRF token."""
    import re

    pattern = re.compile(r'name="csrf-token" content="([^"]+)"')

    def send(client: Any, url: str, data: dict) -> Any:
        token = pattern.search(client.get("/funnel/").get_data(as_text=True)).group(1)
        return client.post(url, data={"csrf_token": token, **data})

    return send
