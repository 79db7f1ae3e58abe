"""Time zones: a user's zone, and the conversions between what they type and what is stored.

Times are stored in UTC; a user types and reads them in ``User.timezone`` (else the configured
``default_timezone``). Day boundaries ("today", "this week") are the user's local ones.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import String, type_coerce


def zone_name(user: Any) -> str:
    """The IANA zone ``user`` reads times in."""
    name = getattr(user, "timezone", None) or current_app.config["CONVEYOR"].get(
        "default_timezone") or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def zone_of(user: Any) -> ZoneInfo:
    return ZoneInfo(zone_name(user))


def local_to_utc(value: datetime, zone: ZoneInfo) -> datetime:
    """A naive local wall time in ``zone`` as an aware UTC moment (``fold=0`` for the hour a
    clock goes back; a time skipped when it goes forward lands an hour later, as clocks do)."""
    return value.replace(tzinfo=zone).astimezone(UTC)


def utc_to_local(value: datetime, zone: ZoneInfo) -> datetime:
    """An aware moment as the naive wall time in ``zone`` (for a datetime-local input)."""
    return value.astimezone(zone).replace(tzinfo=None)


def day_bounds(day: date, zone: ZoneInfo, days: int = 1) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC of ``days`` local days starting with ``day``."""
    start = local_to_utc(datetime.combine(day, time()), zone)
    end = local_to_utc(datetime.combine(day + timedelta(days=days), time()), zone)
    return start, end


def local_today(zone: ZoneInfo, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(zone).date()


def raw_moment(column: Any) -> Any:
    """A UTC datetime column as the driver returns it (SQLite: its text, PostgreSQL: a naive
    datetime), without the column type's conversion: renderings memoized per process are keyed
    by it and convert it only when they miss (:func:`aware_utc`). A page of hundreds of events
    then converts none that it showed before."""
    return type_coerce(column, String()).label(column.key)


def aware_utc(raw: Any) -> datetime:
    """What :func:`raw_moment` read, as an aware UTC datetime."""
    value = datetime.fromisoformat(raw) if isinstance(raw, str) else raw
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
