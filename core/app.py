"""The application factory: config, plugins, extensions, blueprints — in that order."""
from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

from . import audit, calendar_bounds, deal_changes, safe_json  # noqa: F401 - listeners
from .extensions import (
    babel,
    csrf,
    db,
    document_decimal_strings,
    limiter,
    login_manager,
    make_api,
)
from .i18n import ConveyorRequest, select_locale, select_timezone
from .plugin_loading import PluginError, State, build_plugin_manager
from .request_transactions import init_request_transactions
from .role_layers import build_base_roles
from .security import init_security
from .settings import apply_flask_config, load_config, resolve_settings

log = logging.getLogger("conveyor")


def create_app(config: dict[str, Any] | None = None, plugins: list[str] | None = None,
               extra_plugins: list[tuple[str, Any]] = (), instance_path: str | None = None,
               ) -> Flask:
    """Build a Conveyor app.

    :param config: overrides over defaults.toml, CONVEYOR_CONFIG and CONVEYOR_* variables.
    :param plugins: the enabled plugins, replacing ``config["plugins"]``.
    :param extra_plugins: ``(name, module_or_object)`` pairs registered without an entry point
        (tests register throwaway plugins this way).
    """
    app = Flask("conveyor", instance_path=instance_path or os.environ.get(
        "CONVEYOR_INSTANCE_PATH") or None, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.cli = LazyCommands(name=app.name)  # before any blueprint adds to it
    cfg = load_config(config)
    if plugins is not None:
        cfg["plugins"] = list(plugins)
    apply_flask_config(app, cfg)
    init_security(app, cfg)
    safe_json.install(app)
    calendar_bounds.install()
    audit.install()

    pm, loaded = build_plugin_manager(cfg["plugins"], list(extra_plugins))
    state = State(pm=pm, plugins=loaded)
    app.extensions["conveyor"] = state
    _collect(app, state, cfg)

    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(_translation_dirs(app, state))
    db.init_app(app)
    _sqlite_pragmas(app)
    init_request_transactions(app)
    from .rq_backend import init_backend

    init_backend(app)  # RQ on Redis when redis_url is set; jobs run in-process otherwise
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.request_class = ConveyorRequest
    limiter.init_app(app)
    api = make_api()
    api.init_app(app)
    document_decimal_strings(api)
    app.extensions["conveyor_api"] = api

    from .auth import init_auth
    from .web import init_web

    init_auth(app)
    init_web(app)
    _register_plugin_blueprints(app, state, api)
    from .api import init_api

    init_api(app, api)
    # `flask --app <anything>` has db/demo/user/token/plugins and the plugins' commands too,
    # attached when a command line first asks: a web worker never imports them
    app.cli.attach_later(lambda group: _attach_commands(group, pm))
    with app.app_context():
        pm.hook.startup(app=app)
    return app


class LazyCommands(AppGroup):
    """``app.cli`` whose commands are attached by a callback the first time a command line
    looks one up or lists them. The CLI modules (the core's, the plugins' and what they import,
    ~1.6 MB) are then never imported by a web worker, which only serves requests."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: list[Any] = []

    def attach_later(self, attach: Any) -> None:
        """Run ``attach(self)`` before the first command lookup or listing."""
        self._pending.append(attach)

    def _attach(self) -> None:
        while self._pending:
            self._pending.pop(0)(self)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        self._attach()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: Any) -> list[str]:
        self._attach()
        return super().list_commands(ctx)


def _attach_commands(group: AppGroup, pm: Any) -> None:
    from .cli import add_core_commands

    add_core_commands(group)
    pm.hook.register_commands(cli=group)


def _collect(app: Flask, state: State, cfg: dict[str, Any]) -> None:
    hook = state.pm.hook
    for group in hook.register_settings():
        state.setting_decls.extend(group or ())
    state.settings = resolve_settings(cfg, state.setting_decls)
    for impl in hook.register_models.get_hookimpls():
        models = impl.function() or []
        owner = impl.plugin_name
        for model in models:
            table = model.__tablename__
            if not table.startswith(owner + "_"):
                raise PluginError(f"plugin {owner!r}: table {table!r} must start with '{owner}_'")
        state.models[owner] = list(models)
    for group in hook.register_permissions():
        for perm in group or ():
            if perm.name in state.permissions:
                raise PluginError(f"permission {perm.name!r} is declared twice")
            state.permissions[perm.name] = perm
    state.roles = build_base_roles(hook.register_role_defaults(), cfg.get("roles", {}),
                                   set(state.permissions))
    for group in hook.register_nav_items():
        state.nav_items.extend(group or ())
    state.nav_items.sort(key=lambda n: n.order)
    for group in hook.register_widgets():
        for widget in group or ():
            if widget.id in state.widgets:
                raise PluginError(f"widget {widget.id!r} is declared twice")
            state.widgets[widget.id] = widget
    for group in hook.register_panels():
        state.panels.extend(group or ())
    state.panels.sort(key=lambda p: p.order)
    for group in hook.register_list_filters():
        state.list_filters.extend(group or ())
    from .events import CORE_EVENTS

    state.events = list(CORE_EVENTS)
    for group in hook.register_events():
        state.events.extend(group or ())
    from .jobs import collect as collect_jobs

    collect_jobs(state, hook)
    from .stage_gates import collect as collect_gates

    collect_gates(app, state, hook)


def _translation_dirs(app: Flask, state: State) -> list[str]:
    """The core's catalog, then any plugin package shipping its own ``translations/``."""
    dirs = [os.path.join(app.root_path, "translations")]
    for plugin in state.plugins:
        package = os.path.dirname(getattr(plugin.module, "__file__", "") or "")
        candidate = os.path.join(package, "translations")
        if package and os.path.isdir(candidate) and candidate not in dirs:
            dirs.append(candidate)
    return dirs


def _register_plugin_blueprints(app: Flask, state: State, api: Any) -> None:
    for impl in state.pm.hook.register_blueprints.get_hookimpls():
        for bp in impl.function(**({"app": app} if "app" in impl.argnames else {})) or ():
            name = impl.plugin_name
            if bp.name != name and not bp.name.startswith(name + "_") and "." not in name:
                raise PluginError(f"plugin {name!r}: blueprint {bp.name!r} must be named after it")
            app.register_blueprint(bp)
    for impl in state.pm.hook.register_api_blueprints.get_hookimpls():
        for bp in impl.function(**({"api": api} if "api" in impl.argnames else {})) or ():
            if not (bp.url_prefix or "").startswith("/api/v1/"):
                raise PluginError(f"plugin {impl.plugin_name!r}: API blueprint {bp.name!r} "
                                  "needs url_prefix='/api/v1/...'")
            api.register_blueprint(bp)


def _sqlite_pragmas(app: Flask) -> None:
    """WAL, so readers never block the writer on the embedded database; temporary B-trees in
    memory: a UNION, a DISTINCT or a materialized CTE (a team's visible owners, on every page a
    manager reads) otherwise goes to a temporary file, written with a system call per page
    once the page cache is busy: 0.4 ms of a manager's board at 1M deals."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine: Engine = db.engine

        @sa_event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            if ":memory:" not in app.config["SQLALCHEMY_DATABASE_URI"]:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()


__all__ = ["create_app"]
