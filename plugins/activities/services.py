"""The activities plugin's write operations and shared queries, for the web, the API and jobs.

Views validate the shape of input; these functions check what needs the database (the assignee
may be given work by this user, the customer and deal are visible, the lead exists) and raise
:class:`ActivityError` before anything is written, so bad input never leaves half a change.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    column,
    func,
    literal,
    or_,
    select,
    table,
    union_all,
)

from conveyor import db, owner_ids, post_timeline, scope, scope_of, setting, timeline_kind
from conveyor.i18n import _, _l
from conveyor.models import Customer, Deal, TeamMember, User
from conveyor.queries import written_limit
from conveyor.types import utcnow

from .models import BUILTIN_KINDS, STATUSES, TITLE_LENGTH, VISIT_KINDS, Activity
from .zones import day_bounds, local_to_utc, local_today, raw_moment, utc_to_local, zone_of

NO_REMINDER = -1
KIND_LABELS = {"call": _l("Call"), "email": _l("E-mail"), "meeting": _l("Meeting"),
               "todo": _l("To-do"), "visit": _l("Visit")}
STATUS_LABELS = {"planned": _l("Planned"), "done": _l("Done"), "cancelled": _l("Cancelled")}
VISIT_LABELS = {"FSI": _l("First visit (FSI)"), "FUA": _l("Follow-up (FUA)")}
for _kind, _label in KIND_LABELS.items():  # a done activity's timeline entry: "Visit", not a code
    timeline_kind(f"activity.{_kind}", _label)


class ActivityError(ValueError):
    """Input the database refuses: ``field`` names the form field or JSON key at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --- kinds, settings --------------------------------------------------------------------------


def extra_kinds() -> list[str]:
    """Kinds an admin added (setting ``activities.extra_kinds``, comma separated)."""
    raw = setting("activities.extra_kinds") or ""
    out: list[str] = []
    for item in str(raw).split(","):
        name = item.strip().lower()[:30]
        if name and name not in BUILTIN_KINDS and name not in out:
            out.append(name)
    return out


def kinds() -> list[str]:
    return [*BUILTIN_KINDS, *extra_kinds()]


def kind_label(kind: str) -> str:
    label = KIND_LABELS.get(kind)
    return str(label) if label is not None else kind.replace("_", " ").capitalize()


def kind_choices() -> list[tuple[str, str]]:
    return [(k, kind_label(k)) for k in kinds()]


def daily_visit_standard(user: Any) -> int:
    """Visits a day expected of ``user``: the largest of their roles' standards (setting
    ``activities.daily_visits``, ``role=n`` pairs such as ``seller=8``)."""
    best = 0
    for role, n in parse_role_numbers(setting("activities.daily_visits")).items():
        if role in getattr(user, "roles", ()):
            best = max(best, n)
    return best


def parse_role_numbers(raw: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in str(raw or "").replace(";", ",").split(","):
        role, _sep, n = item.partition("=")
        if role.strip() and n.strip().isdigit():
            out[role.strip()] = int(n.strip())
    return out


def next_step_stage_percents() -> set[int]:
    """Stages (by percent) whose move asks for the next step (``activities.ask_next_step_at``)."""
    out = set()
    for item in str(setting("activities.ask_next_step_at") or "").split(","):
        if item.strip().isdigit():
            out.add(int(item.strip()))
    return out


def leads_enabled() -> bool:
    return bool(current_app.extensions["conveyor"].enabled("leads"))


# --- visibility ---------------------------------------------------------------------------------


def visible(user: Any) -> ColumnElement[bool]:
    """Activities ``user`` may see: assigned within their record scope, or created by them."""
    return scope(Activity, user)


def assignable_ids(user: Any) -> Any:
    """Users ``user`` may give work to: themselves and the members of their teams (a colleague,
    the team's assistant); everyone active when their record scope is "all"."""
    query = select(User.id).where(User.active.is_(True))
    if scope_of(user) == "all":
        return query
    teams = select(TeamMember.team_id).where(TeamMember.user_id == user.id)
    return query.where(or_(User.id == user.id, User.id.in_(
        select(TeamMember.user_id).where(TeamMember.team_id.in_(teams)))))


def assignable(user: Any) -> list[User]:
    ids = assignable_ids(user)
    return list(db.session.scalars(select(User).where(User.id.in_(ids))
                                   .order_by(User.display_name, User.username)))


def _assignee(assignee_id: int | None, by: Any) -> int:
    if assignee_id is None or assignee_id == by.id:
        return int(by.id)
    ok = db.session.scalar(select(User.id).where(User.id == assignee_id,
                                                 User.id.in_(assignable_ids(by))))
    if ok is None:
        raise ActivityError("assignee_id", _("You cannot give tasks to this person."))
    return int(assignee_id)


def _customer(customer_id: int | None, user: Any) -> Customer | None:
    if customer_id is None:
        return None
    customer = db.session.scalar(select(Customer).where(Customer.id == customer_id,
                                                        scope(Customer, user)))
    if customer is None:
        raise ActivityError("customer_id", _("No such customer."))
    return customer


def _deal(deal_id: int | None, user: Any) -> Deal | None:
    if deal_id is None:
        return None
    deal = db.session.scalar(select(Deal).where(Deal.id == deal_id, scope(Deal, user)))
    if deal is None:
        raise ActivityError("deal_id", _("No such deal."))
    return deal


LEADS = table("leads_lead", column("id"), column("owner_id"))


def _lead(lead_id: int | None, user: Any) -> int | None:
    if lead_id is None:
        return None
    if not leads_enabled():
        raise ActivityError("lead_id", _("Leads are not enabled."))
    query = select(LEADS.c.id).where(LEADS.c.id == lead_id)
    if scope_of(user) != "all":
        query = query.where(LEADS.c.owner_id.in_(owner_ids(user)))
    if db.session.scalar(query) is None:
        raise ActivityError("lead_id", _("No such lead."))
    return lead_id


# --- reminders ----------------------------------------------------------------------------------


def default_reminder_minutes() -> int:
    return max(int(setting("activities.reminder_minutes")), 0)


def compute_remind_at(activity: Activity, now: datetime | None = None) -> datetime | None:
    """When the reminder is due: ``reminder_minutes`` (else the default) before the due time;
    none for a closed activity, one without a reminder, or one already past due."""
    now = now or utcnow()
    if activity.status != "planned" or activity.reminder_minutes == NO_REMINDER:
        return None
    if activity.due_at <= now:
        return None
    minutes = activity.reminder_minutes
    if minutes is None:
        minutes = default_reminder_minutes()
    return activity.due_at - timedelta(minutes=minutes)


# --- writes -------------------------------------------------------------------------------------

FIELDS = ("kind", "title", "notes", "due_at", "duration_minutes", "assignee_id", "customer_id",
          "deal_id", "lead_id", "visit_kind", "progress", "reminder_minutes")


def _clean(data: dict[str, Any], by: Any, current: Activity | None = None) -> dict[str, Any]:
    """Checked values for the given keys of ``data`` (all of FIELDS when creating)."""
    out: dict[str, Any] = {}
    if "kind" in data or current is None:
        kind = str(data.get("kind") or "").strip()
        if kind not in kinds():
            raise ActivityError("kind", _("Choose a kind of activity."))
        out["kind"] = kind
    if "title" in data or current is None:
        title = " ".join(str(data.get("title") or "").split())
        if not title:
            raise ActivityError("title", _("Give the activity a title."))
        if len(title) > TITLE_LENGTH:
            raise ActivityError("title", _("Maximum characters: %(n)s", n=TITLE_LENGTH))
        out["title"] = title
    if "notes" in data:
        out["notes"] = str(data.get("notes") or "").strip()[:5000]
    if "due_at" in data or current is None:
        due_at = data.get("due_at")
        if not isinstance(due_at, datetime):
            raise ActivityError("due_at", _("Give the date and time it is due."))
        if due_at.tzinfo is None:
            raise ActivityError("due_at", _("The time needs a time zone."))
        out["due_at"] = due_at.astimezone(UTC)
    if data.get("duration_minutes") is not None:
        minutes = int(data["duration_minutes"])
        if not 0 <= minutes <= 24 * 60:
            raise ActivityError("duration_minutes", _("Between 0 and 1440 minutes."))
        out["duration_minutes"] = minutes
    if "assignee_id" in data or current is None:
        out["assignee_id"] = _assignee(data.get("assignee_id"), by)
    if "deal_id" in data:
        deal = _deal(data.get("deal_id"), by)
        out["deal_id"] = deal.id if deal else None
        if deal is not None and not data.get("customer_id"):
            out["customer_id"] = deal.customer_id
    if "customer_id" in data and data.get("customer_id"):
        customer = _customer(data.get("customer_id"), by)
        out["customer_id"] = customer.id if customer else None
    elif "customer_id" in data and "customer_id" not in out:
        out["customer_id"] = None
    deal_id = out.get("deal_id", current.deal_id if current else None)
    customer_id = out.get("customer_id", current.customer_id if current else None)
    if deal_id is not None and customer_id is not None:
        owner = db.session.scalar(select(Deal.customer_id).where(Deal.id == deal_id))
        if owner != customer_id:
            raise ActivityError("customer_id", _("The deal belongs to another customer."))
    if "lead_id" in data:
        out["lead_id"] = _lead(data.get("lead_id"), by)
    kind = out.get("kind", current.kind if current else None)
    if "visit_kind" in data or "kind" in out:
        visit_kind = data.get("visit_kind", current.visit_kind if current else None) or None
        if visit_kind is not None and visit_kind not in VISIT_KINDS:
            raise ActivityError("visit_kind", _("FSI or FUA."))
        if kind != "visit":
            visit_kind = None
        elif visit_kind is None:
            visit_kind = "FUA" if customer_id and _has_held_visit(customer_id) else "FSI"
        out["visit_kind"] = visit_kind
    if "progress" in data:
        progress = data.get("progress")
        if progress is not None and not 0 <= int(progress) <= 100:
            raise ActivityError("progress", _("A percent from 0 to 100."))
        out["progress"] = None if progress is None else int(progress)
    if "reminder_minutes" in data:
        minutes = data.get("reminder_minutes")
        if minutes is not None and not NO_REMINDER <= int(minutes) <= 7 * 24 * 60:
            raise ActivityError("reminder_minutes", _("Choose when to be reminded."))
        out["reminder_minutes"] = None if minutes is None else int(minutes)
    return out


def _has_held_visit(customer_id: int) -> bool:
    return db.session.scalar(select(Activity.id).where(
        Activity.customer_id == customer_id, Activity.kind == "visit",
        Activity.status == "done").limit(1)) is not None


def create_activity(data: dict[str, Any], *, by: Any) -> Activity:
    """A new planned activity; its reminder is computed from the due time."""
    values = _clean({k: v for k, v in data.items() if k in FIELDS}, by)
    activity = Activity(status="planned", creator_id=by.id, result="",
                        **{"duration_minutes": 30, "notes": "", **values})
    activity.remind_at = compute_remind_at(activity)
    db.session.add(activity)
    db.session.flush()
    return activity


def update_activity(activity: Activity, data: dict[str, Any], *, by: Any) -> Activity:
    """Change the given fields; a new due time or reminder recomputes when to remind (other
    edits leave it alone: a reminder already queued for this due time is not armed again)."""
    before = (activity.due_at, activity.reminder_minutes, activity.status)
    values = _clean({k: v for k, v in data.items() if k in FIELDS}, by, current=activity)
    for key, value in values.items():
        setattr(activity, key, value)
    if "status" in data and data["status"] != activity.status:
        set_status(activity, data["status"], by=by, result=data.get("result"))
    elif "result" in data:
        activity.result = str(data.get("result") or "").strip()[:5000]
    if (activity.due_at, activity.reminder_minutes, activity.status) != before:
        activity.remind_at = compute_remind_at(activity)
    db.session.flush()
    return activity


def set_status(activity: Activity, status: str, *, by: Any, result: str | None = None,
               progress: int | None = None) -> Activity:
    """Close (done, cancelled) or reopen an activity, with its result."""
    if status not in STATUSES:
        raise ActivityError("status", _("Choose a status."))
    if progress is not None and not 0 <= int(progress) <= 100:
        raise ActivityError("progress", _("A percent from 0 to 100."))
    was = activity.status
    activity.status = status
    if result is not None:
        activity.result = str(result).strip()[:5000]
    if progress is not None:
        activity.progress = int(progress)
    activity.done_at = utcnow() if status == "done" else None
    activity.remind_at = compute_remind_at(activity)
    if status == "done" and was != "done" and (activity.customer_id or activity.deal_id):
        deal = db.session.get(Deal, activity.deal_id) if activity.deal_id else None
        message = activity.title + (f" — {activity.result[:200]}" if activity.result else "")
        post_timeline(f"activity.{activity.kind}"[:40], message, customer=activity.customer_id,
                      deal=deal, by=by, data={"activity_id": activity.id})
    db.session.flush()
    return activity


def complete(activity: Activity, *, by: Any, result: str = "", progress: int | None = None
             ) -> Activity:
    return set_status(activity, "done", by=by, result=result, progress=progress)


RESCHEDULES = ("tomorrow", "monday", "date")


def reschedule(activity: Activity, how: str, *, by: Any, on: date | None = None) -> Activity:
    """Move an activity, keeping its local time of day in the zone of whoever moves it:
    ``tomorrow`` (+1 day; an overdue one to the day after today), ``monday`` (next Monday) or
    ``date`` (``on``)."""
    zone = zone_of(by)
    local = utc_to_local(activity.due_at, zone)
    if how == "tomorrow":
        day = max(local.date(), local_today(zone)) + timedelta(days=1)
    elif how == "monday":
        base = max(local.date(), local_today(zone))
        day = base + timedelta(days=7 - base.weekday())
    elif how == "date" and on is not None:
        day = on
    else:
        raise ActivityError("on", _("Choose a date."))
    activity.due_at = local_to_utc(datetime.combine(day, local.time()), zone)
    activity.remind_at = compute_remind_at(activity)
    db.session.flush()
    return activity


# --- reads --------------------------------------------------------------------------------------


MY_DAY_LIMIT = 50


@cache
def _my_day_statement(limit: int) -> Any:
    """Overdue and today's activities of one assignee as one statement built once per process
    (``:me``, ``:start``, ``:end``, ``:now`` bound when run): the overdue ones by the
    (assignee, status, due) index, today's by (assignee, due), each with its customer's and
    deal's names joined in and whether it is late."""
    late = case((and_(Activity.status == "planned", Activity.due_at < bindparam("now")), 1),
                else_=0)
    columns = (Activity.id, Activity.kind, Activity.title, raw_moment(Activity.due_at),
               Activity.status, Activity.visit_kind, Customer.name.label("customer"),
               Deal.title.label("deal_title"), late.label("late"))

    def part(n: int, *criteria: Any) -> Any:
        return (select(literal(n).label("part"), *columns)
                .outerjoin(Customer, Customer.id == Activity.customer_id)
                .outerjoin(Deal, Deal.id == Activity.deal_id)
                .where(Activity.assignee_id == bindparam("me"), *criteria)
                .order_by(Activity.due_at, Activity.id).limit(written_limit(limit))
                .subquery())

    overdue = part(0, Activity.status == "planned", Activity.due_at < bindparam("start"))
    today = part(1, Activity.due_at >= bindparam("start"), Activity.due_at < bindparam("end"))
    both = union_all(select(overdue), select(today)).subquery()
    return select(both).order_by(both.c.part, both.c.due_at, both.c.id)


def my_day(user: Any, now: datetime | None = None, limit: int = MY_DAY_LIMIT) -> dict[str, Any]:
    """Overdue (planned, before today) and today's activities of ``user``, in their zone, as
    tuples ``(part, id, kind, title, due, status, visit_kind, customer, deal_title, late)``
    (``due`` as the driver gives it, :func:`zones.raw_moment`): one statement."""
    now = now or utcnow()
    zone = zone_of(user)
    start, end = day_bounds(local_today(zone, now), zone)
    db.session.flush()
    rows = db.session.connection().execute(
        _my_day_statement(limit), {"me": user.id, "start": start, "end": end, "now": now}).all()
    overdue = [r for r in rows if r[0] == 0]
    today = [r for r in rows if r[0] == 1]
    visits_done = sum(1 for r in today if r[2] == "visit" and r[5] == "done")
    visits_planned = sum(1 for r in today if r[2] == "visit" and r[5] == "planned")
    return {"overdue": overdue, "today": today, "start": start, "end": end, "now": now,
            "visits_done": visits_done, "visits_planned": visits_planned,
            "standard": daily_visit_standard(user)}


def next_steps(*, deal_id: int | None = None, customer_id: int | None = None, user: Any,
               limit: int = 5) -> list[Activity]:
    """The next planned activities of a deal or a customer that ``user`` may see."""
    query = select(Activity).where(Activity.status == "planned", visible(user))
    if deal_id is not None:
        query = query.where(Activity.deal_id == deal_id)
    if customer_id is not None:
        query = query.where(Activity.customer_id == customer_id)
    return list(db.session.scalars(query.order_by(Activity.due_at, Activity.id)
                                   .limit(written_limit(limit))))


def team_visits(user: Any, day_start: datetime, day_end: datetime) -> list[dict[str, Any]]:
    """Per visible person: visits held and planned in ``[day_start, day_end)`` and the standard."""
    people = [u for u in db.session.scalars(select(User).where(
        User.active.is_(True), User.id.in_(_scope_user_ids(user))).order_by(User.username))]
    counts = {(a, s): n for a, s, n in db.session.execute(
        select(Activity.assignee_id, Activity.status, func.count()).where(
            Activity.kind == "visit", Activity.due_at >= day_start, Activity.due_at < day_end,
            Activity.assignee_id.in_([p.id for p in people]))
        .group_by(Activity.assignee_id, Activity.status))} if people else {}
    rows = []
    for person in people:
        standard = daily_visit_standard(person)
        done, planned = counts.get((person.id, "done"), 0), counts.get((person.id, "planned"), 0)
        if standard or done or planned:
            rows.append({"user": person, "done": done, "planned": planned, "standard": standard})
    return rows


def _scope_user_ids(user: Any) -> Any:
    return select(User.id) if scope_of(user) == "all" else owner_ids(user)


def users_by_id(ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def customers_by_id(ids: set[int]) -> dict[int, Customer]:
    if not ids:
        return {}
    return {c.id: c for c in db.session.scalars(select(Customer).where(Customer.id.in_(ids)))}


def deals_by_id(ids: set[int]) -> dict[int, Deal]:
    if not ids:
        return {}
    return {d.id: d for d in db.session.scalars(select(Deal).where(Deal.id.in_(ids)))}

