"""The activities plugin's manifest and hook implementations."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from conveyor import Job, Manifest, NavItem, Permission, Schedule, Setting, hookimpl
from conveyor.i18n import _l

manifest = Manifest(
    title=_l("Activities"), uses=("leads", "funnel", "relationships"),
    description=_l("Tasks, calls, meetings and visits: the seller's day, the next step of each "
                   "deal, a calendar with a feed, reminders and recurring tasks."))


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("activities.extra_kinds", "", str,
                "Kinds of activity added to call, email, meeting, todo and visit, comma "
                "separated (e.g. \"demo, delivery\")."),
        Setting("activities.reminder_minutes", 15, int,
                "Default minutes before a task its reminder is sent."),
        Setting("activities.sweep_minutes", 1, int,
                "Minutes between two runs of the reminder sweep."),
        Setting("activities.daily_visits", "seller=8", str,
                "Daily visit standard per role, as role=n pairs (\"seller=8, manager=2\")."),
        Setting("activities.ask_next_step_at", "", str,
                "Stage percents (comma separated) whose move asks for the deal's next step in "
                "the same form, e.g. \"10, 20\"; empty: never asked."),
        Setting("activities.series_horizon_days", 90, int,
                "Days ahead that the occurrences of recurring tasks are made."),
    ]


@hookimpl
def register_models() -> list[type]:
    from . import next_steps  # noqa: F401 - keeps the next-step summary with every flush
    from .models import Activity, DealSteps, FeedToken, Series

    return [Series, Activity, DealSteps, FeedToken]


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission("activities.use", _l("Plan and hold one's activities, see one's day and "
                                        "calendar"),
                   _l("Others' activities only within one's record scope.")),
        Permission("activities.view_team", _l("See the team's calendar, visits and deals "
                                              "without a next step")),
    ]


@hookimpl
def register_role_defaults() -> dict[str, dict[str, list[str]]]:
    mine = ["activities.use"]
    team = ["activities.use", "activities.view_team"]
    return {
        "seller": {"permissions": mine, "widgets": ["activities.my_day"]},
        "assistant": {"permissions": mine, "widgets": ["activities.my_day"]},
        "telemarketer": {"permissions": mine},
        "lawyer": {"permissions": mine},
        "manager": {"permissions": team, "widgets": ["activities.team_day"]},
        "admin": {"permissions": team},
    }


@hookimpl
def register_nav_items() -> list[NavItem]:
    return [NavItem("activities", _l("Activities"), "activities.index", "activities.use",
                    order=25),
            NavItem("activities_calendar", _l("Calendar"), "activities.calendar",
                    "activities.use", order=26)]


@hookimpl
def register_widgets() -> list[Any]:
    from .widgets import WIDGETS

    return WIDGETS


@hookimpl
def register_panels() -> list[Any]:
    from .widgets import PANELS

    return PANELS


@hookimpl
def register_blueprints(app: Any) -> list[Any]:
    from . import calendar_views  # noqa: F401 - adds the calendar's routes to the blueprint
    from .views import bp

    return [bp]


@hookimpl
def register_api_blueprints(api: Any) -> list[Any]:
    from .api import blp

    return [blp]


@hookimpl
def register_commands(cli: Any) -> None:
    from .cli import activities_group

    cli.add_command(activities_group)


@hookimpl
def deal_rows_flushed(connection: Any, session: Any, changes: list[Any],
                      history: list[dict[str, Any]],
                      removed_history: dict[int, list[dict[str, Any]]]) -> None:
    """Open deals keep their row of the next-step summary (created, reopened, closed, owner)."""
    from .next_steps import on_deals_flushed

    on_deals_flushed(connection, session, changes)


@hookimpl
def register_jobs() -> list[Job]:
    from .recurrence import extend_all
    from .reminders import (
        REMIND_JOB,
        REMIND_MANY_JOB,
        SWEEP_JOB,
        remind,
        remind_many,
        sweep_reminders,
    )

    return [Job(SWEEP_JOB, sweep_reminders, max_attempts=3, timeout=300,
                title=_l("Activity reminders: find the due ones")),
            Job(REMIND_JOB, remind, max_attempts=5, title=_l("Activity reminder")),
            Job(REMIND_MANY_JOB, remind_many, max_attempts=5, title=_l("Activity reminders")),
            Job("activities.extend_series", extend_all, max_attempts=3,
                title=_l("Recurring tasks: make the next occurrences"))]


@hookimpl
def register_schedules() -> list[Schedule]:
    return [Schedule("activities.sweep_reminders", setting="activities.sweep_minutes"),
            Schedule("activities.extend_series", every=timedelta(hours=6))]


@hookimpl(optionalhook=True)
def funnel_client_visits(start: datetime, end: datetime,
                         owner_ids: list[int] | None) -> dict[int, dict[str, int]]:
    """Visits held in the period per seller, FSI as first, FUA as follow-up."""
    from .stats import client_visits

    return client_visits(start, end, owner_ids)


@hookimpl(optionalhook=True)
def funnel_client_visits_by_period(bounds: list[datetime], owner_ids: list[int] | None
                                   ) -> list[dict[int, dict[str, int]]]:
    """Visits per seller in each of consecutive periods (the five numbers' trend)."""
    from .stats import client_visits_by_period

    return client_visits_by_period(bounds, owner_ids)


@hookimpl(optionalhook=True)
def relationship_activities(start: datetime, end: datetime,
                            owner_ids: list[int] | None) -> list[dict[str, Any]]:
    """Activities held in the period per kind and the customer's relationship type."""
    from .stats import activities_per_type

    return activities_per_type(start, end, owner_ids)


@hookimpl
def seed_demo_data(session: Any, users: dict[str, Any], rng: Any) -> None:
    from .demo import seed

    seed(session, users, rng)
