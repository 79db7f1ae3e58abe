"""Amounts in the company currency: sums kept per (currency, day) and converted at that day's rate.

A won or lost deal counts at the rate of the day it closed, an open deal at today's. Every
figure that adds amounts collects them as ``{(currency, day): amount}`` (one GROUP BY row per
currency and day, never per deal) and :func:`convert` turns that into a
:class:`conveyor.money.Total`: the converted sum, the original amounts per currency, and the
currencies that had no rate on a day they were needed (their amounts are left out and named,
never counted as 0). The rates of the days involved are read in one statement
(:class:`conveyor.RateBook`).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Date, case, cast, func, literal, select

from conveyor import RateBook, Total, company_currency, db
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


# --- exact sums over many rows, in integers ------------------------------------------------
# A figure over the whole company and a year reads tens of thousands of (owner, currency, day)
# rows; carrying each through Decimal, a dict of sums and a bisect for its rate cost more than
# the statement. Amounts come from SQL as whole cents (``cents``), rates as whole units of
# 1e-10 (the column's scale), so a converted sum is an exact integer in units of 1e-12 of the
# company currency: the same figure as adding the Decimals, rounded once at the end.

RATE_SCALE = 10


def cents(expr: Any) -> Any:
    """A sum of amounts (two decimal places) as whole cents, exactly: on SQLite a REAL sum of
    cents is exact to well under half a cent (below 2**53 / 100), on PostgreSQL a numeric."""
    from sqlalchemy import BigInteger, Integer

    if db.session.get_bind().dialect.name == "postgresql":
        return cast(func.coalesce(expr, 0) * 100, BigInteger())
    return cast(func.round(func.coalesce(expr, 0) * 100), Integer())


def period_day(table: Any, starts: list[date]) -> Any:
    """As :func:`rate_day` for consecutive periods beginning on ``starts`` (sorted): the
    company currency's rows group into one per period (the day its period starts)."""
    home = company_currency()
    whens = [(table.c.day >= s, literal(s, Date())) for s in sorted(starts, reverse=True)]
    return case((table.c.currency == home, case(*whens, else_=literal(starts[0], Date()))),
                else_=table.c.day)


class RateInts:
    """Rates as integers (units of 1e-10) per (currency, day as the database returns it),
    looked up in a :class:`RateBook` once per key."""

    def __init__(self, book: RateBook) -> None:
        self.book = book
        self.home = book.home
        self.cache: dict[tuple[str, Any], int | None] = {}

    def __call__(self, currency: str, on: Any) -> int | None:
        key = (currency, on)
        try:
            return self.cache[key]
        except KeyError:
            pass
        rate = self.book.rate(currency, as_day(on))
        value = None if rate is None else int(rate.scaleb(RATE_SCALE))
        if value is not None and Decimal(value).scaleb(-RATE_SCALE) != rate:
            raise ValueError(f"rate {rate} of {currency} has more than {RATE_SCALE} places")
        self.cache[key] = value
        return value


class Exact:
    """A running sum in the company currency: ``units`` of 1e-(12 + extra) (cents × rate
    units, × a percentage when ``extra`` is 2), the cents per original currency, and the
    currencies left out for want of a rate."""

    __slots__ = ("units", "parts", "missing", "extra")

    def __init__(self, extra: int = 0) -> None:
        self.units = 0
        self.parts: dict[str, int] = {}
        self.missing: set[str] = set()
        self.extra = extra

    def add(self, currency: str, amount_cents: int, rate: int | None, factor: int = 1) -> None:
        """Add ``amount_cents`` of ``currency`` at ``rate`` (None: no rate), × ``factor``."""
        self.parts[currency] = self.parts.get(currency, 0) + amount_cents
        if not amount_cents or not factor:  # nothing to convert: no rate needed
            return
        if rate is None:
            self.missing.add(currency)
        else:
            self.units += amount_cents * rate * factor

    def merge(self, other: Exact) -> None:
        """Add another sum of the same kind (a team: its members' sums)."""
        self.units += other.units
        for c, a in other.parts.items():
            self.parts[c] = self.parts.get(c, 0) + a
        self.missing |= other.missing

    def total(self) -> Total:
        """The converted sum rounded once, as :func:`convert` gives it."""
        amount = Decimal(self.units).scaleb(-(2 + RATE_SCALE + self.extra))
        parts = {c: Decimal(a).scaleb(-2).quantize(CENT) for c, a in self.parts.items()}
        return Total(amount.quantize(CENT, rounding=ROUND_HALF_UP), company_currency(), parts,
                     tuple(sorted(self.missing)))


_MISS = object()


def add_rows(exacts: dict[Any, Exact], rows: Iterable[tuple[Any, str, Any, int]],
             rate: RateInts) -> None:
    """Add ``(key, currency, day as returned, cents)`` rows into one :class:`Exact` per key:
    the loop a company's year runs tens of thousands of times, kept to dict look-ups and
    integer arithmetic (what :meth:`Exact.add` does, inlined)."""
    cache = rate.cache
    for key, currency, on, amount in rows:
        exact = exacts.get(key)
        if exact is None:
            exact = exacts[key] = Exact()
        parts = exact.parts
        parts[currency] = parts.get(currency, 0) + amount
        if not amount:
            continue
        r = cache.get((currency, on), _MISS)
        if r is _MISS:
            r = rate(currency, on)
        if r is None:
            exact.missing.add(currency)
        else:
            exact.units += amount * r  # type: ignore[operator]


def convert_cents(sums: dict[tuple[str, Any], int], rate: RateInts) -> Total:
    """:func:`convert` for ``{(currency, day as returned): cents}``: the same Total (each
    key's sum at its day's rate, rounded once, parts per currency, a currency named missing
    only for a non-zero sum without a rate), through :func:`add_rows`."""
    exacts: dict[None, Exact] = {}
    add_rows(exacts, ((None, currency, on, amount) for (currency, on), amount in sums.items()),
             rate)
    return (exacts.get(None) or Exact()).total()


def raw_day(expr: Any) -> Any:
    """A day column as the driver returns it (text on SQLite, a date on PostgreSQL), without
    SQLAlchemy parsing every row's: the rows are keyed by it, and parsed once per key."""
    from sqlalchemy import String, type_coerce

    return type_coerce(expr, String())


# --- converting in SQL (SQLite) ------------------------------------------------------------
# The company's year of won deals is ~30,000 (owner, currency, day) rows at 1M deals: fetching
# them into Python and converting each there cost more than reading them. On SQLite the
# statement converts them itself — each row's rate in force that day by one seek down the
# (currency, day) key, cents × rate units added as integers — and returns a row per owner.
# A 64-bit integer holds cents × rate units of one row, not a year of them (a product of two
# ~1e12 numbers), so the rate units are added in three parts (rate = a·1e10 + b·1e5 + c, each
# part's sum below 2**63 while an owner's period stays under ~1e13 cents); a sum that still
# overflows comes back as a float or an error, and the caller converts in Python instead.

SPLITS = (10**10, 10**5, 1)  # rate units = Σ part × split, each part below 1e5 but the first


def rate_units_at(table: Any) -> Any:
    """The rate of a summary row's currency in force on its day, in integer units of 1e-10
    (NULL without one; the company currency 1): a correlated seek per row, the latest rate on
    or before the day as :class:`conveyor.RateBook` reads it."""
    from sqlalchemy import Integer

    from conveyor.models.money import ExchangeRate

    r = ExchangeRate.__table__
    latest = (select(cast(func.round(r.c.rate * 10**RATE_SCALE), Integer()))
              .where(r.c.currency == table.c.currency, r.c.day <= table.c.day)
              .order_by(r.c.day.desc()).limit(1).scalar_subquery())
    return case((table.c.currency == company_currency(), literal(10**RATE_SCALE)),
                else_=latest)


def unit_parts(cents: Any, rate: Any) -> list[Any]:
    """``cents × rate`` as three products whose sums stay integers (see :data:`SPLITS`)."""
    from sqlalchemy import Integer

    def div(x: Any, n: int) -> Any:  # SQLite's integer division, not SQLAlchemy's true one
        return x.op("/", return_type=Integer())(literal(n))

    def mod(x: Any, n: int) -> Any:
        return x.op("%", return_type=Integer())(literal(n))

    return [cents * div(rate, SPLITS[0]), cents * mod(div(rate, SPLITS[1]), SPLITS[1]),
            cents * mod(rate, SPLITS[1])]


def units_of(parts: Sequence[Any]) -> int | None:
    """The exact sum in units of 1e-12 from :func:`unit_parts`' sums; None when one of them
    is not an integer (a product overflowed into a float): convert in Python then."""
    total = 0
    for value, split in zip(parts, SPLITS):
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        total += value * split
    return total


def total_of(units: int, missing: Iterable[str] = ()) -> Total:
    """A converted sum in units of 1e-12, rounded once (as :meth:`Exact.total`), without the
    parts per currency."""
    amount = Decimal(units).scaleb(-(2 + RATE_SCALE))
    return Total(amount.quantize(CENT, rounding=ROUND_HALF_UP), company_currency(), {},
                 tuple(sorted(set(missing))))
