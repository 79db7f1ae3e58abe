"""Plan fulfilment: target, signed, forecast and potential side by side, per seller and team.

Signed is the volume and margin of deals won in the period (or, with
``funnel.fulfilment_source = "invoices"`` and a plugin answering ``funnel_fulfilment``, of
issued/paid invoices). Forecast is the weighted open pipeline (amount × stage %), potential the
whole open pipeline, both as of now and across every pipeline. Every amount is in the company
currency: a won deal at the rate of the day it closed, an open one at today's, a target at the
rate of the period's last day (today for a period not over). A currency without a rate is named
(``missing``) instead of counting as 0. Invoices from ``funnel_fulfilment`` are taken as in the
company currency.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from conveyor import company_currency, current_pipelines, db, setting
from conveyor.models import Stage, Team, TeamMember, User

from . import fx
from .periods import Period
from .sqlparts import CENT, D, T, money, totals_owner
from .summaries import C, summary_owner
from .targets import ZERO, Target, targets_for

SOURCES = ("deals", "invoices")


@dataclass
class PlanRow:
    kind: str  # "user" | "team"
    id: int
    label: str
    target: Target | None
    signed_volume: Decimal = ZERO
    signed_margin: Decimal = ZERO
    forecast: Decimal = ZERO
    potential: Decimal = ZERO
    currency: str = "USD"
    members: list[int] = field(default_factory=list)
    missing: tuple[str, ...] = ()  # currencies without a rate, left out of the amounts

    def percent(self, what: str = "volume") -> float | None:
        if self.target is not None and self.target.currency != self.currency:
            return None  # a target in a currency without a rate: no honest percentage
        goal = getattr(self.target, what) if self.target else None
        if not goal:
            return None
        return float(getattr(self, f"signed_{what}") / goal * 100)


def invoices_available() -> bool:
    return bool(current_app.extensions["conveyor"].hook.funnel_fulfilment.get_hookimpls())


def fulfilment_source() -> str:
    """"invoices" only when asked for in the setting and some plugin provides them."""
    wanted = setting("funnel.fulfilment_source")
    return "invoices" if wanted == "invoices" and invoices_available() else "deals"


# owner -> (volume, margin) rows: (currency, day as returned, cents)
Signed = dict[int | None, tuple[list[tuple[str, Any, int]], list[tuple[str, Any, int]]]]


def _signed(period: Period, owners: list[int] | None) -> Signed:
    """Volume and margin signed per owner, by currency and closing day (invoices: today), in
    whole cents."""
    out: Signed = {}
    if fulfilment_source() == "invoices":
        home, day = company_currency(), min(period.last_day, fx.today())
        for answer in current_app.extensions["conveyor"].hook.funnel_fulfilment(
                start=period.start_dt, end=period.end_dt, owner_ids=owners):
            for owner, figures in (answer or {}).items():
                volume, margin = out.setdefault(owner, ([], []))
                volume.append((home, day, _as_cents(figures.get("volume", 0))))
                margin.append((home, day, _as_cents(figures.get("margin", 0))))
        return out
    won = [s.id for p in current_pipelines().pipelines for s in p.stages if s.is_won]
    day = fx.rate_day(C, period.start)
    query = (select(C.c.owner_id, C.c.currency, fx.raw_day(day), fx.cents(func.sum(C.c.amount)),
                    fx.cents(func.sum(C.c.margin)))
             .where(C.c.day >= period.start, C.c.day < period.end, C.c.stage_id.in_(won),
                    summary_owner(C, owners))
             .group_by(C.c.owner_id, C.c.currency, day))
    for owner, currency, on, v, m in db.session.execute(query):
        volume, margin = out.setdefault(owner or None, ([], []))
        volume.append((currency, on, int(v)))
        margin.append((currency, on, int(m)))
    return out


def _as_cents(value: Any) -> int:
    """An amount a plugin answered, rounded to the cent as every amount is, in whole cents."""
    return int((money(Decimal(value)) * 100).to_integral_value())


# owner -> (potential, forecast) rows: (currency, cents, stage percent)
Pipeline = dict[int | None, list[tuple[str, int, int]]]


def _pipeline(owners: list[int] | None) -> Pipeline:
    """Open pipeline per owner by currency and stage percentage, from the open deals per
    stage, owner and currency the core keeps (``deal_stage_totals``): a few rows per owner
    instead of every deal they have. Dated today; the forecast is kept unrounded until
    converted."""
    st = Stage.__table__
    query = (select(T.c.owner_id, T.c.currency, fx.cents(T.c.amount), st.c.percent)
             .select_from(T.join(st, st.c.id == T.c.stage_id))
             .where(totals_owner(owners), st.c.is_won.is_(False), st.c.is_lost.is_(False)))
    out: Pipeline = {}
    for owner, currency, amount, percent in db.session.execute(query):
        out.setdefault(owner or None, []).append((currency, int(amount), int(percent)))
    return out


class TargetConverter:
    """Targets in the company currency at one day's rate (one rate look-up per currency)."""

    def __init__(self, day: Any) -> None:
        self.day = day
        self.rates: dict[str, Decimal | None] = {}

    def __call__(self, target: Target | None) -> tuple[Target | None, str | None]:
        """The target converted; unchanged, with its currency named, when there is no rate."""
        home = company_currency()
        if target is None or target.currency == home:
            return target, None
        if target.currency not in self.rates:
            self.rates[target.currency] = fx.RateBook([target.currency], self.day, self.day
                                                      ).rate(target.currency, self.day)
        rate = self.rates[target.currency]
        if rate is None:
            return target, target.currency
        return Target((target.volume * rate).quantize(CENT), (target.margin * rate).quantize(CENT),
                      home, target.derived), None


def plan(period: Period, user_ids: list[int], team_ids: list[int]) -> list[PlanRow]:
    """Rows for the given teams (each followed by its members) and users. Five queries."""
    members: dict[int, list[int]] = {t: [] for t in team_ids}
    for team_id, user_id in db.session.execute(
            select(TeamMember.team_id, TeamMember.user_id)
            .where(TeamMember.team_id.in_(team_ids or [0])).order_by(TeamMember.user_id)):
        members[team_id].append(user_id)
    everyone = sorted(set(user_ids) | {u for ms in members.values() for u in ms})
    labels = {u.id: u.label for u in db.session.scalars(
        select(User).where(User.id.in_(everyone or [0])))}
    team_names = dict(db.session.execute(
        select(Team.id, Team.name).where(Team.id.in_(team_ids or [0]))).all())
    user_targets, team_targets = targets_for(everyone, team_ids, period)
    signed = _signed(period, everyone)
    pipeline = _pipeline(everyone)
    home = company_currency()
    target_day = min(period.last_day, fx.today())
    today = fx.today()
    currencies = ({c for pair in signed.values() for part in pair for c, _d, _a in part}
                  | {c for parts in pipeline.values() for c, _a, _p in parts})
    rate = fx.RateInts(fx.RateBook(currencies, min(period.start, today),
                                   max(period.last_day, today)))
    # Each owner's four sums converted once, exactly (integers); a team adds its members'.
    volumes: dict[int | None, fx.Exact] = {}
    margins: dict[int | None, fx.Exact] = {}
    fx.add_rows(volumes, ((o, c, d, a) for o, pair in signed.items() for c, d, a in pair[0]),
                rate)
    fx.add_rows(margins, ((o, c, d, a) for o, pair in signed.items() for c, d, a in pair[1]),
                rate)
    sums: dict[int | None, list[fx.Exact]] = {}
    for owner in set(signed) | set(pipeline):
        potential, forecast = fx.Exact(), fx.Exact(extra=2)
        for currency, amount, percent in pipeline.get(owner, []):
            r = rate(currency, today)
            potential.add(currency, amount, r)
            forecast.add(currency, amount, r, percent)
        sums[owner] = [volumes.get(owner) or fx.Exact(), margins.get(owner) or fx.Exact(),
                       potential, forecast]

    to_home = TargetConverter(target_day)

    def fill(row: PlanRow, owners: list[int], lacking: set[str] | None = None) -> PlanRow:
        row.currency = home
        row.target, absent = to_home(row.target)
        lacking = (lacking or set()) | ({absent} if absent else set())
        parts = [fx.Exact(), fx.Exact(), fx.Exact(), fx.Exact(extra=2)]
        for owner in owners:
            for part, mine in zip(parts, sums.get(owner, ())):
                part.merge(mine)
        totals = [p.total() for p in parts]
        row.signed_volume, row.signed_margin, row.potential, row.forecast = (
            t.amount for t in totals)
        row.missing = tuple(sorted({c for t in totals for c in t.missing} | lacking))
        return row

    rows: list[PlanRow] = []
    for team_id in team_ids:
        ids = members.get(team_id, [])
        target = team_targets.get(team_id)
        lacking: set[str] = set()
        if target is None:  # a team without its own target: the sum of its members' (converted)
            parts = []
            for u in ids:
                part, absent = to_home(user_targets.get(u))
                if absent:
                    lacking.add(absent)
                elif part is not None:
                    parts.append(part)
            if parts:
                target = Target(sum((p.volume for p in parts), ZERO),
                                sum((p.margin for p in parts), ZERO), home, True)
        rows.append(fill(PlanRow("team", team_id, team_names.get(team_id, ""), target,
                                 members=ids), ids, lacking))
        rows += [fill(PlanRow("user", u, labels.get(u, ""), user_targets.get(u)), [u])
                 for u in ids]
    shown = {r.id for r in rows if r.kind == "user"}
    rows += [fill(PlanRow("user", u, labels.get(u, ""), user_targets.get(u)), [u])
             for u in user_ids if u not in shown]
    return rows


def plan_subjects(scope: Any) -> tuple[list[int], list[int]]:
    """Which users and teams a scope's plan table lists."""
    if scope.kind == "user":
        return [scope.user_id], []
    if scope.kind in ("team", "teams"):
        return [], list(scope.team_ids)
    teams = list(db.session.scalars(select(Team.id).order_by(Team.name)))
    loners = list(db.session.scalars(select(User.id).where(
        User.active.is_(True), User.id.notin_(select(TeamMember.user_id)),
        # Whether each user owns a deal: one index seek per user, not a DISTINCT over every
        # deal's owner.
        select(D.c.id).where(D.c.owner_id == User.id).exists())))
    return loners, teams
