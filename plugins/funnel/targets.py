"""Targets and plan fulfilment.

A manager sets a volume and a margin target per seller or per team for a month, quarter or
year. A team target is split into its sellers' shares (evenly by default, editable) and the
shares must add up to it exactly: the service refuses a split that does not. A share can only
be changed through its team target. Periods aggregate upwards: a quarter without its own target
is the sum of its months' targets, a year without its own the sum of its quarters'; a team
without its own target is the sum of its members'.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import or_, select

from conveyor import can, db
from conveyor.i18n import _l
from conveyor.models import Team, TeamMember, User
from conveyor.types import utcnow

from .models import PERIOD_KINDS, FunnelTarget
from .periods import Period, add_months, period_of

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class TargetError(ValueError):
    """A target that can't be saved as asked; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def team_sellers(team_id: int) -> list[User]:
    """Who carries a share of a team target: members who may edit deals but don't set targets
    (sellers, not their manager or assistant); every member when that leaves nobody."""
    members = list(db.session.scalars(
        select(User).join(TeamMember, TeamMember.user_id == User.id)
        .where(TeamMember.team_id == team_id, User.active.is_(True)).order_by(User.username)))
    sellers = [u for u in members if can(u, "deals.edit") and not can(u, "funnel.targets")]
    return sellers or members


def even_split(total: Decimal, count: int) -> list[Decimal]:
    """``total`` in ``count`` shares of whole cents that add up exactly (the first ones get the
    leftover cents)."""
    if count <= 0:
        return []
    base = (total / count).quantize(CENT, rounding=ROUND_DOWN)
    left = int((total - base * count) / CENT)
    return [base + (CENT if i < left else ZERO) for i in range(count)]


def _check_period(kind: str, start: date) -> date:
    if kind not in PERIOD_KINDS:
        raise TargetError(_l("Choose a month, a quarter or a year."), "period_kind")
    return period_of(kind, start).start


def _check_amount(value: Decimal, field: str) -> Decimal:
    if value is None or not value.is_finite() or value < 0 or value > Decimal("999999999999.99"):
        raise TargetError(_l("Enter an amount between 0 and 999,999,999,999.99."), field)
    if value != value.quantize(CENT):
        raise TargetError(_l("Use at most two decimal places."), field)
    return value


def _existing(kind: str, start: date, *, user_id: int | None = None,
              team_id: int | None = None) -> FunnelTarget | None:
    query = select(FunnelTarget).where(FunnelTarget.period_kind == kind,
                                       FunnelTarget.period_start == start)
    query = (query.where(FunnelTarget.user_id == user_id) if user_id is not None
             else query.where(FunnelTarget.team_id == team_id))
    return db.session.scalar(query)


def set_user_target(user_id: int, kind: str, start: date, volume: Decimal, margin: Decimal,
                    currency: str, by: Any) -> FunnelTarget:
    """Create or replace a seller's own target (not a share of a team target)."""
    start = _check_period(kind, start)
    _check_amount(volume, "volume")
    _check_amount(margin, "margin")
    if db.session.get(User, user_id) is None:
        raise TargetError(_l("Unknown user."), "user_id")
    row = _existing(kind, start, user_id=user_id)
    if row is not None and row.parent_id is not None:
        raise TargetError(_l("This target is a share of a team target: change it on the team's "
                          "target so the shares keep adding up."), "user_id")
    if row is None:
        row = FunnelTarget(user_id=user_id, period_kind=kind, period_start=start)
        db.session.add(row)
    row.volume, row.margin, row.currency = volume, margin, currency.upper()
    row.updated_by_id, row.updated_at = getattr(by, "id", None), utcnow()
    db.session.flush()
    return row


def set_team_target(team_id: int, kind: str, start: date, volume: Decimal, margin: Decimal,
                    currency: str, by: Any,
                    shares: dict[int, tuple[Decimal, Decimal]] | None = None) -> FunnelTarget:
    """Create or replace a team target with its members' shares, all or nothing.

    :param shares: ``{user_id: (volume, margin)}`` for the team's sellers; ``None`` splits
        evenly. The shares must add up to the team's volume and margin exactly.
    """
    start = _check_period(kind, start)
    _check_amount(volume, "volume")
    _check_amount(margin, "margin")
    if db.session.get(Team, team_id) is None:
        raise TargetError(_l("Unknown team."), "team_id")
    sellers = team_sellers(team_id)
    if not sellers:
        raise TargetError(_l("The team has no members to share the target."), "team_id")
    if shares is None:
        shares = dict(zip([u.id for u in sellers],
                          zip(even_split(volume, len(sellers)), even_split(margin, len(sellers)))))
    member_ids = {u.id for u in sellers}
    strangers = set(shares) - member_ids
    if strangers:
        raise TargetError(_l("Shares can only go to the team's sellers."), "shares")
    for uid, (v, m) in shares.items():
        _check_amount(v, f"share_volume_{uid}")
        _check_amount(m, f"share_margin_{uid}")
    if sum((v for v, _m in shares.values()), ZERO) != volume:
        raise TargetError(_l("The members' volume shares must add up to the team's volume."),
                          "shares")
    if sum((m for _v, m in shares.values()), ZERO) != margin:
        raise TargetError(_l("The members' margin shares must add up to the team's margin."),
                          "shares")
    team_row = _existing(kind, start, team_id=team_id)
    if team_row is None:
        team_row = FunnelTarget(team_id=team_id, period_kind=kind, period_start=start)
        db.session.add(team_row)
    team_row.volume, team_row.margin, team_row.currency = volume, margin, currency.upper()
    team_row.updated_by_id, team_row.updated_at = getattr(by, "id", None), utcnow()
    db.session.flush()
    current = {r.user_id: r for r in db.session.scalars(
        select(FunnelTarget).where(FunnelTarget.period_kind == kind,
                                   FunnelTarget.period_start == start,
                                   FunnelTarget.user_id.in_(list(shares) or [0])))}
    for uid, row in current.items():
        if row.parent_id not in (None, team_row.id):
            raise TargetError(_l("A member already carries a share of another team's target for "
                              "this period."), "shares")
    for old in db.session.scalars(select(FunnelTarget).where(
            FunnelTarget.parent_id == team_row.id, FunnelTarget.user_id.notin_(list(shares)))):
        db.session.delete(old)
    for uid, (v, m) in shares.items():
        row = current.get(uid)
        if row is None:
            row = FunnelTarget(user_id=uid, period_kind=kind, period_start=start)
            db.session.add(row)
        row.parent_id = team_row.id
        row.volume, row.margin, row.currency = v, m, currency.upper()
        row.updated_by_id, row.updated_at = getattr(by, "id", None), utcnow()
    db.session.flush()
    return team_row


def delete_target(row: FunnelTarget) -> None:
    """Remove a target; a team target takes its shares with it. A share can't go alone."""
    if row.parent_id is not None:
        raise TargetError(_l("This target is a share of a team target: delete or change the "
                          "team's target instead."))
    for share in db.session.scalars(select(FunnelTarget).where(FunnelTarget.parent_id == row.id)):
        db.session.delete(share)
    db.session.flush()  # shares first: the database would cascade them under the ORM's feet
    db.session.delete(row)
    db.session.flush()


# --- Reading: targets for any period, aggregated -----------------------------------------------


@dataclass
class Target:
    volume: Decimal
    margin: Decimal
    currency: str
    derived: bool  # summed from shorter periods or from members, not set directly


def _sum(parts: Iterable[Target | None]) -> Target | None:
    found = [p for p in parts if p is not None]
    if not found:
        return None
    return Target(sum((p.volume for p in found), ZERO), sum((p.margin for p in found), ZERO),
                  found[0].currency, True)


def _resolve(rows: dict[tuple[str, date], FunnelTarget], period: Period) -> Target | None:
    row = rows.get((period.kind, period.start))
    if row is not None:
        return Target(row.volume, row.margin, row.currency, False)
    if period.kind == "quarter":
        return _sum(_resolve(rows, period_of("month", add_months(period.start, i)))
                    for i in range(3))
    if period.kind == "year":
        return _sum(_resolve(rows, period_of("quarter", add_months(period.start, 3 * i)))
                    for i in range(4))
    return None


def targets_for(user_ids: list[int], team_ids: list[int], period: Period,
                ) -> tuple[dict[int, Target | None], dict[int, Target | None]]:
    """Targets of users and teams for a calendar period (custom periods have none): one query."""
    if period.kind not in PERIOD_KINDS:
        return {u: None for u in user_ids}, {t: None for t in team_ids}
    rows = list(db.session.scalars(select(FunnelTarget).where(
        or_(FunnelTarget.user_id.in_(user_ids or [0]), FunnelTarget.team_id.in_(team_ids or [0])),
        FunnelTarget.period_start >= period.start, FunnelTarget.period_start < period.end)))
    by_user: dict[int, dict[tuple[str, date], FunnelTarget]] = {}
    by_team: dict[int, dict[tuple[str, date], FunnelTarget]] = {}
    for r in rows:
        bucket = by_user.setdefault(r.user_id, {}) if r.user_id else by_team.setdefault(
            r.team_id, {})  # type: ignore[arg-type]
        bucket[(r.period_kind, r.period_start)] = r
    users = {u: _resolve(by_user.get(u, {}), period) for u in user_ids}
    teams = {t: _resolve(by_team.get(t, {}), period) for t in team_ids}
    return users, teams
