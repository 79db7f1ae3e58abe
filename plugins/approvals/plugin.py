"""The approvals plugin's manifest and hook implementations."""
from __future__ import annotations

from typing import Any

from conveyor import Job, Manifest, NavItem, Permission, Schedule, Setting, hookimpl
from conveyor.i18n import _l

from . import hookspecs

manifest = Manifest(
    title=_l("Approvals"),
    description=_l("Approval requests on contracts, deal terms and any record a plugin "
                   "registers; approver rules, history, stage gates and discount approval."),
    hookspecs=hookspecs,
)

PERMISSIONS = [
    Permission("approvals.view", _l("See approval requests and their history")),
    Permission("approvals.request", _l("Send records for approval and withdraw one's requests")),
    Permission("approvals.decide", _l("Approve or send back the requests one is an approver of")),
]


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("approvals.manager_role", "manager", str,
                "The role of a requester's manager: a holder of it in one of the requester's "
                "teams approves 'manager' requests (any holder when the team has none)."),
        Setting("approvals.discount_limits", "seller:10 assistant:0 manager:25 admin:100", str,
                "The largest discount, in percent, each role may give without the manager's "
                "approval ('role:percent' pairs)."),
        Setting("approvals.discount_limit_default", 0, float,
                "The discount limit of roles not named in discount_limits."),
        Setting("approvals.overdue_working_days", 2, int,
                "Working days (Mon–Fri) a request may wait before the approvers' managers are "
                "told."),
        Setting("approvals.overdue_check_minutes", 60, int,
                "How often the scheduler looks for overdue requests."),
        Setting("approvals.escalate_fallback_role", "admin", str,
                "Who hears of an overdue request when its approvers have no manager in a team."),
        Setting("approvals.queue_size", 50, int, "Requests per page of an approver's queue."),
    ]


@hookimpl
def register_models() -> list[Any]:
    from .models import MODELS

    return MODELS


@hookimpl
def register_permissions() -> list[Permission]:
    return PERMISSIONS


@hookimpl
def register_role_defaults() -> dict[str, dict[str, list[str]]]:
    everyone = ["approvals.view", "approvals.request", "approvals.decide"]
    return {
        "admin": {"permissions": everyone},
        "manager": {"permissions": everyone, "widgets": ["approvals.queue"]},
        "lawyer": {"permissions": everyone,
                   "widgets": ["approvals.queue", "approvals.approved_week",
                               "approvals.sent_back"]},
        "seller": {"permissions": ["approvals.view", "approvals.request"],
                   "widgets": ["approvals.my_requests"]},
        "assistant": {"permissions": ["approvals.view", "approvals.request"]},
    }


@hookimpl
def register_nav_items() -> list[NavItem]:
    return [NavItem("approvals", _l("Approvals"), "approvals.index", "approvals.view", order=55)]


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
    from .views import bp

    return [bp]


@hookimpl
def register_api_blueprints(api: Any) -> list[Any]:
    from .api import blp

    return [blp]


@hookimpl
def register_jobs() -> list[Job]:
    from . import services

    return [Job("approvals.escalate_overdue", lambda: services.escalate_overdue(),
                title=_l("Find overdue approval requests")),
            Job("approvals.notify_overdue", services.notify_overdue,
                title=_l("Tell managers of an overdue approval request"))]


@hookimpl
def register_schedules() -> list[Schedule]:
    return [Schedule("approvals.escalate_overdue", setting="approvals.overdue_check_minutes")]


@hookimpl
def register_stage_gates(app: Any) -> list[Any]:
    from .gates import stage_gates

    return stage_gates(app)


@hookimpl
def register_approvables() -> list[Any]:
    from .resources import DEAL

    return [DEAL]


@hookimpl
def api_extra_fields(resource: str, objects: list[Any], user: Any) -> dict[int, dict[str, Any]]:
    """Deals in the API carry ``approval``: their latest "deal" request, one query per batch."""
    if resource != "deal" or not objects:
        return {}
    from .api import latest_by_deal

    return latest_by_deal([o.id for o in objects])


@hookimpl
def seed_demo_data(session: Any, users: dict[str, Any], rng: Any) -> None:
    from .demo import seed

    seed(session, users, rng)
