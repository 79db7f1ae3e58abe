"""The calendar: week and month views in the user's language, zone and first day of week
(Babel's locale data), and a per-user iCalendar feed at a secret, renewable address."""
from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as format_babel_date
from flask import Response, abort, render_template, request, url_for
from flask_babel import force_locale, get_locale
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import and_, bindparam, case, select

from conveyor import can, db, limiter, public, recipient_locale, require
from conveyor.calendar_bounds import check_day
from conveyor.models import Customer, User
from conveyor.queries import written_limit
from conveyor.types import utcnow

from .models import Activity, FeedToken
from .services import kind_label, users_by_id, visible
from .views import bp
from .zones import aware_utc, day_bounds, local_today, raw_moment, zone_of

MAX_EVENTS = 2000
FEED_PAST_DAYS = 30
FEED_FUTURE_DAYS = 365
FEED_MAX_EVENTS = 1000


@lru_cache(maxsize=64)
def _week_info(locale: str) -> tuple[int, tuple[str, ...]]:
    """The locale's first day of week and its abbreviated day names, Monday first (Babel's
    locale data, parsed once per process)."""
    parsed = Locale.parse(locale)
    names = parsed.days["stand-alone"]["abbreviated"]
    return parsed.first_week_day, tuple(names[i] for i in range(7))


def week_start(day: date, locale: Any) -> date:
    """The first day of ``day``'s week by the locale's custom (Monday, or Sunday in en_US)."""
    first = _week_info(str(locale))[0]
    return day - timedelta(days=(day.weekday() - first) % 7)


def calendar_range(view: str, day: date, locale: Any) -> tuple[date, date]:
    """``[first, last)`` local dates a week or month view shows, in whole weeks."""
    if view == "month":
        first_of_month = day.replace(day=1)
        start = week_start(first_of_month, locale)
        next_month = (first_of_month + timedelta(days=32)).replace(day=1)
        end = week_start(next_month - timedelta(days=1), locale) + timedelta(days=7)
        return start, end
    start = week_start(day, locale)
    return start, start + timedelta(days=7)


def _asked_day(zone: Any) -> date:
    raw = request.args.get("date", "")
    if raw:
        try:
            return check_day(date.fromisoformat(raw))  # 9999-12-31's month has no end
        except ValueError:
            abort(400)
    return local_today(zone)


@bp.get("/calendar")
@require("activities.use")
def calendar() -> Any:
    """Week (default) or month of the user's activities — the team's for ``who=team`` with
    activities.view_team — grouped by local day."""
    zone = zone_of(current_user)
    view = "month" if request.args.get("view") == "month" else "week"
    team = request.args.get("who") == "team" and can(current_user, "activities.view_team")
    locale = get_locale()
    day = _asked_day(zone)
    first, last = calendar_range(view, day, locale)
    start, _end = day_bounds(first, zone)
    end = day_bounds(last, zone)[0]
    # Plain tuples on the session's connection, not ORM objects: a busy week has hundreds.
    # The due time comes as the driver gives it and "overdue" from the database: each event's
    # link is memoized by those values, so a known event costs a dictionary lookup, and only a
    # new or changed one is converted to the user's zone and escaped (``_event_link``).
    db.session.flush()
    params = {"start": start, "end": end, "now": utcnow()}
    if team:  # assigned within the record scope, or handed out by the manager
        query = _week_statement(True).where(visible(current_user))
    else:
        query, params["me"] = _week_statement(False), current_user.id
    rows = db.session.connection().execute(query, params).all()
    base = str(escape(url_for("activities.index")))
    people = users_by_id({r[6] for r in rows}) if team else {}
    links: dict[date, list[str]] = {}
    for row in rows:
        who = people.get(row[6]) if team else None
        day_, html = _event_link(row[0], row[1], row[2], row[3], row[4], bool(row[5]),
                                 zone.key, who.label if who else "", base)
        links.setdefault(day_, []).append(html)
    by_day = {day_: Markup("".join(html)) for day_, html in links.items()}
    days = [first + timedelta(days=i) for i in range((last - first).days)]
    first_week_day, names = _week_info(str(locale))
    heads = [names[(first_week_day + i) % 7] for i in range(7)]
    step = timedelta(days=7) if view == "week" else timedelta(days=31)
    previous = (day.replace(day=1) - timedelta(days=1)) if view == "month" else day - step
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1) if view == "month" \
        else day + step
    title = _title(view, day, first, last, str(locale))
    return render_template(
        "activities/calendar.html", view=view, days=days, by_day=by_day, heads=heads,
        today=local_today(zone), month=day.month, title=title, team=team,
        previous=previous, following=following, zone=zone,
        truncated=len(rows) >= MAX_EVENTS, max_events=MAX_EVENTS,
        can_team=can(current_user, "activities.view_team"))


@cache
def _week_statement(team: bool) -> Any:
    """The calendar's events between ``:start`` and ``:end`` (``:me``'s, or the team's with
    their assignee, filtered by the caller), whether each is late at ``:now``, the due time as
    the driver gives it; built once per process. The links are memoized by these values, so a
    known event costs a dictionary lookup and only a new or changed one is converted to the
    user's zone and escaped (``_event_link``)."""
    late = case((and_(Activity.status == "planned", Activity.due_at < bindparam("now")), 1),
                else_=0)
    query = select(Activity.id, Activity.title, Activity.status, Activity.kind,
                   raw_moment(Activity.due_at), late, *([Activity.assignee_id] if team else []))
    query = query.where(Activity.due_at >= bindparam("start"), Activity.due_at < bindparam("end"),
                        Activity.status != "cancelled")
    if not team:
        query = query.where(Activity.assignee_id == bindparam("me"))
    return query.order_by(Activity.due_at, Activity.id).limit(written_limit(MAX_EVENTS))


# ~750 bytes an entry: 8,192 hold four of the largest views (MAX_EVENTS) in ~6 MB, where 50,000
# let a long-lived worker grow by ~37 MB
@lru_cache(maxsize=8192)
def _event_link(activity_id: int, title: str, status: str, kind: str, due_raw: Any,
                late: bool, zone_key: str, who: str, base: str) -> tuple[date, str]:
    """One event of the calendar: its local date and its link (every text escaped)."""
    local = aware_utc(due_raw).astimezone(ZoneInfo(zone_key))
    text = f"{local:%H:%M} {title}" + (f" · {who}" if who else "")
    overdue = " overdue" if late else ""
    return local.date(), (f'<a class="event {escape(status)} {escape(kind)}{overdue}" '
                          f'href="{base}{int(activity_id)}/edit" title="{escape(title)}">'
                          f'{escape(text)}</a>')


@lru_cache(maxsize=4096)
def _title(view: str, day: date, first: date, last: date, locale: str) -> str:
    """The heading: the month ("December 2026") or the week's first and last days."""
    if view == "month":
        return format_babel_date(day, "LLLL y", locale=locale)
    return (f"{format_babel_date(first, 'medium', locale=locale)} – "
            f"{format_babel_date(last - timedelta(days=1), 'medium', locale=locale)}")


# --- the iCalendar feed -------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def renew_token(user: Any) -> str:
    """A new secret for ``user``'s feed; the old address stops working. Only its hash is kept."""
    token = secrets.token_urlsafe(32)
    row = db.session.get(FeedToken, user.id)
    if row is None:
        db.session.add(FeedToken(user_id=user.id, token_hash=token_hash(token)))
    else:
        row.token_hash, row.created_at = token_hash(token), utcnow()
    db.session.flush()
    return token


@bp.get("/feed")
@require("activities.use")
def feed_page() -> Any:
    row = db.session.get(FeedToken, current_user.id)
    return render_template("activities/feed.html", has_feed=row is not None, url=None,
                           created_at=row.created_at if row else None)


@bp.post("/feed")
@require("activities.use")
def feed_renew() -> Any:
    """Make (or renew) the secret address; it is shown once, then only its hash is known."""
    from flask_wtf.csrf import validate_csrf
    from wtforms import ValidationError

    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        abort(400)
    token = renew_token(current_user)
    db.session.commit()
    url = url_for("activities.feed", token=token, _external=True)
    return render_template("activities/feed.html", has_feed=True, url=url, created_at=utcnow())


def feed_events(user: User, now: datetime | None = None) -> list[Any]:
    """The feed's activities as plain tuples, with only what an event shows: ``(id, kind,
    title, notes, due, minutes, status, customer name, updated)``, the two moments as the
    driver gives them (:func:`raw_moment`) and the customer's name joined in. A feed reads
    hundreds of rows, and each event's text is memoized by exactly these values."""
    now = now or utcnow()
    db.session.flush()
    return db.session.connection().execute(_feed_statement(), {
        "me": user.id, "start": now - timedelta(days=FEED_PAST_DAYS),
        "end": now + timedelta(days=FEED_FUTURE_DAYS)}).all()


@cache
def _feed_statement() -> Any:
    """Built once per process; ``:me``, ``:start`` and ``:end`` are bound when run."""
    return (select(Activity.id, Activity.kind, Activity.title, Activity.notes,
                   raw_moment(Activity.due_at), Activity.duration_minutes, Activity.status,
                   Customer.name, raw_moment(Activity.updated_at))
            .outerjoin(Customer, Customer.id == Activity.customer_id)
            .where(Activity.assignee_id == bindparam("me"),
                   Activity.due_at >= bindparam("start"), Activity.due_at < bindparam("end"),
                   Activity.status != "cancelled")
            .order_by(Activity.due_at, Activity.id).limit(written_limit(FEED_MAX_EVENTS)))


def build_ics(user: User, rows: list[Any]) -> bytes:
    """The feed: times in the user's zone with its VTIMEZONE, so calendars show them right.

    Built with icalendar, one component at a time and memoized per process: the calendar's
    frame (with the zone's VTIMEZONE) per zone and name, each event by its fields. A calendar
    client polls the feed every few minutes and most events never change between two polls:
    a known event costs a dictionary lookup."""
    zone_key = zone_of(user).key
    host = request.host.split(":")[0] or "conveyor"
    with force_locale(recipient_locale(user)):  # each kind's label once, not once per event
        kinds = {kind: str(kind_label(kind)) for kind in {row[1] for row in rows}}
    event = _event_ical
    events = [event(ident, host, zone_key, kinds[kind], title, notes or "", customer or "",
                    due, minutes or 0, status, updated)
              for ident, kind, title, notes, due, minutes, status, customer, updated in rows]
    head, tail = _frame(zone_key, f"Conveyor — {user.label}", utcnow().date().year)
    return head + b"".join(events) + tail


@lru_cache(maxsize=256)
def _frame(zone_key: str, name: str, year: int) -> tuple[bytes, bytes]:
    """The VCALENDAR around the events, with the zone's VTIMEZONE over the feed's years."""
    from icalendar import Calendar, Timezone  # the feed's alone: not in every worker (~3 MB)

    cal = Calendar()
    cal.add("prodid", "-//Conveyor CRM//activities//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", zone_key)
    cal.add_component(Timezone.from_tzinfo(ZoneInfo(zone_key), first_date=date(year - 2, 1, 1),
                                           last_date=date(year + 2, 12, 31)))
    text = cal.to_ical()
    end = text.rindex(b"END:VCALENDAR")
    return text[:end], text[end:]


@lru_cache(maxsize=100_000)
def _event_ical(activity_id: int, host: str, zone_key: str, kind: str, title: str, notes: str,
                customer: str, due_raw: Any, minutes: int, status: str, stamp_raw: Any) -> bytes:
    """One VEVENT, keyed by everything it shows (a change of any makes a new one)."""
    from icalendar import Event

    start = aware_utc(due_raw).astimezone(ZoneInfo(zone_key))
    event = Event()
    event.add("uid", f"activity-{activity_id}@{host}")
    event.add("dtstamp", aware_utc(stamp_raw))
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=minutes))
    event.add("summary", f"{kind}: {title}" + (f" — {customer}" if customer else ""))
    if notes:
        event.add("description", notes)
    event.add("status", "CANCELLED" if status == "cancelled" else "CONFIRMED")
    if status == "done":
        event.add("x-conveyor-status", "done")
    return bytes(event.to_ical())


@bp.get("/feed/<string(length=43):token>.ics")
@public
@limiter.limit("60 per minute")
def feed(token: str) -> Any:
    """The user's calendar for Outlook, Google or Apple calendars: only the secret address
    authenticates it, so an unknown one is a plain 404."""
    user = db.session.scalar(select(User).join(FeedToken, FeedToken.user_id == User.id).where(
        FeedToken.token_hash == token_hash(token), User.active.is_(True)))
    if user is None:
        abort(404)
    body = build_ics(user, feed_events(user))
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = "inline; filename=conveyor.ics"
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


