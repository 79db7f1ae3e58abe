"""The leads plugin's manifest and hook implementations."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select

from conveyor import Manifest, NavItem, Permission, Setting, db, hookimpl, notify, timeline_kind
from conveyor.i18n import _l

# A converted lead's history copied to the customer's timeline (conversion.py).
for _kind, _label in {"lead.captured": _l("lead captured"), "lead.assigned": _l("lead assigned"),
                      "lead.converted": _l("lead converted"), "lead.note": _l("note on the lead"),
                      "lead.call": _l("call with the lead"), "lead.email": _l("e-mail to the lead"),
                      "lead.meeting": _l("meeting with the lead"),
                      "lead.merged": _l("repeat submission"),
                      "lead.status": _l("lead status changed")}.items():
    timeline_kind(_kind, _label)

manifest = Manifest(
    title=_l("Leads"),
    description=_l("Web-to-lead forms, the lead processor, dedupe, assignment rules and "
                   "stale-lead reassignment."),
)

PERMISSIONS = [
    Permission("leads.view", _l("See leads")),
    Permission("leads.edit", _l("Create leads, work on them and convert them")),
    Permission("leads.assign", _l("Assign leads to sellers, one or many at a time")),
    Permission("leads.import", _l("Use the lead processor: paste or upload lists of leads")),
    Permission("leads.forms", _l("Manage web capture forms and assignment rules")),
]


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("leads.stale_days", 7, int,
                "Days without follow-up by the owner after which `conveyor leads "
                "reassign-stale` hands a lead to another seller."),
        Setting("leads.default_region", "RU", str,
                "Country assumed for phone numbers written without +country code (ISO 3166)."),
        Setting("leads.public_rate_limit", "30 per minute", str,
                "Posts per client address to /public/leads/<form>; empty disables the limit."),
        Setting("leads.max_body_bytes", 16384, int,
                "Largest body /public/leads/<form> accepts; bigger posts get 413."),
        Setting("leads.max_field_length", 500, int,
                "Longest value of one field on the public form (notes: max_notes_length)."),
        Setting("leads.max_notes_length", 2000, int, "Longest notes on the public form."),
        Setting("leads.import_max_rows", 100000, int, "Most rows one lead-processor run reads."),
        Setting("leads.import_batch", 1000, int,
                "Rows per short write transaction while the lead processor stages a file."),
        Setting("leads.import_inline", False, bool,
                "Run lead-processor jobs in the request instead of a background thread."),
        Setting("leads.intake", "job", str,
                "Where web captures are finished (dedupe, linking, rules): job (the core's job "
                "queue: an RQ worker with redis_url; without it, a thread in each app "
                "process), thread (in each app process), external (a worker runs `conveyor "
                "leads intake --watch`) or inline.",
                choices=("thread", "job", "external", "inline")),
        Setting("leads.sweep_minutes", 60, int,
                "Minutes between runs of the unassigned/stale sweep (`conveyor leads "
                "reassign-stale`) as a scheduled job; 0 = off (run it from cron instead)."),
        Setting("leads.process_inline", False, bool,
                "Finish web captures (dedupe, linking, rules) inside the request instead of the "
                "intake thread: for tests and single-user set-ups."),
        Setting("leads.form_cache_seconds", 5, int,
                "How long a process keeps a capture form in memory; an edit shows after this."),
        Setting("leads.notify_on_assign", True, bool,
                "Leave an in-app notification for the seller a lead is assigned to."),
    ]


@hookimpl
def register_jobs() -> list[Any]:
    from conveyor import Job

    from .assignment import sweep_job
    from .intake import intake_job

    return [Job("leads.sweep", sweep_job, max_attempts=3, timeout=3600,
                title=_l("Lead sweep: assign unassigned leads, reassign stale ones")),
            Job("leads.intake", intake_job, max_attempts=10, timeout=900,
                title=_l("Lead intake: finish web captures"))]


@hookimpl
def register_schedules() -> list[Any]:
    from conveyor import Schedule

    return [Schedule("leads.sweep", setting="leads.sweep_minutes")]


@hookimpl
def register_models() -> list[Any]:
    from .models import MODELS

    return MODELS


@hookimpl
def register_permissions() -> list[Permission]:
    return PERMISSIONS


@hookimpl
def register_role_defaults() -> dict[str, dict[str, list[str]]]:
    work = ["leads.view", "leads.edit"]
    return {
        "admin": {"permissions": [p.name for p in PERMISSIONS],
                  "widgets": ["leads.unassigned_stale"]},
        "manager": {"permissions": [*work, "leads.assign"], "widgets": ["leads.unassigned_stale"]},
        "marketer": {"permissions": [*work, "leads.import"], "widgets": ["leads.new_and_sources"]},
        "telemarketer": {"permissions": [*work, "leads.import"], "widgets": []},
        "seller": {"permissions": work, "widgets": ["leads.my_new"]},
        "assistant": {"permissions": ["leads.view"], "widgets": []},
    }


@hookimpl
def register_nav_items() -> list[NavItem]:
    return [NavItem("leads", _l("Leads"), "leads.index", "leads.view", order=15)]


@hookimpl
def register_widgets() -> list[Any]:
    from .widgets import WIDGETS

    return WIDGETS


@hookimpl
def register_events() -> list[type]:
    from .events import EVENTS

    return EVENTS


@hookimpl
def register_search_kinds() -> list[Any]:
    from .search import kinds

    return kinds()


@hookimpl
def register_blueprints(app: Any) -> list[Any]:
    from . import manage, processor, views  # noqa: F401 - they add routes to views.bp
    from .public import bp as public_bp

    return [views.bp, public_bp]


@hookimpl
def register_api_blueprints(api: Any) -> list[Any]:
    from .api import blp, document_public_endpoint

    document_public_endpoint(api)
    return [blp]


@hookimpl
def register_commands(cli: Any) -> None:
    from .cli import leads_group

    cli.add_command(leads_group)


@hookimpl
def seed_demo_data(session: Any, users: dict[str, Any], rng: Any) -> None:
    from .demo import seed

    seed(session, users, rng)


@hookimpl
def track_event(event: Any) -> None:
    """After commit: tell the new owner (and a previous one) about an assignment. The core
    hands trackers the event's objects reloaded in the tracker's own session."""
    if type(event).__name__ != "LeadAssigned" or event.bulk:
        return
    from conveyor import setting

    from .forms import ASSIGNMENT_REASONS
    from .texts import _l

    if not setting("leads.notify_on_assign") or event.lead is None:
        return
    lead = event.lead
    url = f"/leads/{lead.id}"
    by_id = getattr(event.by, "id", None)
    owner_id = getattr(event.owner, "id", None)
    previous_id = getattr(event.previous_owner, "id", None)
    reason = ASSIGNMENT_REASONS.get(event.reason, event.reason)  # in the recipient's language
    sent = False
    if owner_id and owner_id != by_id:
        notify(owner_id, _l("Lead %(label)s is yours now (%(reason)s).", label=lead.label,
                            reason=reason), url, "leads.assigned")
        sent = True
    if previous_id and previous_id != by_id:
        notify(previous_id, _l("Lead %(label)s was reassigned (%(reason)s: %(detail)s).",
                               label=lead.label, reason=reason, detail=event.detail or "—"),
               url, "leads.reassigned")
        sent = True
    if sent:
        db.session.commit()


track_event.conveyor_tracks = {"LeadAssigned"}  # no outbox row for other events' writes


# --- Questions other plugins ask (optional: those plugins may be disabled) --------------------


@hookimpl(optionalhook=True)
def funnel_lead_counts(start: datetime, end: datetime,
                       owner_ids: list[int] | None) -> dict[int | None, int]:
    return lead_counts_by_period([start, end], owner_ids)[0]


@hookimpl(optionalhook=True)
def funnel_lead_counts_by_period(bounds: list[datetime], owner_ids: list[int] | None
                                 ) -> list[dict[int | None, int]]:
    return lead_counts_by_period(bounds, owner_ids)


def lead_counts_by_period(bounds: list[datetime], owner_ids: list[int] | None
                          ) -> list[dict[int | None, int]]:
    """Leads created in each period ``[bounds[i], bounds[i + 1])`` per owner: one GROUP BY
    over the period a lead's creation falls in and its owner."""
    from .models import Lead

    edges = list(bounds)
    out: list[dict[int | None, int]] = [{} for _b in edges[1:]]
    if len(edges) < 2:
        return out
    # The period a row falls in (the only one when there is one: no CASE at all).
    period = (case(*[(Lead.created_at < edge, i) for i, edge in enumerate(edges[1:-1])],
                   else_=len(edges) - 2) if len(edges) > 2 else Lead.created_at.is_not(None))
    query = (select(period, Lead.owner_id, func.count())
             .where(Lead.created_at >= edges[0], Lead.created_at < edges[-1])
             .group_by(period, Lead.owner_id))
    if owner_ids is not None:
        query = query.where(Lead.owner_id.in_(owner_ids))
    for i, owner, count in db.session.execute(query):
        out[int(i) if len(edges) > 2 else 0][owner] = int(count)
    return out


@hookimpl(optionalhook=True)
def relationship_interest(customer_ids: list[int] | None) -> list[Any]:
    from .models import Lead

    query = select(Lead.customer_id.label("customer_id"), Lead.created_at.label("at")).where(
        Lead.customer_id.isnot(None))
    if customer_ids is not None:
        query = query.where(Lead.customer_id.in_(customer_ids))
    return [query]
