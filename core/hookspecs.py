"""Conveyor's hook specifications: the whole contract between the core and its plugins.

Rules (see docs/hooks.md): the first plugin listed in config is called first; the core's own
``default_*`` implementations are ``trylast`` fallbacks. An implementation may accept fewer
arguments than the spec names; arguments are only ever added, never renamed or removed.
"""
from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("conveyor")
hookimpl = pluggy.HookimplMarker("conveyor")


# ---------------------------------------------------------------------------------------------
# Start-up: called once per app by create_app, in this order.
# ---------------------------------------------------------------------------------------------


@hookspec
def register_settings() -> list[Any]:
    """Declare configuration keys the plugin reads.

    :return: a list of :class:`conveyor.Setting` (key, default, type, doc). Keys are
        ``<plugin>.<name>``; a value in config or ``CONVEYOR_<PLUGIN>_<NAME>`` overrides the
        default.
    """


@hookspec
def register_models() -> list[Any]:
    """Name the model classes the plugin owns.

    :return: a list of SQLAlchemy model classes. Their tables must start with the plugin's name
        (``leads_``); tests create exactly the tables of enabled plugins, migrations likewise.
    """


@hookspec
def register_permissions() -> list[Any]:
    """Declare named capabilities such as ``leads.assign``.

    :return: a list of :class:`conveyor.Permission`. A name declared twice stops start-up.
    """


@hookspec
def register_role_defaults() -> dict[str, dict[str, list[str]]]:
    """Default permissions and home widgets the plugin suggests for each role.

    :return: ``{"seller": {"permissions": [...], "widgets": [...]}, ...}``. Role files,
        config and admin edits override these, in that order.
    """


@hookspec
def register_nav_items() -> list[Any]:
    """Entries of the main navigation.

    :return: a list of :class:`conveyor.NavItem`; each is shown only to users holding its
        permission.
    """


@hookspec
def register_widgets() -> list[Any]:
    """Home-screen widgets.

    :return: a list of :class:`conveyor.Widget`. A role's home screen lists widget ids; a widget
        that raises is shown as an error box and logged, the page still renders.
    """


@hookspec
def register_panels() -> list[Any]:
    """Panels on the customer and deal cards.

    :return: a list of :class:`conveyor.Panel` whose ``target`` is ``"customer"`` or ``"deal"``.
    """


@hookspec
def register_list_filters() -> list[Any]:
    """Extra filters on the customers and deals lists (web and API).

    :return: a list of :class:`conveyor.ListFilter`; each narrows a ``select()`` in SQL.
    """


@hookspec
def register_events() -> list[type]:
    """Event classes the plugin emits, so others can find and document them.

    :return: a list of dataclass types deriving from :class:`conveyor.Event`.
    """


@hookspec
def register_jobs() -> list[Any]:
    """Background jobs the plugin runs, by name.

    :return: a list of :class:`conveyor.Job`. Names start with the plugin's name
        (``leads.intake``); a name declared twice stops start-up. Queue one with
        :func:`conveyor.enqueue` — it runs after the commit, on a worker when Redis is
        configured, in-process otherwise.

    The job's arguments are JSON values (ids, not objects). The core commits what the job
    writes together with the row's done mark, and rolls it back when the job raises; a job
    retried after a crash must therefore be safe to run again (look the record up, check
    its state). Example::

        from conveyor import Job, enqueue, hookimpl, notify

        def remind(activity_id: int) -> None:
            activity = db.session.get(Activity, activity_id)
            if activity is not None and not activity.done:
                notify(activity.owner_id, _l("Due now: %(title)s", title=activity.title))

        @hookimpl
        def register_jobs():
            return [Job("activities.remind", remind, max_attempts=5, timeout=60)]

        # in a view or service, inside the transaction that creates the activity:
        enqueue("activities.remind", activity_id=activity.id, run_at=activity.due_at,
                key=f"activities.remind:{activity.id}")
    """


@hookspec
def register_schedules() -> list[Any]:
    """Recurring runs of registered jobs (a sweep, a daily check).

    :return: a list of :class:`conveyor.Schedule`. One scheduler runs them (``conveyor
        scheduler``, or the in-process poller of ``conveyor demo``); each run is an outbox row
        with an idempotency key per period, so several schedulers never run a period twice.

    A period is ``every`` (a timedelta) or, with ``setting``, that many minutes from a
    setting the plugin declares (0 turns the schedule off). Periods are aligned on the epoch
    (UTC): a daily schedule runs soon after midnight UTC. Example::

        from datetime import timedelta
        from conveyor import Schedule, Setting, hookimpl

        @hookimpl
        def register_settings():
            return [Setting("leads.sweep_minutes", 60, int, "Minutes between sweeps; 0 = off.")]

        @hookimpl
        def register_schedules():
            return [Schedule("leads.sweep", setting="leads.sweep_minutes"),
                    Schedule("relationships.recompute", every=timedelta(days=1))]
    """


@hookspec
def register_stage_gates(app: Any) -> list[Any]:
    """Named conditions a deal must meet to enter or pass a stage ("the contract is approved").

    An admin switches gates on per stage (Admin → Stages). Every path that moves a deal
    (:func:`conveyor.move_deal`, :func:`conveyor.update_deal`, :func:`conveyor.create_deal` into
    a stage, and any ORM change of ``Deal.stage_id``) asks the gates of the target stage and of
    every open stage a forward move passes; one refusal stops the move and nothing changes. The
    API answers 409 ``{"code": "stage_gate", "message": …}``, the pages flash the reasons.

    :param app: the Flask app being built; ``app.extensions["conveyor"].pm`` lets a plugin ask
        its own hooks which gates to declare (approvals: one per approvable resource).
    :return: a list of :class:`conveyor.StageGate` (``name``, ``label``, ``check``). ``check(move)``
        gets a :class:`conveyor.StageMove` (``deal``, ``old``, ``new``, ``gated``, ``by``) and
        returns ``None`` to let the deal through or a reason — a lazy string, so each reader gets
        their language. Names start with the plugin's name; a name declared twice stops start-up.
        A gate whose plugin is disabled no longer applies.
    """


@hookspec
def register_blueprints(app: Any) -> list[Any]:
    """Web blueprints of the plugin.

    :param app: the Flask app being built.
    :return: a list of :class:`flask.Blueprint`. A blueprint must be named after its plugin
        (or start with ``<plugin>_``); every view must declare its permission with
        :func:`conveyor.require`.
    """


@hookspec
def register_api_blueprints(api: Any) -> list[Any]:
    """REST blueprints mounted under ``/api/v1``.

    :param api: the app's :class:`flask_smorest.Api`.
    :return: a list of :class:`flask_smorest.Blueprint`, documented in the OpenAPI file.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add subcommands to the ``conveyor`` command.

    :param cli: the click group; call ``cli.add_command`` or decorate with ``@cli.command``.
    """


@hookspec
def startup(app: Any) -> None:
    """Called once when the app is fully built, inside its app context."""


# ---------------------------------------------------------------------------------------------
# Per request.
# ---------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def user_from_request(request: Any) -> Any:
    """Authenticate a request by other means than the session (tokens, SSO).

    firstresult: the first non-``None`` answer wins.

    :return: a :class:`conveyor.models.User` or ``None``.
    """


@hookspec
def record_filters(model: type, user: Any, permission: str | None) -> list[Any]:
    """SQL criteria that narrow which rows of ``model`` a user may see.

    Called each time the core builds a scoped query. Criteria are ANDed with the role's record
    rule, so a plugin can only narrow, never widen.

    :return: a list of SQLAlchemy boolean expressions (or an empty list).
    """


@hookspec
def register_search_kinds() -> list[Any]:
    """Kinds of records the search box (header, results page, suggestions, ``/api/v1/search``)
    finds besides the core's customers, contacts and deals.

    Each :class:`conveyor.SearchKind` names its model, the permission that shows it, a
    :class:`conveyor.SearchIndex` (created by the plugin's migration with
    ``conveyor.create_search_index``: FTS5 on SQLite, a pg_trgm index over a stored column on
    PostgreSQL), the
    statement of the columns a hit shows and how to turn a row into a
    :class:`conveyor.SearchHit`. The core applies the model's record rules (``scope``), so a
    user finds only what its list would show; one statement per kind, however many hits.

    :return: a list of :class:`conveyor.SearchKind`.
    """


@hookspec
def extra_template_vars(template: str, request: Any, user: Any) -> dict[str, Any]:
    """Variables added to the context of every rendered page.

    :param template: the template name being rendered.
    :return: a dict merged into the context.
    """


@hookspec
def customer_actions(customer: Any, user: Any, request: Any) -> list[Any]:
    """Action links offered on a customer card.

    :return: a list of :class:`conveyor.Action`.
    """


@hookspec
def deal_actions(deal: Any, user: Any, request: Any) -> list[Any]:
    """Action links offered on a deal card.

    :return: a list of :class:`conveyor.Action`.
    """


@hookspec
def api_extra_fields(resource: str, objects: list[Any], user: Any) -> dict[int, dict[str, Any]]:
    """Extra fields for a batch of API objects, fetched in one query, not one per row.

    :param resource: ``"customer"``, ``"contact"`` or ``"deal"``.
    :param objects: the model instances about to be serialised.
    :return: ``{object_id: {field: value}}``, merged into each serialised object.
    """


# ---------------------------------------------------------------------------------------------
# Events.
# ---------------------------------------------------------------------------------------------


@hookspec
def handle_event(event: Any, session: Any) -> None:
    """React to an event inside the transaction that caused it.

    Raising aborts the whole change. Use it for data that must never disagree with the event.

    :param event: a :class:`conveyor.Event` instance.
    :param session: the SQLAlchemy session; flush, do not commit.
    """


@hookspec
def deal_rows_flushed(connection: Any, session: Any, changes: list[Any],
                      history: list[dict[str, Any]],
                      removed_history: dict[int, list[dict[str, Any]]]) -> None:
    """Keep a summary of deals right, inside the transaction of every change to them.

    Called after each flush that inserted, changed or deleted deals or added stage-history rows,
    whoever made the change through the ORM (screens, API, CLI, plugins). Bulk SQL that bypasses
    the ORM does not call it: a plugin keeping a summary offers a command that rebuilds it.

    :param connection: the flush's connection; write with it (``connection.execute``), so the
        summary commits or rolls back with the change. Do not flush or commit the session.
    :param session: the session, for looking objects up in its identity map.
    :param changes: :class:`conveyor.deal_changes.DealRowChange` per deal: ``deal_id``,
        ``old`` (None when inserted) and ``new`` (None when deleted), each a dict of
        ``owner_id, stage_id, pipeline_id, currency, amount, margin, lost_reason, closed_at,
        stage_entered_at, created_at``.
    :param history: stage-history rows inserted by the flush (``id, deal_id, from_stage_id,
        to_stage_id, at``).
    :param removed_history: the stage-history rows of the deleted deals (gone with them),
        by deal id.
    """


@hookspec
def track_event(event: Any) -> None:
    """React to an event after its transaction committed: notifications, email, webhooks.

    Runs after the response is sent when there is one. A failure is logged and retried; it never
    reaches the user, whose data is already safe.

    Say which events your implementation takes by setting ``track_event.conveyor_tracks =
    {"DealWon", ...}`` (event class names) after the function: a transaction none of whose
    events any tracker takes then writes no outbox row and runs no delivery after the response.
    Without it, your implementation is handed every event. Either way, check the event's type.
    """


# ---------------------------------------------------------------------------------------------
# Demo.
# ---------------------------------------------------------------------------------------------


@hookspec
def seed_demo_data(session: Any, users: dict[str, Any], rng: Any) -> None:
    """Add the plugin's rows to the demo company made by ``conveyor demo``.

    :param users: demo users by role name (``users["seller"]``) plus ``"sellers"``: a list.
    :param rng: a seeded :class:`random.Random`, so the demo is the same every time.
    """
