"""Calls and leads found per telemarketer per period: one GROUP BY query, any number of rows.

Periods are UTC calendar days, ISO weeks (named by their Monday) and months. The bucket is
computed by the database (``date_trunc`` on PostgreSQL, ``strftime``/``date`` on SQLite), so no
call is ever loaded into Python to be counted.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select

from conveyor import db

from .models import Call
from .services import visible_calls

PERIODS = ("day", "week", "month")
MAX_DAYS = 3660


@dataclass
class StatRow:
    period: str
    owner_id: int
    calls: int
    interested: int
    leads: int
    no_answer: int
    call_back: int
    not_interested: int


def period_expr(column: Any, period: str) -> ColumnElement[str]:
    """The period a timestamp falls in, as text: 2026-11-23 (day, week's Monday) or 2026-11."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}")
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        pattern = "YYYY-MM" if period == "month" else "YYYY-MM-DD"
        return func.to_char(func.date_trunc(period, column), pattern)
    if dialect == "sqlite":
        if period == "day":
            return func.strftime("%Y-%m-%d", column)
        if period == "week":  # the Sunday on or after, minus six days: that week's Monday
            return func.date(column, "weekday 0", "-6 days")
        return func.strftime("%Y-%m", column)
    raise NotImplementedError(f"call statistics are not written for {dialect}")


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end + 1 day 00:00) in UTC: ``end`` is inclusive, as people read it."""
    return (datetime.combine(start, time.min, UTC),
            datetime.combine(end + timedelta(days=1), time.min, UTC))


def call_stats(user: Any, period: str, start: date, end: date,
               owner_id: int | None = None) -> list[StatRow]:
    """Counts per (period, telemarketer) over the calls ``user`` may see, newest period first."""
    low, high = day_bounds(start, end)
    bucket = period_expr(Call.created_at, period).label("period")

    def count_result(name: str) -> Any:
        return func.coalesce(func.sum(case((Call.result == name, 1), else_=0)), 0)

    query = (
        select(bucket, Call.owner_id, func.count(Call.id),
               func.coalesce(func.sum(case((Call.interested.is_(True), 1), else_=0)), 0),
               func.count(func.distinct(Call.lead_id)),
               count_result("no_answer"), count_result("call_back"),
               count_result("not_interested"))
        .where(visible_calls(user), Call.created_at >= low, Call.created_at < high)
        .group_by(bucket, Call.owner_id)
        .order_by(bucket.desc(), Call.owner_id)
    )
    if owner_id is not None:
        query = query.where(Call.owner_id == owner_id)
    return [StatRow(str(p), o, int(c), int(i), int(le), int(na), int(cb), int(ni))
            for p, o, c, i, le, na, cb, ni in db.session.execute(query)]


def totals(rows: list[StatRow]) -> dict[int, dict[str, int]]:
    """Per telemarketer over the whole range (summing the rows already fetched)."""
    out: dict[int, dict[str, int]] = {}
    for row in rows:
        t = out.setdefault(row.owner_id, {"calls": 0, "interested": 0, "leads": 0})
        t["calls"] += row.calls
        t["interested"] += row.interested
        t["leads"] += row.leads
    return out
