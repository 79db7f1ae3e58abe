"""The funnel plugin's manifest and hook implementations."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from conveyor import Manifest, NavItem, Permission, Setting, Widget, hookimpl
from conveyor.i18n import _l

from . import hookspecs

manifest = Manifest(
    title=_l("Funnel"),
    description=_l("Stage funnel, conversion, time in stage, stalled deals, the five numbers, "
                   "targets and plan fulfilment."),
    hookspecs=hookspecs,
)

PERMISSIONS = [
    Permission("funnel.view", _l("See the funnel and sales analytics (your own numbers)")),
    Permission("funnel.view_team", _l("See the analytics of the people in your teams")),
    Permission("funnel.view_all", _l("See everyone's analytics")),
    Permission("funnel.targets", _l("Set sales targets for sellers and teams")),
]
WIDGETS = ["funnel.plan_fulfilment", "funnel.stalled_deals"]


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("funnel.committed_percent", default=60, type=int,
                doc="Open deals in a stage of at least this percent count as committed."),
        Setting("funnel.fulfilment_source", default="deals", type=str,
                choices=("deals", "invoices"),
                doc="Plan fulfilment from won deals, or from issued/paid invoices when a plugin "
                    "answers the funnel_fulfilment hook (falls back to deals otherwise)."),
        Setting("funnel.stalled_days", default={}, type=dict, example={"Negotiation": 21},
                doc="Days after which a deal in a stage is stalled, by stage id or name "
                    "(JSON in the environment). Stages not named use their 90th percentile."),
        Setting("funnel.stalled_history_days", default=365, type=int,
                doc="How far back the 90th-percentile stalled threshold looks."),
        Setting("funnel.threshold_cache_seconds", default=3600, type=int,
                doc="How long a process keeps the computed stalled thresholds."),
    ]


@hookimpl
def register_models() -> list[Any]:
    from .models import (
        FunnelClosedTotal,
        FunnelDuration,
        FunnelReached,
        FunnelStageMove,
        FunnelTarget,
    )

    return [FunnelTarget, FunnelClosedTotal, FunnelReached, FunnelStageMove, FunnelDuration]


@hookimpl
def deal_rows_flushed(connection: Any, session: Any, changes: list[Any],
                      history: list[dict[str, Any]],
                      removed_history: dict[int, list[dict[str, Any]]]) -> None:
    """Keep the funnel's summaries (summaries.py) in the transaction of the change."""
    from .summaries import on_flush

    on_flush(connection, session, changes, history, removed_history)


@hookimpl
def register_commands(cli: Any) -> None:
    from .cli import funnel_group

    cli.add_command(funnel_group)


@hookimpl
def register_permissions() -> list[Permission]:
    return PERMISSIONS


@hookimpl
def register_role_defaults() -> dict[str, dict[str, list[str]]]:
    return {
        "seller": {"permissions": ["funnel.view"], "widgets": WIDGETS},
        "manager": {"permissions": ["funnel.view", "funnel.view_team", "funnel.view_all",
                                    "funnel.targets"], "widgets": WIDGETS},
        "admin": {"permissions": ["funnel.view", "funnel.view_all", "funnel.targets"]},
    }


@hookimpl
def register_nav_items() -> list[NavItem]:
    return [NavItem("funnel", _l("Funnel"), "funnel.index", "funnel.view", order=40)]


@hookimpl
def register_widgets() -> list[Widget]:
    from .widgets import render_plan, render_stalled

    return [
        Widget("funnel.plan_fulfilment", _l("Plan fulfilment"), "funnel.view", render_plan),
        Widget("funnel.stalled_deals", _l("Stalled deals"), "funnel.view", render_stalled),
    ]


@hookimpl
def register_blueprints(app: Any) -> list[Any]:
    from .views import bp

    return [bp]


@hookimpl
def register_api_blueprints(api: Any) -> list[Any]:
    from .api import blp

    return [blp]


@hookimpl
def seed_demo_data(session: Any, users: dict[str, Any], rng: Any) -> None:
    """This month's team targets (split evenly) and this quarter's per-seller targets."""
    from flask import current_app

    from conveyor.models import TeamMember

    from .periods import current
    from .targets import set_team_target, set_user_target

    sellers = list(users.get("sellers") or ([users["seller"]] if "seller" in users else []))
    by = users.get("manager")
    currency = current_app.config["CONVEYOR"]["default_currency"]
    team_ids = sorted(set(session.scalars(select(TeamMember.team_id).where(
        TeamMember.user_id.in_([s.id for s in sellers] or [0])))))
    month, quarter = current("month"), current("quarter")
    for team_id in team_ids:
        volume = Decimal(rng.randrange(40, 120) * 1000)
        set_team_target(team_id, "month", month.start, volume, (volume * Decimal("0.3")).quantize(
            Decimal("1")), currency, by)
    for seller in sellers:
        volume = Decimal(rng.randrange(60, 180) * 1000)
        set_user_target(seller.id, "quarter", quarter.start, volume,
                        (volume * Decimal("0.25")).quantize(Decimal("1")), currency, by)
