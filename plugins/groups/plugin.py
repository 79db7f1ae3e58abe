"""The groups plugin's manifest and hook implementations."""
from __future__ import annotations

from typing import Any

from conveyor import Manifest, NavItem, Permission, Setting, hookimpl
from conveyor.i18n import _l

manifest = Manifest(
    title=_l("Groups"), uses=("leads",),
    description=_l("Segments of customers and leads by saved filters or by hand, exported as "
                   "CSV or pushed to a mailing service; unsubscribed addresses are left out."))


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("groups.batch_size", 1000, int,
                "Rows read per query when exporting, and sent per webhook POST."),
        Setting("groups.webhook_timeout", 10, int, "Seconds to wait for the webhook per batch."),
        Setting("groups.default_region", "RU", str,
                "Region for reading national phone numbers typed on the unsubscribe list "
                "(ISO 3166 code, e.g. RU, CN, US).", example="CN"),
    ]


@hookimpl
def register_models() -> list[type]:
    from .models import Group, GroupMember, GroupPush, Unsubscribe

    return [Group, GroupMember, Unsubscribe, GroupPush]


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission("groups.view", _l("See groups, their members and the unsubscribe list, "
                                     "and export groups as CSV")),
        Permission("groups.edit", _l("Create and change groups, push them to webhooks and mark "
                                     "addresses unsubscribed")),
    ]


@hookimpl
def register_role_defaults() -> dict[str, dict[str, list[str]]]:
    both = ["groups.view", "groups.edit"]
    return {"marketer": {"permissions": both}, "manager": {"permissions": both},
            "admin": {"permissions": both}}


@hookimpl
def register_nav_items() -> list[NavItem]:
    return [NavItem("groups", _l("Groups"), "groups.index", "groups.view", order=45)]


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
def track_event(event: Any) -> None:
    """Run a requested webhook push after its transaction committed."""
    if type(event).__name__ == "GroupPushRequested":
        from .export import run_push

        run_push(event.push_id)


track_event.conveyor_tracks = {"GroupPushRequested"}  # no outbox row for other events' writes


@hookimpl
def seed_demo_data(session: Any, users: dict[str, Any], rng: Any) -> None:
    from .demo import seed

    seed(session, users, rng)
