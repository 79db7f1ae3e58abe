"""The discussions plugin's manifest and hook implementations."""
from __future__ import annotations

from typing import Any

from flask import url_for

from conveyor import DealDeleted, Manifest, NavItem, Panel, Permission, Setting, hookimpl
from conveyor.i18n import _l

from . import hookspecs

manifest = Manifest(
    title=_l("Discussions"), uses=("leads",), hookspecs=hookspecs,
    description=_l("Threads on deals, customers and leads: Markdown posts, @mentions, "
                   "followers, attachments and e-mail notifications."))

EVERYONE = ("admin", "manager", "marketer", "telemarketer", "seller", "assistant", "lawyer")


@hookimpl
def register_models() -> list[type]:
    from .models import Attachment, Follower, Post, Thread

    return [Thread, Post, Follower, Attachment]


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission("discussions.use", _l("Read and write discussions on the records one may "
                                         "see")),
        Permission("discussions.moderate", _l("Delete anyone's posts in discussions")),
    ]


@hookimpl
def register_role_defaults() -> dict[str, dict[str, list[str]]]:
    defaults: dict[str, dict[str, list[str]]] = {
        role: {"permissions": ["discussions.use"]} for role in EVERYONE}
    defaults["admin"]["permissions"].append("discussions.moderate")
    return defaults


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("discussions.edit_minutes", 15, int,
                "Minutes during which the author may edit a post."),
        Setting("discussions.page_size", 20, int,
                "Posts and timeline entries per page of a thread."),
        Setting("discussions.max_body_length", 20000, int, "Longest post, in characters."),
        Setting("discussions.storage_dir", "", str,
                "Folder for attachments, outside the web root. Empty: <instance>/discussions."),
        Setting("discussions.max_attachment_bytes", 10 * 1024 * 1024, int,
                "Largest attachment, in bytes."),
        Setting("discussions.max_attachments", 5, int, "Most attachments on one post."),
        Setting("discussions.attachment_types",
                ["pdf", "png", "jpg", "jpeg", "gif", "txt", "csv", "docx", "xlsx", "odt", "ods",
                 "zip"], list,
                "File extensions accepted as attachments (SVG and HTML are never accepted)."),
    ]


@hookimpl
def register_nav_items() -> list[NavItem]:
    return [NavItem("discussions", _l("Discussions"), "discussions.inbox", "discussions.use",
                    order=70)]


@hookimpl
def register_panels() -> list[Panel]:
    from .views import render_panel

    # the thread merges the card's timeline: the card shows it once, here
    return [Panel("discussions.thread", _l("Discussion"), target, "discussions.use",
                  render_panel, order=10, merges_timeline=True)
            for target in ("deal", "customer")]


@hookimpl
def register_events() -> list[type]:
    from .events import EVENTS

    return EVENTS


@hookimpl
def register_blueprints(app: Any) -> list[Any]:
    from .views import bp

    return [bp]


@hookimpl
def register_api_blueprints(api: Any) -> list[Any]:
    from .api import blp

    return [blp]


@hookimpl
def discussions_discussables() -> list[Any]:
    """The core's deals and customers; leads when the leads plugin is on."""
    from conveyor.models import Customer, Deal, TimelineEntry

    from .discussables import Discussable

    found = [
        Discussable(name="deals", model=Deal, permission="deals.view", target="deal",
                    label=lambda deal: deal.title,
                    url=lambda deal: url_for("deals.card", deal_id=deal.id),
                    timeline=TimelineEntry.deal_id),
        Discussable(name="customers", model=Customer, permission="customers.view",
                    target="customer", label=lambda customer: customer.name,
                    url=lambda customer: url_for("customers.card", customer_id=customer.id),
                    timeline=TimelineEntry.customer_id),
    ]
    from flask import current_app

    if current_app.extensions["conveyor"].enabled("leads"):
        from conveyor.plugins.leads.models import Lead

        found.append(Discussable(
            name="leads", model=Lead, permission="leads.view", label=lambda lead: lead.label,
            url=lambda lead: url_for("discussions.thread", resource="leads", record_id=lead.id)))
    return found


@hookimpl
def handle_event(event: Any, session: Any) -> None:
    """A deleted deal takes its thread along (posts, followers, attachments' rows)."""
    if isinstance(event, DealDeleted):
        from sqlalchemy import delete

        from .models import Thread

        session.execute(delete(Thread).where(Thread.resource == "deals",
                                             Thread.record_id == event.deal_id))


@hookimpl
def seed_demo_data(session: Any, users: dict[str, Any], rng: Any) -> None:
    from .demo import seed

    seed(session, users, rng)
