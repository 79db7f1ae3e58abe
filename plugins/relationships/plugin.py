"""The relationships plugin's manifest and hook implementations."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import click
from flask.cli import AppGroup

from conveyor import Job, ListFilter, Manifest, NavItem, Permission, Schedule, Setting, db, hookimpl
from conveyor.i18n import _l

from . import follow, hookspecs  # follow also watches deal deletions at the ORM

manifest = Manifest(
    title=_l("Relationships"),
    uses=("leads", "calls"),
    description=_l("Relationship types (cold, potential, current, regular, lapsed) followed "
                   "from deals, leads and calls, with history and ladder reports."),
    hookspecs=hookspecs,
)

relationships_cli = AppGroup("relationships", help="Relationship types of customers.")


@relationships_cli.command("recompute")
@click.option("--batch-size", default=0, show_default=True,
              help="Customers per transaction (by id range); 0 = all in one.")
def recompute_command(batch_size: int) -> None:
    """Rebuild every customer's type from the data (idempotent; after a settings change)."""
    from .services import recompute

    result = recompute(db.session, batch_size=batch_size)
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(result.by_type.items()))
    click.echo(f"{result.customers} customers in {result.batches} batch(es); "
               f"{result.changed} changed, {result.new} new. {counts}")


@relationships_cli.command("rebuild-won")
def rebuild_won_command() -> None:
    """Rebuild the won-amount day sums of the reports from the deals (after a bulk change made
    without events, or to check them)."""
    from .won_ledger import rebuild

    deals = rebuild(db.session)
    db.session.commit()
    click.echo(f"{deals} won deals summed per owner, day, relationship type and currency.")


@relationships_cli.command("rebuild-counts")
def rebuild_counts_command() -> None:
    """Rebuild the customers per owner and type and the moves per owner and day the reports
    read (after a bulk change made without events, or to check them)."""
    from .type_counts import rebuild

    customers = rebuild(db.session)
    db.session.commit()
    click.echo(f"{customers} customers counted per owner and relationship type.")


def recompute_job() -> None:
    """The daily ``relationships.recompute`` job: types that change with time alone (lapsed
    after ``relationships.lapsed_after_months``, interest and regular windows running out)
    move without any event to trigger them."""
    from .services import recompute

    recompute(db.session, batch_size=RECOMPUTE_BATCH)


RECOMPUTE_BATCH = 5000  # customers per transaction in the daily job


@hookimpl
def register_jobs() -> list[Any]:
    return [Job("relationships.recompute", recompute_job, max_attempts=3, timeout=3600,
                title=_l("Relationship types: daily check (lapsed customers, windows)"))]


@hookimpl
def register_schedules() -> list[Any]:
    return [Schedule("relationships.recompute", every=timedelta(days=1))]


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("relationships.regular_min_wins", 2, int,
                "Won deals within the window that make a customer regular (at least 2)."),
        Setting("relationships.regular_window_months", 24, int,
                "Months back in which those wins must fall; 0 = any time."),
        Setting("relationships.lapsed_after_months", 0, int,
                "A customer who bought but not in this many months is lapsed; 0 = off."),
        Setting("relationships.interest_window_months", 12, int,
                "Interest from a lead or a call keeps a customer potential for this many "
                "months; 0 = for ever. An open deal always does."),
    ]


@hookimpl
def register_models() -> list[type]:
    from .models import RelationshipState, RelationshipTransition
    from .type_counts import CountedCustomer, MoveDay, TypeCount
    from .won_ledger import WonDay, WonDeal

    return [RelationshipState, RelationshipTransition, WonDeal, WonDay, CountedCustomer,
            TypeCount, MoveDay]


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission("relationships.view", _l("See customers' relationship types and history")),
        Permission("relationships.override", _l("Set a customer's relationship type by hand")),
        Permission("relationships.reports",
                   _l("See relationship reports (own customers, or the team's by record scope)")),
    ]


@hookimpl
def register_role_defaults() -> dict[str, dict[str, list[str]]]:
    everything = ["relationships.view", "relationships.override", "relationships.reports"]
    return {
        "admin": {"permissions": everything, "widgets": []},
        "manager": {"permissions": everything, "widgets": ["relationships.team"]},
        "seller": {"permissions": ["relationships.view", "relationships.reports"],
                   "widgets": ["relationships.mine"]},
        "assistant": {"permissions": ["relationships.view"], "widgets": []},
    }


@hookimpl
def register_nav_items() -> list[NavItem]:
    return [NavItem("relationships", _l("Relationships"), "relationships.reports",
                    "relationships.reports", order=60)]


@hookimpl
def register_widgets() -> list[Any]:
    from .widgets import WIDGETS

    return WIDGETS


@hookimpl
def register_panels() -> list[Any]:
    from .widgets import PANELS

    return PANELS


def _filter_choices() -> list[tuple[str, Any]]:
    from .models import TYPES, type_labels

    labels = type_labels()
    return [(t, labels[t]) for t in TYPES]


def _apply_filter(query: Any, value: str) -> Any:
    """Customers of one type; a customer never recorded counts as cold. Unknown values: ignored."""
    from sqlalchemy import select

    from conveyor.models import Customer

    from .models import TYPES
    from .models import RelationshipState as S

    if value not in TYPES:
        return query
    if value == "cold":
        return query.where(~Customer.id.in_(select(S.customer_id).where(S.type != "cold")))
    return query.where(Customer.id.in_(select(S.customer_id).where(S.type == value)))


@hookimpl
def register_list_filters() -> list[ListFilter]:
    return [ListFilter(name="relationship", label=_l("Relationship"), model="customer",
                       choices=_filter_choices, apply=_apply_filter)]


@hookimpl
def register_events() -> list[type]:
    from .events import RelationshipChanged

    return [RelationshipChanged]


@hookimpl
def register_blueprints(app: Any) -> list[Any]:
    from .views import bp

    return [bp]


@hookimpl
def register_api_blueprints(api: Any) -> list[Any]:
    from .api import blp

    return [blp]


@hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command(relationships_cli)


@hookimpl
def handle_event(event: Any, session: Any) -> None:
    """Follow the events that can move a type, inside their transaction (raising aborts it)."""
    follow.handle(event, session)


@hookimpl
def api_extra_fields(resource: str, objects: list[Any], user: Any) -> dict[int, dict[str, Any]]:
    """``relationship_type``/``_since``/``_override`` on customers; ``relationship_history`` too
    when one customer is addressed by its URL (``/customers/<id>``), never on list pages."""
    if resource != "customer":
        return {}
    from flask import has_request_context, request

    from .api import extra_fields

    addressed = not has_request_context() or bool(request.view_args)
    return extra_fields(objects, single=len(objects) == 1 and addressed)


@hookimpl
def seed_demo_data(session: Any, users: dict[str, Any], rng: Any) -> None:
    """The demo's deals were followed as they were made; a recompute settles the rest."""
    from .services import recompute

    recompute(session, commit=False)
