"""Time in stage (median and 90th percentile per stage) and stalled deals.

A *stay* starts with a history row into a stage and ends at the deal's next history row.
Only completed stays count towards the statistics (a stay still running has no length yet;
counting it "to now" would let the stalled deals themselves raise the bar they are judged by).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, select, true, type_coerce, union_all
from sqlalchemy.types import NullType

from conveyor import db, setting
from conveyor.models import User
from conveyor.queries import written_limit
from conveyor.types import utcnow

from .durations import STAY, figures, grouped_by_hour
from .periods import Period, add_months, month_start
from .sqlparts import (
    D,
    H,
    PipelineInfo,
    StageInfo,
    deals_in_period,
    money,
    T,
)

DAY = 86400.0
CACHE_KEY = "funnel_thresholds"


@dataclass
class DwellRow:
    stage: StageInfo
    stays: int = 0
    median_days: float | None = None
    p90_days: float | None = None
    mean_days: float | None = None


def stays(pipe: PipelineInfo, owners: list[int] | None, start: datetime,
          until: datetime) -> Any:
    """Subquery of stays (stage_id, entered_at, left_at) of the deals that may have left a stage
    in ``[start, until)`` (``deals_in_period``), entered before ``until``; ``left_at`` is NULL
    while the deal is still there (or when it left after ``until``). Only those deals' history
    is read, so the cost follows the selection rather than the company's whole history."""
    left_at = func.lead(H.c.at).over(partition_by=H.c.deal_id, order_by=(H.c.at, H.c.id))
    deals = deals_in_period(pipe, owners, start, until)
    # Filtering stages here would make the database read the history through the
    # (to_stage_id, at) index and sort it; the caller filters stages on the stays instead.
    query = (select(H.c.to_stage_id.label("stage_id"), H.c.at.label("entered_at"),
                    left_at.label("left_at"))
             .select_from(deals.join(H, H.c.deal_id == deals.c.deal_id))
             .where(H.c.at < until))
    return query.subquery()


def dwell(pipe: PipelineInfo, period: Period, owners: list[int] | None) -> list[DwellRow]:
    """Stays in open stages that ended within the period, per stage: median, 90th percentile
    (in whole hours, durations.py) and mean, from the kept histograms."""
    open_ids = pipe.ids_where(open_=True)

    def edges(start: datetime, end: datetime) -> Any:
        src = stays(pipe, owners, start, end)
        return db.session.execute(grouped_by_hour(
            src.c.stage_id, src.c.entered_at, src.c.left_at,
            [src.c.left_at >= start, src.c.left_at < end, src.c.stage_id.in_(open_ids)], src))

    found = figures(STAY, {sid: [sid] for sid in open_ids}, owners, period, (0.5, 0.9), edges)
    out = []
    for stage in pipe.open_stages:
        f = found.get(stage.id)
        out.append(DwellRow(stage, f.n, f.percentiles[0.5], f.percentiles[0.9], f.mean_days)
                   if f is not None else DwellRow(stage))
    return out


def configured_days() -> dict[str, float]:
    """``funnel.stalled_days``: {stage id or stage name: days}; a JSON string from the
    environment works too."""
    raw = setting("funnel.stalled_days") or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = {}
    out = {}
    for key, value in (raw.items() if isinstance(raw, dict) else ()):
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def thresholds(pipe: PipelineInfo) -> dict[int, tuple[float, str]]:
    """Seconds after which a deal in each open stage counts as stalled, and where the figure
    comes from ("setting" or "p90"). The p90 is everyone's, over the completed stays that ended
    since the first of the month ``funnel.stalled_history_days`` ago (whole months: read from
    the kept histograms); it is cached per process for
    ``funnel.threshold_cache_seconds``."""
    configured = configured_days()
    ttl = float(setting("funnel.threshold_cache_seconds"))
    cache = current_app.extensions.setdefault(CACHE_KEY, {})
    hit = cache.get(pipe.id)
    if hit is not None and time.monotonic() - hit[0] < ttl:
        p90 = hit[1]
    else:
        today = utcnow().date()
        since = today - timedelta(days=int(setting("funnel.stalled_history_days")))
        window = Period(month_start(since), add_months(month_start(today), 1))
        p90 = {r.stage.id: r.p90_days * DAY for r in dwell(pipe, window, None)
               if r.p90_days is not None}
        cache[pipe.id] = (time.monotonic(), p90)
    out: dict[int, tuple[float, str]] = {}
    for stage in pipe.open_stages:
        days = configured.get(str(stage.id), configured.get(stage.name))
        if days is not None:
            out[stage.id] = (days * DAY, "setting")
        elif stage.id in p90:
            out[stage.id] = (p90[stage.id], "p90")
    return out


@dataclass(slots=True)
class StalledDeal:
    id: int
    title: str
    owner_id: int | None
    owner: str
    stage: StageInfo
    entered_at: datetime
    days: float
    threshold_days: float
    amount: Decimal
    currency: str


def _owner_groups(owners: list[int] | None, first: int | None) -> tuple[str, int]:
    """How a statement names the owners: everyone ("all"), one ``owner_id = ?`` range per
    owner ("each"), or an IN list ("in")."""
    if owners is None:
        return "all", 0
    if len(owners) == 1 or (first is not None and 1 < len(owners) <= 32):
        return "each", len(owners)
    return "in", len(owners)


def _owner_params(owners: list[int] | None, how: str) -> dict[str, Any]:
    if how == "each":
        return {f"o{j}": o for j, o in enumerate(owners or ())}
    return {} if how == "all" else {"owners": list(owners or ())}


def _owner_where(column: Any, how: str, j: int) -> Any:
    if how == "each":
        return column == bindparam(f"o{j}")
    return true() if how == "all" else column.in_(bindparam("owners", expanding=True))


def _cut(stage_id: int) -> Any:
    return bindparam(f"cut{stage_id}", type_=D.c.stage_entered_at.type)


def _cut_params(stage_ids: tuple[int, ...], limits: dict[int, tuple[float, str]],
                now: datetime) -> dict[str, Any]:
    return {f"cut{sid}": now - timedelta(seconds=limits[sid][0]) for sid in stage_ids}


@lru_cache(maxsize=128)
def stalled_deals(stage_ids: tuple[int, ...], how: str, n_owners: int,
                  first: int | None = None, merged: bool = False) -> Any:
    """Subquery (id, stage_entered_at) of the open deals past their stage's threshold (bind
    parameters ``cut<stage id>``, and the owners as :func:`_owner_params` gives them): one
    range of ``ix_deals_owner_stage_entered`` (or, for everyone, ``ix_deals_stage_entered``)
    per owner and stage, read from the index alone. With ``first``, only each stage's
    ``first`` longest-waiting, in the index's order: the list shows the longest-waiting of
    all, so the union is merged in that order and stops after ``first`` rows. Without it
    PostgreSQL fetched every stalled deal's row from the table to sort them (the index has no
    id): 80 ms for a seller's ~9,000, 0.9 s for the company's at 1M deals. Built once per
    shape (stages, how the owners are named, ``first``): building the union of a part per
    stage and owner cost more than running it for a seller.

    ``merged`` (SQLite, owners named one by one or everyone): the parts have no order or
    limit of their own; the union as a whole is ordered by (stage_entered_at, id) and limited
    to ``first``. Each part's range is already in that order (the rowid ends every index
    entry), so SQLite merges the ranges as it reads them and stops after ``first`` rows,
    where a limit per part had it read ``first`` of each part and sort each one again:
    1.5 ms instead of 2.9 for a seller's 500 at 1M deals."""
    # In that order per stage only for one owner (``owner_id = ?``; an IN list of several
    # interleaves their ranges): a few owners are read one by one.
    if merged and first is not None and how != "in":
        union = union_all(*[
            select(D.c.id, D.c.stage_entered_at)
            .where(_owner_where(D.c.owner_id, how, j), D.c.stage_id == sid,
                   D.c.stage_entered_at < _cut(sid))
            for sid in stage_ids for j in range(n_owners if how == "each" else 1)])
        return (union.order_by(union.selected_columns.stage_entered_at,
                               union.selected_columns.id)
                .limit(written_limit(first)).subquery())
    parts = []
    for sid in stage_ids:
        for j in range(n_owners if how == "each" else 1):
            part = (select(D.c.id, D.c.stage_entered_at)
                    .where(_owner_where(D.c.owner_id, how, j), D.c.stage_id == sid,
                           D.c.stage_entered_at < _cut(sid)))
            if first is not None:
                part = (part.order_by(D.c.stage_entered_at, D.c.id)
                        .limit(written_limit(first)).subquery())
                part = select(part.c.id, part.c.stage_entered_at)
            parts.append(part)
    return union_all(*parts).subquery()


@lru_cache(maxsize=64)
def _stalled_count_statement(stage_ids: tuple[int, ...], everyone: bool) -> Any:
    how = "all" if everyone else "in"
    in_stages = (select(func.coalesce(func.sum(T.c.count), 0))
                 .where(T.c.stage_id.in_(stage_ids), _owner_where(T.c.owner_id, how, 0))
                 .scalar_subquery())
    recent = [select(D.c.id)
              .where(_owner_where(D.c.owner_id, how, 0), D.c.stage_id == sid,
                     D.c.stage_entered_at >= _cut(sid))
              for sid in stage_ids]
    fresh = select(func.count()).select_from(union_all(*recent).subquery()).scalar_subquery()
    return select(in_stages - fresh)


def stalled_count(pipe: PipelineInfo, owners: list[int] | None,
                  limits: dict[int, tuple[float, str]], now: datetime) -> int:
    """How many deals are stalled: the deals in each limited stage now (``deal_stage_totals``,
    kept with every change) minus those that entered it at or after the stage's cut-off — the
    recent ones, a range of ``ix_deals_owner_stage_entered`` each, fewer than the stalled ones
    wherever most open deals wait past their stage's 90th percentile."""
    stage_ids = tuple(sid for sid in limits if pipe.stage(sid) is not None)
    if not stage_ids:
        return 0
    params = {**_cut_params(stage_ids, limits, now),
              **_owner_params(owners, "all" if owners is None else "in")}
    return int(db.session.scalar(_stalled_count_statement(stage_ids, owners is None), params)
               or 0)


@lru_cache(maxsize=128)
def _stalled_list(stage_ids: tuple[int, ...], how: str, n_owners: int,
                  limit: int | None, merged: bool = False) -> Any:
    """The listed deals' rows, longest-waiting first (see :func:`stalled_deals`). The moment
    entered and the amount come as the driver gives them (``type_coerce`` to no type): read
    through their column types they cost more than the statements for the API's 500 rows
    (:func:`_naive_utc` and :func:`_amount_text` give the same values)."""
    merged = merged and bool(limit) and how != "in"
    found = stalled_deals(stage_ids, how, n_owners, limit or None, merged)
    if merged:  # already the first ``limit``
        shown = found
    else:
        shown = select(found.c.id, found.c.stage_entered_at).order_by(
            found.c.stage_entered_at, found.c.id)
        if limit:
            shown = shown.limit(written_limit(limit))
        shown = shown.subquery()
    return (select(D.c.id, D.c.title, D.c.owner_id, User.display_name, User.username,
                   D.c.stage_id, type_coerce(D.c.stage_entered_at, NullType()),
                   type_coerce(D.c.amount, NullType()), D.c.currency)
            .select_from(shown.join(D, D.c.id == shown.c.id)
                         .outerjoin(User.__table__, User.id == D.c.owner_id))
            .order_by(shown.c.stage_entered_at, shown.c.id))


def _naive_utc(value: Any) -> datetime:
    """A ``UTCDateTime`` as the driver gives it, as a naive UTC datetime: SQLite's text is
    parsed as SQLAlchemy's SQLite ``DATETIME`` parses it (``fromisoformat``); PostgreSQL's
    driver gives a datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _amount_text(value: Any) -> str:
    """A ``MONEY`` amount as the driver gives it, as ``str(money(amount))``: SQLite's number is
    read by SQLAlchemy as ``Decimal("%.2f" % value)`` (two places already), PostgreSQL's
    driver gives a Decimal."""
    if value is None:
        return "0.00"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "%.2f" % value
    return str(money(value))


@dataclass(slots=True)
class StalledRows:
    """The listed stalled deals as plain tuples, for callers that format them themselves
    (the API): ``(id, title, owner_id, owner, stage_id, entered_at as naive UTC, days in
    stage, amount as text, currency)``; ``threshold_days`` by stage id."""

    rows: list[tuple[int, str, int | None, str, int, datetime, float, str, str]]
    total: int
    threshold_days: dict[int, float]


def stalled_rows(pipe: PipelineInfo, owners: list[int] | None, limit: int | None = 500,
                 now: datetime | None = None) -> StalledRows:
    """Open deals in their stage longer than its threshold, longest first, and how many, as
    plain values (what :func:`stalled` gives as objects). The deals' rows are read for the
    ones listed only."""
    now = now or utcnow()
    limits = thresholds(pipe)
    stage_ids = tuple(sid for sid in limits if pipe.stage(sid) is not None)
    threshold_days = {sid: limits[sid][0] / DAY for sid in stage_ids}
    if not stage_ids:
        return StalledRows([], 0, threshold_days)
    total = stalled_count(pipe, owners, limits, now)
    how, n_owners = _owner_groups(owners, limit or None)
    connection = db.session.connection()
    query = _stalled_list(stage_ids, how, n_owners, limit or None,
                          connection.dialect.name == "sqlite")
    params = {**_cut_params(stage_ids, limits, now), **_owner_params(owners, how)}
    # The listed deals (500 for the API) are the figure's main cost once the statements are
    # fast: read through the Core connection as plain tuples (no ORM result, no type
    # processing), the days from naive UTC datetimes (the same microseconds as aware ones).
    at = now.astimezone(UTC).replace(tzinfo=None)
    out = []
    for (deal_id, title, owner_id, display_name, username, stage_id, entered, amount,
         currency) in connection.execute(query, params):
        entered = _naive_utc(entered)
        out.append((deal_id, title, owner_id, display_name or username or "", stage_id,
                    entered, (at - entered).total_seconds() / DAY, _amount_text(amount),
                    currency))
    return StalledRows(out, int(total), threshold_days)


def stalled(pipe: PipelineInfo, owners: list[int] | None, limit: int | None = 500,
            now: datetime | None = None) -> tuple[list[StalledDeal], int]:
    """Open deals in their stage longer than its threshold, longest first, and how many
    (the pages, the widget, the CSV; the API formats :func:`stalled_rows` itself)."""
    found = stalled_rows(pipe, owners, limit, now)
    stages = {s.id: s for s in pipe.stages}
    days = found.threshold_days
    return [StalledDeal(deal_id, title, owner_id, owner, stages[stage_id],
                        entered.replace(tzinfo=UTC), in_stage, days[stage_id], Decimal(amount),
                        currency)
            for (deal_id, title, owner_id, owner, stage_id, entered, in_stage, amount,
                 currency) in found.rows], found.total
