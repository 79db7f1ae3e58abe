"""Recurring tasks: a series keeps the rule and the local time in its zone; its occurrences are
ordinary activities made up to a horizon (setting ``activities.series_horizon_days``) and
extended by a daily job. Each occurrence is the local time on its local date converted to UTC
on its own, so a 09:00 Europe/Berlin task stays 09:00 local across daylight-saving changes.
"""
from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select

from conveyor import db, setting
from conveyor.i18n import _
from conveyor.types import utcnow

from .models import FREQUENCIES, Activity, Series
from .next_steps import forget_deleted
from .services import ActivityError, _clean, compute_remind_at
from .zones import local_to_utc, local_today, zone_name

MAX_OCCURRENCES = 400


def _add_months(day: date, months: int, day_of_month: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day_of_month, calendar.monthrange(year, month)[1]))


def local_dates(series: Series, start: date, end: date) -> Iterator[date]:
    """The series' local dates in ``[start, end)`` (and within its own start and until)."""
    first = series.start_date
    last = min(end, series.until + timedelta(days=1)) if series.until else end
    step = max(series.interval or 1, 1)
    if series.frequency == "monthly":
        k = 0
        while True:
            day = _add_months(first, k * step, first.day)
            if day >= last:
                return
            if day >= start:
                yield day
            k += 1
    if series.frequency == "weekdays":
        day = max(first, start)
        while day < last:
            if day.weekday() < 5:
                yield day
            day += timedelta(days=1)
        return
    days = step * (7 if series.frequency == "weeks" else 1)
    skip = max((start - first).days, 0)
    day = first + timedelta(days=-(-skip // days) * days)
    while day < last:
        yield day
        day += timedelta(days=days)


def generate(series: Series, until: date, now: datetime | None = None,
             skip: frozenset[date] = frozenset()) -> int:
    """Make the occurrences after ``series.generated_until`` up to ``until`` (inclusive), but
    none on the local dates in ``skip`` (occurrences kept from before an edit)."""
    now = now or utcnow()
    zone = ZoneInfo(series.timezone)
    start = (series.generated_until + timedelta(days=1)) if series.generated_until \
        else series.start_date
    made = 0
    for day in local_dates(series, start, until + timedelta(days=1)):
        if day in skip:
            continue
        due_at = local_to_utc(datetime.combine(day, series.local_time), zone)
        activity = Activity(
            kind=series.kind, title=series.title, notes=series.notes, due_at=due_at,
            duration_minutes=series.duration_minutes, assignee_id=series.assignee_id,
            creator_id=series.creator_id, customer_id=series.customer_id,
            deal_id=series.deal_id, visit_kind=series.visit_kind, status="planned", result="",
            reminder_minutes=series.reminder_minutes, series_id=series.id)
        activity.remind_at = compute_remind_at(activity, now)
        db.session.add(activity)
        made += 1
        if made >= MAX_OCCURRENCES:
            until = day
            break
    series.generated_until = max(until, series.generated_until or until)
    db.session.flush()
    return made


def horizon(series: Series) -> date:
    """The last local date whose occurrence exists: the horizon ahead of today (or of the
    series' start, for a series that starts later)."""
    zone = ZoneInfo(series.timezone)
    until = max(local_today(zone), series.start_date) + timedelta(
        days=int(setting("activities.series_horizon_days")))
    return min(until, series.until) if series.until else until


RULE_FIELDS = ("frequency", "interval", "start_date", "until", "local_time")


def _rule(data: dict[str, Any]) -> dict[str, Any]:
    frequency = data.get("frequency")
    if frequency not in FREQUENCIES:
        raise ActivityError("frequency", _("Choose how often it repeats."))
    interval = int(data.get("interval") or 1)
    if not 1 <= interval <= 365:
        raise ActivityError("interval", _("Every 1 to 365."))
    start, until = data.get("start_date"), data.get("until")
    if not isinstance(start, date):
        raise ActivityError("due_at", _("Give the date and time it is due."))
    if until is not None and until < start:
        raise ActivityError("until", _("The end is before the start."))
    if not isinstance(data.get("local_time"), time):
        raise ActivityError("due_at", _("Give the date and time it is due."))
    return {"frequency": frequency, "interval": interval, "start_date": start, "until": until,
            "local_time": data["local_time"]}


def _template(data: dict[str, Any], by: Any, zone: ZoneInfo) -> dict[str, Any]:
    probe = dict(data, due_at=local_to_utc(datetime.combine(data["start_date"],
                                                            data["local_time"]), zone))
    values = _clean({k: v for k, v in probe.items() if k in (
        "kind", "title", "notes", "due_at", "duration_minutes", "assignee_id", "customer_id",
        "deal_id", "visit_kind", "reminder_minutes")}, by)
    values.pop("due_at", None)
    return values


def create_series(data: dict[str, Any], *, by: Any) -> Series:
    """A recurring task in ``by``'s zone: ``frequency`` (days, weeks, weekdays, monthly),
    ``interval``, ``start_date``, ``local_time``, ``until`` and the activity's own fields."""
    zone_key = zone_name(by)
    zone = ZoneInfo(zone_key)
    rule = _rule(data)
    template = _template({**data, **rule}, by, zone)
    series = Series(timezone=zone_key, creator_id=by.id, **rule, **{"notes": "", **template})
    db.session.add(series)
    db.session.flush()
    generate(series, horizon(series))
    return series


def update_series(series: Series, data: dict[str, Any], *, by: Any,
                  now: datetime | None = None) -> Series:
    """Change the rule or the template: planned occurrences from now on are made anew; the past
    and the closed ones stay as they were."""
    now = now or utcnow()
    zone = ZoneInfo(series.timezone)
    rule = _rule(data)
    template = _template({**data, **rule}, by, zone)
    for key, value in {**rule, **template}.items():
        setattr(series, key, value)
    _delete_coming(series, now)
    today = local_today(zone, now)
    series.generated_until = max(today, series.start_date) - timedelta(days=1)
    kept = frozenset(a.astimezone(zone).date() for a in db.session.scalars(
        select(Activity.due_at).where(Activity.series_id == series.id, Activity.due_at >= (
            local_to_utc(datetime.combine(today, time()), zone)))))
    generate(series, horizon(series), now, skip=kept)
    db.session.flush()
    return series


def stop_series(series: Series, now: datetime | None = None) -> None:
    """End the series: its planned occurrences from now on are removed."""
    now = now or utcnow()
    series.active = False
    _delete_coming(series, now)


def _delete_coming(series: Series, now: datetime) -> None:
    """Delete the series' planned occurrences from ``now`` on, in one statement that returns
    their deals, whose counts of planned activities (the next-step summary) lose them."""
    deals = db.session.execute(delete(Activity).where(
        Activity.series_id == series.id, Activity.status == "planned",
        Activity.due_at >= now).returning(Activity.deal_id)
        .execution_options(synchronize_session=False)).scalars().all()
    forget_deleted(db.session.connection(), list(deals))


def extend_all(now: datetime | None = None) -> int:
    """The ``activities.extend_series`` job: make occurrences up to the horizon."""
    made = 0
    for series in db.session.scalars(select(Series).where(Series.active.is_(True))):
        until = horizon(series)
        if series.generated_until is None or series.generated_until < until:
            made += generate(series, until, now)
    return made
