"""Won deals of a period by the customer's relationship type, in the company currency.

Each won deal counts at its close (``stage_entered_at`` of its won stage: the core keeps a closed
deal's stage entry at its close) and converts at the exchange rate of that day. The database
sums the amounts per (type, currency, day) — in cents, so SQLite's floating point never rounds
them — and Python converts each day's sum at that day's rate: the result is exactly the sum of
the deals converted one by one. A currency without a rate on a day is named as missing and its
amounts stay out of the converted figure (never counted as 0).

Cost follows the selection: the figures come from the day sums kept by ``won_ledger`` for the
owners the user may see and the days of the period (rows: owners × days × types × currencies,
never deals). When a plugin narrows which deals a user sees, the sums can't express it and the
won deals themselves are grouped (through the deals' (owner, stage, entered) indexes).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from conveyor import RateBook, Total, company_currency, scope
from conveyor.models import Deal, Stage

from .models import TYPES, RelationshipState
from .reports import period_bounds, rows_of, summary_owners
from .won_ledger import day_sums

CENT = Decimal("0.01")
ZERO = Decimal(0)
STATE_TYPE = func.coalesce(RelationshipState.type, "cold")


@dataclass
class WonByType:
    """Count and converted amount of the won deals per type, and their sum over the types."""

    start: date
    end: date
    currency: str
    counts: dict[str, int] = field(default_factory=dict)
    totals: dict[str, Total] = field(default_factory=dict)
    count: int = 0
    total: Total | None = None


def _day(value: Any) -> date:
    """``func.date`` answers a date on PostgreSQL and ``'YYYY-MM-DD'`` text on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


ALL = ""  # the key of the sum over every key in add_up's answers


def add_up(rows: Iterable[tuple[Any, str, Any, int, Any]], first: date, last: date
           ) -> tuple[dict[Any, int], dict[Any, Total]]:
    """``(key, currency, day, count, cents)`` rows → counts and converted totals per key, and
    their sum under :data:`ALL` (the keys' exact sums added, so it is exact too)."""
    rows = [(key, cur, _day(day), int(n), Decimal(int(cents or 0)) / 100)
            for key, cur, day, n, cents in rows]
    rates = RateBook({r[1] for r in rows}, first, last)
    day_rates: dict[tuple[str, date], Decimal | None] = {}  # a day's rate serves every key
    counts: dict[Any, int] = {}
    sums: dict[Any, Decimal] = {}
    parts: dict[Any, dict[str, Decimal]] = {}
    missing: dict[Any, set[str]] = {}
    for key, cur, day, n, amount in rows:
        counts[key] = counts.get(key, 0) + n
        part = parts.setdefault(key, {})
        part[cur] = part.get(cur, ZERO) + amount
        if (cur, day) in day_rates:
            rate = day_rates[cur, day]
        else:
            rate = day_rates[cur, day] = rates.rate(cur, day)
        if rate is None:
            if amount:
                missing.setdefault(key, set()).add(cur)
            continue
        sums[key] = sums.get(key, ZERO) + amount * rate
    if rows:
        counts[ALL] = sum(counts.values())
        sums[ALL] = sum(sums.values(), ZERO)
        everything: dict[str, Decimal] = {}
        for part in list(parts.values()):
            for cur, amount in part.items():
                everything[cur] = everything.get(cur, ZERO) + amount
        parts[ALL] = everything
        missing[ALL] = set().union(*missing.values())
    home = rates.home
    totals = {key: Total(sums.get(key, ZERO).quantize(CENT), home,
                         {cur: amount.quantize(CENT) for cur, amount in parts[key].items()},
                         tuple(sorted(missing.get(key, ())))) for key in parts}
    return counts, totals


def won_statement(user: Any, low: datetime, high: datetime,
                  owner_id: int | None = None) -> Any:
    """Won deals closed in ``[low, high)`` the user may see, per (type, currency, UTC day)."""
    day = func.date(Deal.stage_entered_at)
    query = (select(STATE_TYPE, Deal.currency, day, func.count(),
                    func.sum(func.round(Deal.amount * 100)))
             .select_from(Deal)
             .outerjoin(RelationshipState, RelationshipState.customer_id == Deal.customer_id)
             .where(scope(Deal, user),
                    Deal.stage_id.in_(select(Stage.id).where(Stage.is_won.is_(True))),
                    Deal.stage_entered_at >= low, Deal.stage_entered_at < high)
             .group_by(STATE_TYPE, Deal.currency, day))
    if owner_id is not None:
        query = query.where(Deal.owner_id == owner_id)
    return query


def won_by_type(user: Any, start: date, end: date, owner_id: int | None = None) -> WonByType:
    """Won deals of ``[start, end]`` (UTC days) per customer type now: counts, converted totals
    and their sum. Read from the day sums (``won_ledger``) when the record rule allows, else
    from the deals themselves."""
    usable, owners = summary_owners(Deal, user, owner_id)
    if usable:
        rows = rows_of(day_sums(owners, start, end)) if owners != [] else []
    else:
        low, high = period_bounds(start, end)
        rows = rows_of(won_statement(user, low, high, owner_id))
    counts, totals = add_up(rows, start, end)
    home = company_currency()
    report = WonByType(start, end, home)
    for kind in TYPES:
        report.counts[kind] = counts.get(kind, 0)
        report.totals[kind] = totals.get(kind) or Total(Decimal("0.00"), home)
    report.count = counts.get(ALL, 0)
    report.total = totals.get(ALL) or Total(Decimal("0.00"), home)
    return report
