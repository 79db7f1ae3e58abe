"""Money across currencies: the company currency, dated exchange rates and converted totals.

A rate is how many units of the company currency one unit of a currency was worth on a day; the
rate used for a date is the latest one on or before it. Totals never add amounts of different
currencies as they are: each is converted, and a currency without a rate is named as missing
instead of counting as zero.

The rates in force on a day are kept per process (:func:`rates_on`) under the "rates" change
stamp (conveyor.change_stamps), which :func:`set_rate` and any ORM flush of an
:class:`ExchangeRate` renew: the board, the cards and the home page convert on every view, and
rates change a few times a day at most. A bulk loader writing rates with raw SQL must call
``change_stamps.touch(session, "rates")``.
"""
from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any

from babel import Locale
from babel.numbers import (
    format_compact_currency,
    format_currency,
    get_currency_name,
    get_territory_currencies,
    list_currencies,
)
from flask import current_app
from sqlalchemy import bindparam, event, select, union_all
from sqlalchemy.orm import Session

from . import change_stamps
from .dialects import dialect_module
from .extensions import db
from .i18n import _l
from .models.money import ExchangeRate

ONE = Decimal(1)
CENT = Decimal("0.01")
STAMP = "rates"
RATES_KEPT = 512  # (currencies, day) answers kept per process; beyond, the memo starts afresh


class RateError(ValueError):
    """A rate or a currency that can't be stored; ``field`` names the culprit."""

    def __init__(self, field: str, message: Any) -> None:
        super().__init__(str(message))
        self.field, self.message = field, message


def company_currency() -> str:
    """The currency every total is shown in (setting ``company_currency``; empty: the
    ``default_currency`` of new deals)."""
    config = current_app.config["CONVEYOR"]
    return (config.get("company_currency") or config["default_currency"]).upper()


@cache
def iso_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def normalize_currency(code: Any) -> str:
    """``"cny"`` → ``"CNY"``; anything that is not an ISO 4217 code raises :class:`RateError`."""
    text = str(code or "").strip().upper()
    if text not in iso_currencies():
        raise RateError("currency", _l("%(code)s is not an ISO 4217 currency code",
                                        code=str(code)[:20]))
    return text


def currency_choices(locale: str, keep: Iterable[str | None] = ()) -> list[tuple[str, str]]:
    """The currency select of every form: ISO 4217 codes in use today, named in ``locale``, the
    company currency first, then by code. ``keep``: codes the record already holds (a deal in a
    currency withdrawn since) stay choosable, so saving it unchanged is not refused."""
    choices = list(_currency_choices(company_currency(), str(locale), _today()))
    have = {code for code, _label in choices}
    extra = sorted({c for c in keep if c and c not in have and c in iso_currencies()})
    return choices + [(code, f"{code} — {get_currency_name(code, locale=str(locale))}")
                      for code in extra]


def _today() -> date:
    from .types import utcnow

    return utcnow().date()


@lru_cache(maxsize=2)
def current_currencies(day: date) -> frozenset[str]:
    """The codes some territory uses as legal tender on ``day`` (CLDR, through Babel):
    ``list_currencies`` alone starts with withdrawn ones (ADP, AFA, ALK, …) that nobody can be
    paid in. Worked out once a day (~60 ms)."""
    codes: set[str] = set()
    for territory in Locale("en").territories:
        if len(territory) == 2 and territory.isalpha():
            codes.update(get_territory_currencies(territory, day))
    return frozenset(codes & iso_currencies())


@lru_cache(maxsize=16)
def _currency_choices(first: str, locale: str, day: date) -> tuple[tuple[str, str], ...]:
    """Built once per language, company currency and day: naming the currencies took a few
    milliseconds of every deal form, shown or posted."""
    codes = [first, *sorted(c for c in current_currencies(day) if c != first)]
    return tuple((code, f"{code} — {get_currency_name(code, locale=locale)}") for code in codes)


COMPACT_FROM = Decimal(10_000)


def compact_money(amount: Decimal | int, currency: str, locale: str) -> str:
    """CLDR's compact form for summaries: "35,1 млн ₽", "¥351万", "$35.1M" — from ten thousand
    up; below that the exact amount reads as easily. Memoized: Babel takes ~0.3 ms a call and
    the home page shows twenty totals."""
    return _compact_money(Decimal(amount), currency, locale)


@lru_cache(maxsize=4096)
def _compact_money(amount: Decimal, currency: str, locale: str) -> str:
    if abs(amount) < COMPACT_FROM:
        return format_currency(amount, currency, locale=locale)
    return format_compact_currency(amount, currency, locale=locale, fraction_digits=1)


RATE_DAYS_AHEAD = 366


def check_rate_day(day: date) -> date:
    """``day`` if a rate may be stored for it, else :class:`RateError` on ``date``: within the
    calendar and at most a year ahead (banks publish a rate for the next day, not for 2090; a
    far-future rate typed by mistake would silently become the rate of every later total).
    The one check behind the admin form, the API and the CSV import (all go through
    :func:`set_rate`)."""
    from .types import utcnow

    if not (date(1900, 1, 1) <= day <= date(2999, 12, 31)):
        raise RateError("date", _l("the date is out of range"))
    last = utcnow().date() + timedelta(days=RATE_DAYS_AHEAD)
    if day > last:
        raise RateError("date", _l("a rate can be entered at most a year ahead (until "
                                   "%(last)s)", last=last.isoformat()))
    return day


def set_rate(currency: str, day: date, rate: Any, by: Any = None) -> None:
    """Store (or replace) ``currency``'s rate on ``day``, in the caller's transaction."""
    _store_rate(currency, day, rate, by)
    change_stamps.touch(db.session(), STAMP)


def _store_rate(currency: str, day: date, rate: Any, by: Any) -> None:
    """:func:`set_rate` without renewing the stamp (an import renews it once)."""
    currency = normalize_currency(currency)
    if currency == company_currency():
        raise RateError("currency", _l("%(code)s is the company currency: its rate is always 1",
                                        code=currency))
    try:
        value = Decimal(str(rate).strip().replace(",", "."))
    except InvalidOperation as exc:
        raise RateError("rate", _l("not a number")) from exc
    if not value.is_finite() or value <= 0 or value >= Decimal("1e9"):
        raise RateError("rate", _l("must be a positive number below one billion"))
    check_rate_day(day)
    table = ExchangeRate.__table__
    values = {"currency": currency, "day": day, "rate": value.quantize(Decimal("1e-10")),
              "by_id": getattr(by, "id", None)}
    name = db.session.get_bind().dialect.name
    dialect = dialect_module(name)
    if dialect is None:  # pragma: no cover - the two supported databases upsert in one statement
        db.session.merge(ExchangeRate(**values))
        return
    from .types import utcnow

    stmt = dialect.insert(table).values(**values, created_at=utcnow())
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=[table.c.currency, table.c.day],
        set_={"rate": stmt.excluded.rate, "by_id": stmt.excluded.by_id}))


def rates_on(currencies: Iterable[str], day: date) -> dict[str, Decimal]:
    """The rate of each currency on ``day`` (latest on or before it), in one statement or from
    the process's memo while the "rates" stamp stands; the company currency is 1; currencies
    without a rate are absent."""
    wanted = {c for c in currencies if c}
    home = company_currency()
    out = {home: ONE} if home in wanted else {}
    others = tuple(sorted(wanted - {home}))
    if not others:
        return out
    stamp = change_stamps.current(STAMP)
    memo = current_app.extensions.get("conveyor_rates")
    if stamp is None or memo is None or memo[0] != stamp or len(memo[1]) >= RATES_KEPT:
        memo = (stamp, {})
        if stamp is not None:
            current_app.extensions["conveyor_rates"] = memo
    found = memo[1].get((others, day))
    if found is None:
        rows = db.session.execute(_rates_statement(others), {"day": day})
        found = memo[1][(others, day)] = {currency: Decimal(rate) for currency, rate in rows}
    out.update(found)
    return out


@event.listens_for(Session, "after_flush")
def _renew_stamp(session: Session, flush_context: Any) -> None:
    """A flush that added, changed or removed a rate renews the stamp in its own transaction."""
    changed = (*session.new, *session.deleted,
               *(obj for obj in session.dirty if session.is_modified(obj)))
    if any(isinstance(obj, ExchangeRate) for obj in changed):
        change_stamps.touch(session, STAMP)


class RateBook:
    """The rates of some currencies over the days ``[first, last]``: :meth:`rate` answers the
    latest on or before a day, as :func:`rates_on` defines it, for figures that convert each
    day's sums at that day's rate (a period's won deals, a chart by month).

    One statement: per currency, one seek for the rate in force on ``first`` and one range of
    the (currency, day) key up to ``last`` — never a scan of a currency's whole history (a
    correlated "latest before" per row cost 15 ms with two years of daily rates).
    """

    def __init__(self, currencies: Iterable[str], first: date, last: date) -> None:
        self.home = company_currency()
        wanted = sorted({c for c in currencies if c and c != self.home})
        self.series: dict[str, tuple[list[date], list[Decimal]]] = {}
        if not wanted:
            return
        rows = db.session.connection().execute(
            _rate_book_statement(tuple(wanted)), {"first": first, "last": last}).all()
        series: dict[str, list[tuple[date, Decimal]]] = {}
        for currency, day, rate in rows:
            series.setdefault(currency, []).append((_as_day(day), Decimal(rate)))
        for currency, points in series.items():
            points.sort()
            self.series[currency] = ([d for d, _r in points], [v for _d, v in points])

    def rate(self, currency: str, day: date) -> Decimal | None:
        """Units of the company currency per unit of ``currency`` on ``day``; None: no rate."""
        if currency == self.home:
            return ONE
        found = self.series.get(currency)
        if found is None:
            return None
        i = bisect_right(found[0], day)
        return found[1][i - 1] if i else None


@lru_cache(maxsize=64)
def _rate_book_statement(wanted: tuple[str, ...]) -> Any:
    """Built once per set of currencies: building the union costs more than running it."""
    r = ExchangeRate.__table__
    first, last = bindparam("first", type_=r.c.day.type), bindparam("last", type_=r.c.day.type)
    parts = []
    for code in wanted:
        parts.append(select(r.c.currency, r.c.day, r.c.rate)
                     .where(r.c.currency == code, r.c.day <= first)
                     .order_by(r.c.day.desc()).limit(1).subquery())
        parts.append(select(r.c.currency, r.c.day, r.c.rate)
                     .where(r.c.currency == code, r.c.day > first, r.c.day <= last)
                     .subquery())
    return union_all(*[select(p.c.currency, p.c.day, p.c.rate) for p in parts])


def _as_day(value: Any) -> date:
    """SQLite answers a Date column's value as a date already; text is tolerated all the same."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
@lru_cache(maxsize=64)
def _rates_statement(codes: tuple[str, ...]) -> Any:
    """Each currency's latest rate on or before ``:day`` by one seek down the (currency, day)
    index (a GROUP BY over every rate up to the day read two years of daily rates: 0.8 ms for
    four currencies, on every board and home page). Built once per set of currencies: building
    the UNION ALL cost more than running it (~0.3 ms of Python on every board, card and home
    page)."""
    r = ExchangeRate.__table__
    day = bindparam("day")
    latest = [select(r.c.currency, r.c.rate).where(r.c.currency == code, r.c.day <= day)
              .order_by(r.c.day.desc()).limit(1).subquery() for code in codes]
    return union_all(*[select(sub.c.currency, sub.c.rate) for sub in latest])


@dataclass
class Total:
    """A sum in the company currency, with the amounts it was made of (by currency) and the
    currencies that could not be converted (their amounts are not in ``amount``)."""

    amount: Decimal
    currency: str
    parts: dict[str, Decimal] = field(default_factory=dict)
    missing: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.missing


def convert_total(amounts: dict[str, Decimal], day: date,
                  rates: dict[str, Decimal] | None = None) -> Total:
    """Add ``{currency: amount}`` in the company currency at the rates of ``day``."""
    rates = rates if rates is not None else rates_on(amounts, day)
    total, missing = Decimal(0), []
    for currency, amount in sorted(amounts.items()):
        rate = rates.get(currency)
        if rate is None:
            if amount:
                missing.append(currency)
            continue
        total += Decimal(amount) * rate
    return Total(total.quantize(CENT), company_currency(), dict(amounts), tuple(missing))


def _rates_dialect(text: str) -> Any:
    """The table's delimiter: sniffed, or — when the sample is too uniform to sniff (one
    column, a short row) — the first of ``,;\t`` its header line holds (a comma otherwise)."""
    sample = text[:2048]
    if not sample.strip():
        return csv.excel
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        lines = sample.splitlines()
        delimiter = next((d for d in ",;\t" if lines and d in lines[0]), ",")
        return type("RatesTable", (csv.excel,), {"delimiter": delimiter})


def _unreadable(number: int) -> RateError:
    return RateError("file", _l("line %(number)s: cannot read a date and a rate",
                                number=number))


def parse_rates_csv(text: str) -> list[tuple[str, date, Decimal]]:
    """(currency, day, rate) of each row of a published rates table (:func:`_numbered_rates`)."""
    return [row[1:] for row in _numbered_rates(text)]


def _numbered_rates(text: str) -> list[tuple[int, str, date, Decimal]]:
    """Rows of a published rates table: columns ``date``, ``currency`` (or ``code``) and ``rate``
    (or ``value``), optionally ``nominal`` (units the rate is quoted for, as the Bank of Russia
    publishes: 10 CNY = 1,4 RUB). Comma or semicolon separated, decimal comma accepted. Every
    refusal is a :class:`RateError` on ``file`` naming the line — a NUL byte, a field past the
    csv module's limit or an unknown currency included — never a crash of the reader."""
    reader = csv.DictReader(io.StringIO(text), dialect=_rates_dialect(text))
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise _unreadable(1) from exc
    fields = {name.strip().lower(): name for name in header}
    need = {"date": ("date", "day"), "currency": ("currency", "code", "charcode"),
            "rate": ("rate", "value", "curs")}
    found = {}
    for key, names in need.items():
        column = next((fields[n] for n in names if n in fields), None)
        if column is None:
            raise RateError("file", _l("no %(column)s column (looked for %(names)s)", column=key,
                                       names=", ".join(names)))
        found[key] = column
    nominal = fields.get("nominal")
    rows = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # the line being read is not counted yet
            raise _unreadable(reader.line_num + 1) from exc
        number = reader.line_num  # the file's line, blank lines and quoted breaks counted
        try:
            day = date.fromisoformat(row[found["date"]].strip())
            value = Decimal(row[found["rate"]].strip().replace(",", "."))
            units = Decimal(row[nominal].strip().replace(",", ".")) if nominal and \
                (row.get(nominal) or "").strip() else ONE
            if not units.is_finite() or units <= 0:
                raise InvalidOperation
        except (ValueError, InvalidOperation, AttributeError) as exc:
            raise _unreadable(number) from exc
        try:
            currency = normalize_currency(row[found["currency"]] or "")
        except RateError as exc:
            raise RateError("file", _l("line %(number)s: %(why)s", number=number,
                                       why=exc.message)) from exc
        rows.append((number, currency, day, value / units))
    if not rows:
        raise RateError("file", _l("the table has no rates"))
    return rows


def import_rates(text: str, by: Any = None) -> int:
    """Store every rate of a CSV table (all or nothing: a bad line stores none, and the message
    names the line)."""
    rows = _numbered_rates(text)
    for number, currency, day, rate in rows:
        try:
            _store_rate(currency, day, rate, by)
        except RateError as exc:
            raise RateError("file", _l("line %(number)s: %(why)s", number=number,
                                       why=exc.message)) from exc
    if rows:
        change_stamps.touch(db.session(), STAMP)
    return len(rows)

