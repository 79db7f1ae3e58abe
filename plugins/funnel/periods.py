"""Reporting periods: ``[start, end)`` in UTC, calendar months, quarters and years.

The API and the pages take ``from`` and ``to`` as dates, both inclusive; internally a period is
half-open so adjacent periods never count a moment twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from conveyor.i18n import _l
from conveyor.types import utcnow

KINDS = ("month", "quarter", "year", "custom")
MAX_DAYS = 366 * 10 + 3  # a ten-year window is plenty; longer is a typo


class PeriodError(ValueError):
    """A period the user asked for makes no sense (shown as a 400 with this message)."""


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    """The first of the month ``months`` after the month of ``day``."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def quarter_start(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


@dataclass(frozen=True)
class Period:
    start: date  # inclusive
    end: date  # exclusive
    kind: str = "custom"

    @property
    def start_dt(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def end_dt(self) -> datetime:
        return datetime.combine(self.end, time.min, tzinfo=UTC)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def previous(self) -> Period:
        """The period just before: the previous month/quarter/year, or as many days back."""
        months = {"month": 1, "quarter": 3, "year": 12}.get(self.kind)
        if months:
            return Period(add_months(self.start, -months), self.start, self.kind)
        return Period(self.start - timedelta(days=self.days), self.start, "custom")

    def label(self) -> str:
        if self.kind == "month":
            return self.start.strftime("%Y-%m")
        if self.kind == "quarter":
            return f"{self.start.year} Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "year":
            return str(self.start.year)
        return f"{self.start.isoformat()} – {self.last_day.isoformat()}"


def period_of(kind: str, start: date) -> Period:
    """The calendar period of ``kind`` that contains ``start``."""
    if kind == "month":
        first = month_start(start)
        return Period(first, add_months(first, 1), "month")
    if kind == "quarter":
        first = quarter_start(start)
        return Period(first, add_months(first, 3), "quarter")
    if kind == "year":
        first = date(start.year, 1, 1)
        return Period(first, date(start.year + 1, 1, 1), "year")
    raise PeriodError(f"unknown period kind {kind!r}")


def classify(start: date, end: date) -> Period:
    """A period, recognised as a calendar month/quarter/year when it is exactly one."""
    for kind in ("month", "quarter", "year"):
        candidate = period_of(kind, start)
        if candidate.start == start and candidate.end == end:
            return candidate
    return Period(start, end, "custom")


def current(kind: str = "month", today: date | None = None) -> Period:
    return period_of(kind, today or utcnow().date())


def parse_period(start: date | str | None, last_day: date | str | None,
                 today: date | None = None) -> Period:
    """A period from ``from``/``to`` (inclusive dates, ISO strings or dates); the current
    month when both are missing; refuses reversed or absurdly long ranges."""
    first = _as_date(start, "from")
    last = _as_date(last_day, "to")
    today = today or utcnow().date()
    if first is None and last is None:
        return current("month", today)
    if first is None:
        first = month_start(last)  # type: ignore[arg-type]
    if last is None:
        last = max(first, today)
    if last < first:
        raise PeriodError(_l("'to' is before 'from'."))
    end = last + timedelta(days=1)
    if (end - first).days > MAX_DAYS:
        raise PeriodError(_l("The period is longer than ten years."))
    return classify(first, end)


def _as_date(value: date | str | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        parsed = date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise PeriodError(_l("'%(name)s' is not a date (YYYY-MM-DD).", name=name)) from None
    if not 1900 <= parsed.year <= 2999:
        raise PeriodError(_l("'%(name)s' is out of range.", name=name))
    return parsed


def presets(today: date | None = None) -> list[tuple[str, Period]]:
    """Shortcut periods offered on every page."""
    this_month = current("month", today)
    this_quarter = current("quarter", today)
    this_year = current("year", today)
    return [("this_month", this_month), ("last_month", this_month.previous()),
            ("this_quarter", this_quarter), ("last_quarter", this_quarter.previous()),
            ("this_year", this_year), ("last_year", this_year.previous())]
