"""The calendar: week and month views in the user's language, zone and first day of week
(Babel's locale data), and a per-user iCalendar feed at a secret, renewable address."""
from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from flask import Response, abort, render_template, request, url_for
from flask_babel import force_locale, format_date, get_locale
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import select

from conveyor import can, db, limiter, public, recipient_locale, require
from conveyor.models import Customer, User
from conveyor.queries import written_limit
from conveyor.types import utcnow
from conveyor.web.listing import plain_rows

from .models import Activity, FeedToken
from .services import customers_by_id, kind_label, users_by_id, visible
from .views import bp
from .zones import day_bounds, local_today, zone_of

MAX_EVENTS = 2000
FEED_PAST_DAYS = 30
FEED_FUTURE_DAYS = 365
FEED_MAX_EVENTS = 1000


def week_start(day: date, locale: Any) -> date:
    """The first day of ``day``'s week by the locale's custom (Monday, or Sunday in en_US)."""
    first = Locale.parse(str(locale)).first_week_day
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
            return date.fromisoformat(raw)
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
    # Plain rows, not ORM objects: a busy week has hundreds and the page shows six columns.
    query = select(Activity.id, Activity.title, Activity.status, Activity.kind, Activity.due_at,
                   Activity.assignee_id).where(Activity.due_at >= start, Activity.due_at < end)
    if team:  # assigned within the record scope, or handed out by the manager
        query = query.where(visible(current_user))
    else:
        query = query.where(Activity.assignee_id == current_user.id)
    rows = plain_rows(query.where(Activity.status != "cancelled")
                      .order_by(Activity.due_at, Activity.id).limit(written_limit(MAX_EVENTS)))
    # Each day's events as one piece of HTML built here, every text escaped: a busy week has
    # hundreds, and the template then writes one value per day instead of four per event.
    base = escape(url_for("activities.index"))
    now = utcnow()
    people = users_by_id({a.assignee_id for a in rows}) if team else {}
    links: dict[date, list[str]] = {}
    for a in rows:
        local = a.due_at.astimezone(zone)
        who = people.get(a.assignee_id)
        text = f"{local:%H:%M} {a.title}" + (f" · {who.label}" if who else "")
        late = " overdue" if a.status == "planned" and a.due_at < now else ""
        links.setdefault(local.date(), []).append(
            f'<a class="event {escape(a.status)} {escape(a.kind)}{late}" '
            f'href="{base}{int(a.id)}/edit" title="{escape(a.title)}">{escape(text)}</a>')
    by_day = {day_: Markup("".join(html)) for day_, html in links.items()}
    days = [first + timedelta(days=i) for i in range((last - first).days)]
    names = Locale.parse(str(locale)).days["stand-alone"]["abbreviated"]
    first_week_day = Locale.parse(str(locale)).first_week_day
    heads = [names[(first_week_day + i) % 7] for i in range(7)]
    step = timedelta(days=7) if view == "week" else timedelta(days=31)
    previous = (day.replace(day=1) - timedelta(days=1)) if view == "month" else day - step
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1) if view == "month" \
        else day + step
    title = format_date(day, "LLLL y") if view == "month" else \
        f"{format_date(first, 'medium')} – {format_date(last - timedelta(days=1), 'medium')}"
    return render_template(
        "activities/calendar.html", view=view, days=days, by_day=by_day, heads=heads,
        today=local_today(zone), month=day.month, title=title, team=team,
        previous=previous, following=following, zone=zone,
        truncated=len(rows) >= MAX_EVENTS, max_events=MAX_EVENTS,
        can_team=can(current_user, "activities.view_team"))


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
    """The feed's activities as plain rows (what an event shows): named tuples, not
    SQLAlchemy rows, since a feed reads hundreds and every field of each."""
    now = now or utcnow()
    return plain_rows(
        select(Activity.id, Activity.kind, Activity.title, Activity.notes, Activity.due_at,
               Activity.duration_minutes, Activity.status, Activity.customer_id,
               Activity.updated_at, Activity.created_at).where(Activity.assignee_id == user.id,
                               Activity.due_at >= now - timedelta(days=FEED_PAST_DAYS),
                               Activity.due_at < now + timedelta(days=FEED_FUTURE_DAYS),
                               Activity.status != "cancelled")
        .order_by(Activity.due_at, Activity.id).limit(written_limit(FEED_MAX_EVENTS)))


def build_ics(user: User, rows: list[Any], customers: dict[int, Customer]) -> bytes:
    """The feed: times in the user's zone with its VTIMEZONE, so calendars show them right.

    Built with icalendar, one component at a time and memoized per process: the calendar's
    frame (with the zone's VTIMEZONE) per zone and name, each event by its fields. A calendar
    client polls the feed every few minutes and most events never change between two polls."""
    zone = zone_of(user)
    host = request.host.split(":")[0] or "conveyor"
    with force_locale(recipient_locale(user)):  # each kind's label once, not once per event
        kinds = {kind: str(kind_label(kind)) for kind in {a.kind for a in rows}}
        events = [_event_ical(
            a.id, host, zone.key, f"{kinds[a.kind]}: {a.title}", a.notes or "",
            customers[a.customer_id].name if a.customer_id in customers else "",
            a.due_at, a.duration_minutes or 0, a.status, a.updated_at or a.created_at)
            for a in rows]
    head, tail = _frame(zone.key, f"Conveyor — {user.label}", utcnow().date().year)
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
def _event_ical(activity_id: int, host: str, zone_key: str, summary: str, notes: str,
                customer: str, due_at: datetime, minutes: int, status: str,
                stamp: datetime) -> bytes:
    """One VEVENT, keyed by everything it shows (a change of any makes a new one)."""
    from icalendar import Event

    start = due_at.astimezone(ZoneInfo(zone_key))
    event = Event()
    event.add("uid", f"activity-{activity_id}@{host}")
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=minutes))
    event.add("summary", summary + (f" — {customer}" if customer else ""))
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
    rows = feed_events(user)
    customers = customers_by_id({a.customer_id for a in rows if a.customer_id})
    body = build_ics(user, rows, customers)
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = "inline; filename=conveyor.ics"
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


