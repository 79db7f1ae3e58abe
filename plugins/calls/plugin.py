"""The calls plugin's manifest and hook implementations."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from conveyor import Manifest, NavItem, Permission, hookimpl, timeline_kind
from conveyor.i18n import _l

timeline_kind("call.logged", _l("call logged"))

manifest = Manifest(
    title=_l("Calls"), requires=("leads",),
    description=_l("The telemarketer's call queue, call results, products of interest and the "
                   "leads they find."))


@hookimpl
def register_models() -> list[type]:
    from .models import Call, QueueItem

    return [Call, QueueItem]


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission("calls.log", _l("Log calls and work through one's call queue"),
                   _l("Also shows one's own call statistics.")),
        Permission("calls.view_team", _l("See the calls and statistics of everyone in one's "
                                         "record scope, and fill their call queues")),
    ]


@hookimpl
def register_role_defaults() -> dict[str, dict[str, list[str]]]:
    return {
        "telemarketer": {"permissions": ["calls.log"], "widgets": ["calls.my_queue"]},
        "manager": {"permissions": ["calls.log", "calls.view_team"]},
        "admin": {"permissions": ["calls.log", "calls.view_team"]},
    }


@hookimpl
def register_nav_items() -> list[NavItem]:
    return [NavItem("calls", _l("Calls"), "calls.index", "calls.log", order=40)]


@hookimpl
def register_widgets() -> list[Any]:
    from .widgets import WIDGETS

    return WIDGETS


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


@hookimpl(optionalhook=True)
def relationship_interest(customer_ids: list[int] | None) -> list[Select[Any]]:
    """Calls where the customer showed interest, as (customer_id, at) rows."""
    from .models import Call

    query = select(Call.customer_id.label("customer_id"), Call.created_at.label("at")).where(
        Call.interested.is_(True), Call.customer_id.is_not(None))
    if customer_ids is not None:
        query = query.where(Call.customer_id.in_(customer_ids))
    return [query]


@hookimpl
def seed_demo_data(session: Any, users: dict[str, Any], rng: Any) -> None:
    from .demo import seed

    seed(session, users, rng)
