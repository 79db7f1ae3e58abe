"""Plan fulfilment: target, signed, forecast and potential side by side, per seller and team.

Signed is the volume and margin of deals won in the period (or, with
``funnel.fulfilment_source = "invoices"`` and a plugin answering ``funnel_fulfilment``, of
issued/paid invoices). Forecast is the weighted open pipeline (amount × stage %), potential the
whole open pipeline, both as of now and across every pipeline. Amounts count in the target's
currency only; with no target, in the default currency.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from conveyor import current_pipelines, db, setting
from conveyor.models import Stage, Team, TeamMember, User

from .periods import Period
from .sqlparts import CENT, D, T, entered_since, money, totals_owner
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

    def percent(self, what: str = "volume") -> float | None:
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


def _signed(period: Period, owners: list[int] | None
            ) -> dict[tuple[int | None, str], tuple[Decimal, Decimal]]:
    if fulfilment_source() == "invoices":
        out: dict[tuple[int | None, str], tuple[Decimal, Decimal]] = {}
        for answer in current_app.extensions["conveyor"].hook.funnel_fulfilment(
                start=period.start_dt, end=period.end_dt, owner_ids=owners):
            for owner, figures in (answer or {}).items():
                key = (owner, "*")
                v, m = out.get(key, (ZERO, ZERO))
                out[key] = (v + Decimal(figures.get("volume", 0)),
                            m + Decimal(figures.get("margin", 0)))
        return out
    won = [s.id for p in current_pipelines().pipelines for s in p.stages if s.is_won]
    query = entered_since(
        select(D.c.owner_id, D.c.currency, func.sum(D.c.amount), func.sum(D.c.margin))
        .where(D.c.closed_at >= period.start_dt, D.c.closed_at < period.end_dt),
        None, owners, period.start_dt, period.end_dt, won).group_by(D.c.owner_id, D.c.currency)
    return {(o, c): (money(v), money(m)) for o, c, v, m in db.session.execute(query)}


def _pipeline(owners: list[int] | None) -> dict[tuple[int | None, str], tuple[Decimal, Decimal]]:
    """Open pipeline per owner and currency: (potential, forecast), from the open deals per
    stage, owner and currency the core keeps (``deal_stage_totals``): a few rows per owner
    instead of every deal they have."""
    st = Stage.__table__
    query = (select(T.c.owner_id, T.c.currency, T.c.amount, st.c.percent)
             .select_from(T.join(st, st.c.id == T.c.stage_id))
             .where(totals_owner(owners), st.c.is_won.is_(False), st.c.is_lost.is_(False)))
    sums: dict[tuple[int | None, str], tuple[Decimal, Decimal]] = {}
    for owner, currency, amount, percent in db.session.execute(query):
        key = (owner or None, currency)
        potential, weighted_sum = sums.get(key, (ZERO, ZERO))
        value = money(amount)
        sums[key] = (potential + value, weighted_sum + value * percent)
    return {k: (p, money(w / 100)) for k, (p, w) in sums.items()}


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
    default_currency = current_app.config["CONVEYOR"]["default_currency"]

    def fill(row: PlanRow, owners: list[int]) -> PlanRow:
        row.currency = row.target.currency if row.target else default_currency
        for owner in owners:
            for currency in (row.currency, "*"):
                v, m = signed.get((owner, currency), (ZERO, ZERO))
                row.signed_volume += v
                row.signed_margin += m
            p, w = pipeline.get((owner, row.currency), (ZERO, ZERO))
            row.potential += p
            row.forecast += w
        row.forecast = row.forecast.quantize(CENT)
        return row

    rows: list[PlanRow] = []
    for team_id in team_ids:
        ids = members.get(team_id, [])
        target = team_targets.get(team_id)
        if target is None:  # a team without its own target: the sum of its members'
            parts = [user_targets.get(u) for u in ids if user_targets.get(u) is not None]
            if parts:
                target = Target(sum((p.volume for p in parts), ZERO),  # type: ignore[union-attr]
                                sum((p.margin for p in parts), ZERO),  # type: ignore[union-attr]
                                parts[0].currency, True)  # type: ignore[union-attr]
        rows.append(fill(PlanRow("team", team_id, team_names.get(team_id, ""), target,
                                 members=ids), ids))
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
        User.id.in_(select(D.c.owner_id).where(D.c.owner_id.isnot(None)).distinct()))))
    return loners, teams
