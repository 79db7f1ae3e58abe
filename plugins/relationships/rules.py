"""The type definitions as one SQL expression, shared by the event path and the recompute.

Both paths run :func:`type_statement`, so an event-driven type and a recomputed one cannot
disagree by construction; the property test checks that the events reach it.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    true,
    union_all,
)

from conveyor import setting
from conveyor.models import Customer, Deal, Stage
from conveyor.types import UTCDateTime

# The ladder a seller climbs; "lapsed" sits beside it (entering it is a move down).
LADDER = ("cold", "potential", "current", "regular")
RANK = {"cold": 0, "potential": 1, "current": 2, "regular": 3}


@dataclass(frozen=True)
class Rules:
    """The thresholds, from settings. Months are calendar months; 0 switches a window off."""

    regular_min_wins: int = 2
    regular_window_months: int = 24
    lapsed_after_months: int = 0
    interest_window_months: int = 12

    @classmethod
    def from_settings(cls) -> Rules:
        return cls(
            regular_min_wins=max(2, int(setting("relationships.regular_min_wins"))),
            regular_window_months=max(0, int(setting("relationships.regular_window_months"))),
            lapsed_after_months=max(0, int(setting("relationships.lapsed_after_months"))),
            interest_window_months=max(0, int(setting("relationships.interest_window_months"))),
        )


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall-clock moment ``months`` calendar months earlier (31 Mar - 1 = 28/29 Feb)."""
    total = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def is_up(old: str | None, new: str) -> bool:
    """A move up the ladder (the KPI). Into lapsed is down; out of lapsed by buying is up."""
    if new == "lapsed":
        return False
    if old == "lapsed":
        return new in ("current", "regular")
    return RANK.get(new, 0) > RANK.get(old or "cold", 0)


def is_down(old: str | None, new: str) -> bool:
    if old is None or old == new:
        return False
    if new == "lapsed":
        return True
    if old == "lapsed":
        return new not in ("current", "regular")
    return RANK.get(new, 0) < RANK.get(old, 0)


def interest_selects(customer_ids: list[int] | None) -> list[Select[Any]]:
    """What the leads/calls plugins (or any other) report through ``relationship_interest``."""
    hook = current_app.extensions["conveyor"].hook
    if not hasattr(hook, "relationship_interest"):
        return []
    return [s for group in hook.relationship_interest(customer_ids=customer_ids)
            for s in (group or ())]


MODES = ("one", "many", "range", "all")
CACHE_KEY = "relationships_statements"


def type_statement(rules: Rules, mode: str = "all") -> Select[Any]:
    """``SELECT customer_id, owner_id, computed`` for the customers ``mode`` picks, one statement.

    Built once per app, rules and mode, with bound parameters (:func:`type_params`), so the
    per-event path pays neither construction nor compilation. ``mode``: ``one`` (``:cid``),
    ``many`` (``:cids``), ``range`` (``:lo``..``:hi``) or ``all``.
    """
    cache = current_app.extensions.setdefault(CACHE_KEY, {})
    key = (rules, mode)
    if key not in cache:
        cache[key] = _build(rules, mode)
    return cache[key]


def type_params(now: datetime, rules: Rules, customer_id: int | None = None,
                customer_ids: list[int] | None = None,
                id_range: tuple[int, int] | None = None) -> dict[str, Any]:
    """The values for :func:`type_statement`: the cut-off times from ``now`` and the customers."""
    params: dict[str, Any] = {}
    if rules.regular_window_months:
        params["window_cut"] = months_before(now, rules.regular_window_months)
    if rules.lapsed_after_months:
        params["lapsed_cut"] = months_before(now, rules.lapsed_after_months)
    if rules.interest_window_months:
        params["interest_cut"] = months_before(now, rules.interest_window_months)
    if customer_id is not None:
        params["cid"] = customer_id
    if customer_ids is not None:
        params["cids"] = list(customer_ids)
    if id_range is not None:
        params["lo"], params["hi"] = id_range
    return params


def type_select(now: datetime, rules: Rules, customer_ids: list[int] | None = None,
                id_range: tuple[int, int] | None = None) -> Any:
    """The statement with its values bound (for callers that want one object)."""
    mode = "many" if customer_ids is not None else "range" if id_range is not None else "all"
    return type_statement(rules, mode).params(
        **type_params(now, rules, customer_ids=customer_ids, id_range=id_range))


def _cut(name: str) -> Any:
    return bindparam(name, type_=UTCDateTime())


def _build(rules: Rules, mode: str) -> Select[Any]:
    def limit(column: Any) -> ColumnElement[bool]:
        if mode == "one":
            return column == bindparam("cid")
        if mode == "many":
            return column.in_(bindparam("cids", expanding=True))
        if mode == "range":
            return column.between(bindparam("lo"), bindparam("hi"))
        return true()

    win_at = func.coalesce(Deal.closed_at, Deal.stage_entered_at)
    won = Stage.is_won.is_(True)
    is_open = and_(Stage.is_won.is_(False), Stage.is_lost.is_(False))
    in_window = won if not rules.regular_window_months else and_(
        won, win_at >= _cut("window_cut"))
    deals = (select(Deal.customer_id.label("customer_id"),
                    func.count(case((won, 1))).label("wins"),
                    func.count(case((in_window, 1))).label("wins_window"),
                    func.max(case((won, win_at))).label("last_win"),
                    func.count(case((is_open, 1))).label("open_deals"))
             .select_from(Deal).join(Stage, Stage.id == Deal.stage_id)
             .where(limit(Deal.customer_id)).group_by(Deal.customer_id).subquery("d"))
    wins = func.coalesce(deals.c.wins, 0)
    query = (select(Customer.id.label("customer_id"), Customer.owner_id.label("owner_id"))
             .select_from(Customer).outerjoin(deals, deals.c.customer_id == Customer.id)
             .where(limit(Customer.id)))

    shown_interest: ColumnElement[bool] = func.coalesce(deals.c.open_deals, 0) > 0
    # Asked for every customer and narrowed here, so the statement can be kept and reused.
    selects = interest_selects(None)
    if selects:
        parts = []
        for sel in selects:
            sub = sel.subquery()
            cid, at = list(sub.c)[:2]
            parts.append(select(cid.label("customer_id"), at.label("at")))
        raw = union_all(*parts).subquery("raw_interest")
        interest = (select(raw.c.customer_id, func.max(raw.c.at).label("last_at"))
                    .where(limit(raw.c.customer_id)).group_by(raw.c.customer_id)
                    .subquery("i"))
        query = query.outerjoin(interest, interest.c.customer_id == Customer.id)
        recent = (interest.c.last_at.is_not(None) if not rules.interest_window_months else
                  interest.c.last_at >= _cut("interest_cut"))
        shown_interest = or_(shown_interest, recent)

    whens: list[tuple[ColumnElement[bool], str]] = []
    if rules.lapsed_after_months:
        whens.append((and_(wins > 0, deals.c.last_win < _cut("lapsed_cut")), "lapsed"))
    whens += [
        (func.coalesce(deals.c.wins_window, 0) >= rules.regular_min_wins, "regular"),
        (wins > 0, "current"),
        (shown_interest, "potential"),
    ]
    return query.add_columns(case(*whens, else_="cold").label("computed"))
