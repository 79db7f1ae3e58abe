"""Amounts in the company currency: sums kept per (currency, day) and converted at that day's rate.

A won or lost deal counts at the rate of the day it closed, an open deal at today's. Every
figure that adds amounts collects them as ``{(currency, day): amount}`` (one GROUP BY row per
currency and day, never per deal) and :func:`convert` turns that into a
:class:`conveyor.money.Total`: the converted sum, the original amounts per currency, and the
currencies that had no rate on a day they were needed (their amounts are left out and named,
never counted as 0). The rates of the days involved are read in at most two statements
(:class:`RateBook`).
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Date, case, cast, func, literal, select

from conveyor import Total, company_currency, db
from conveyor.models.money import ExchangeRate
from conveyor.types import utcnow

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
Sums = dict[tuple[str, date], Decimal]  # (currency, day) -> amount in that currency


def as_day(value: Any) -> date:
    """A day as the database returns ``date(column)``: a date (PostgreSQL) or text (SQLite)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def day_of(column: Any) -> Any:
    """The UTC day of a timestamp column (stored as naive UTC on both databases)."""
    return func.date(column)


def rate_day(table: Any, first: date, by_month: bool = False) -> Any:
    """The day a summary row's amount converts at: its own day, or for the company currency
    (rate 1 on every day) the fixed day ``first`` — or, ``by_month``, the first of the row's
    month, for figures shown month by month — so that those rows group into one per key and
    the statement returns a row per foreign currency and day only. Exact either way."""
    if by_month:
        if db.session.get_bind().dialect.name == "postgresql":
            home_day: Any = cast(func.date_trunc("month", table.c.day), Date())
        else:
            home_day = func.strftime("%Y-%m-01", table.c.day)
    else:
        home_day = literal(first, Date())
    return case((table.c.currency == company_currency(), home_day), else_=table.c.day)


def today() -> date:
    return utcnow().date()


class RateBook:
    """The rates of some currencies over a range of days, read in one statement; ``rate(c, d)``
    is the latest on or before ``d``, as ``conveyor.money.rates_on`` defines it."""

    def __init__(self, currencies: Iterable[str], first: date, last: date) -> None:
        home = company_currency()
        self.home = home
        wanted = sorted({c for c in currencies if c and c != home})
        self.series: dict[str, tuple[list[date], list[Decimal]]] = {}
        if not wanted:
            return
        # In one statement: each currency's latest rate on or before the first day (as
        # ``rates_on(wanted, first)`` gives it) and every one after it up to the last day.
        days: dict[str, list[date]] = {}
        values: dict[str, list[Decimal]] = {}
        r = ExchangeRate.__table__
        before = ExchangeRate.__table__.alias("before")
        latest = (select(func.max(before.c.day))
                  .where(before.c.currency == r.c.currency, before.c.day <= first)
                  .correlate(r).scalar_subquery())
        for currency, day, rate in db.session.execute(
                select(r.c.currency, r.c.day, r.c.rate)
                .where(r.c.currency.in_(wanted), r.c.day <= last,
                       r.c.day >= func.coalesce(latest, first))
                .order_by(r.c.currency, r.c.day)):
            days.setdefault(currency, []).append(as_day(day))
            values.setdefault(currency, []).append(Decimal(rate))
        self.series = {c: (days[c], values[c]) for c in days}

    def rate(self, currency: str, day: date) -> Decimal | None:
        """Units of the company currency per unit of ``currency`` on ``day``; None: no rate."""
        if currency == self.home:
            return Decimal(1)
        found = self.series.get(currency)
        if found is None:
            return None
        i = bisect_right(found[0], day)
        return found[1][i - 1] if i else None


def book_for(*groups: Sums) -> RateBook:
    """A rate book covering every (currency, day) of ``groups``."""
    keys = [k for g in groups for k in g]
    if not keys:
        return RateBook((), today(), today())
    return RateBook({c for c, _d in keys}, min(d for _c, d in keys), max(d for _c, d in keys))


def convert(sums: Sums, book: RateBook | None = None) -> Total:
    """Add ``{(currency, day): amount}`` in the company currency, each at its day's rate,
    rounded once at the end; currencies without a rate on some day are named in ``missing``."""
    book = book or book_for(sums)
    home = book.home
    total = Decimal(0)
    parts: dict[str, Decimal] = {}
    missing: set[str] = set()
    for (currency, day), amount in sums.items():
        amount = Decimal(amount)
        parts[currency] = parts.get(currency, ZERO) + amount
        if not amount:
            continue
        rate = book.rate(currency, day)
        if rate is None:
            missing.add(currency)
            continue
        total += amount * rate
    return Total(total.quantize(CENT, rounding=ROUND_HALF_UP), home,
                 {c: a.quantize(CENT) for c, a in parts.items()}, tuple(sorted(missing)))


def add(sums: Sums, currency: str, day: date, amount: Any) -> None:
    key = (currency, day)
    sums[key] = sums.get(key, ZERO) + Decimal(amount or 0)


def scaled(total: Total, percent: int) -> Total:
    """``total`` × ``percent`` / 100 (a weighted amount), the same currencies missing."""
    def w(value: Decimal) -> Decimal:
        return (value * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)

    return Total(w(total.amount), total.currency, {c: w(a) for c, a in total.parts.items()},
                 total.missing)


def empty() -> Total:
    return Total(ZERO, company_currency(), {}, ())


def merge(*totals: Total) -> Total:
    """Totals already converted, added (the original parts per currency added too)."""
    parts: dict[str, Decimal] = {}
    missing: set[str] = set()
    amount = ZERO
    for t in totals:
        amount += t.amount
        missing.update(t.missing)
        for c, a in t.parts.items():
            parts[c] = parts.get(c, ZERO) + a
    return Total(amount, company_currency(), parts, tuple(sorted(missing)))
