"""The ``conveyor`` command: a Flask CLI group with the core's commands.

``conveyor`` builds the app with :func:`conveyor.create_app` (so ``CONVEYOR_DATABASE_URL``,
``CONVEYOR_PLUGINS`` and the other ``CONVEYOR_*`` variables apply to every command) and offers
Flask's ``run``/``shell``/``routes``, the core's ``db``, ``demo``, ``user``, ``token`` and
``plugins``, and whatever enabled plugins add through ``register_commands(cli)``.
``flask --app wsgi …`` offers the same once :func:`add_core_commands` has run on ``app.cli``.
"""
from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from . import __version__
from .extensions import db
from .plugin_loading import installed_plugins
from .role_layers import ROLE_NAMES, current_roles


class _LazyMigrations:
    """``conveyor.migrate``, imported by the first command that uses it: it brings Alembic,
    Mako and Pygments (~10 MB), and every web worker registers these commands without running
    any of them."""

    def __getattr__(self, name: str) -> Any:
        from . import migrate

        return getattr(migrate, name)


migrations: Any = _LazyMigrations()


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined]


def _fail_on_migration_error(fn: Any) -> Any:
    """Turn a refused migration request into a one-line error instead of a traceback."""
    from functools import wraps

    @wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except migrations.MigrationError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapped


# --- db ------------------------------------------------------------------------------------------

db_cli = AppGroup("db", help="Database migrations: the core's, then each enabled plugin's.")


@db_cli.command("upgrade")
@click.option("--plugin", "name", default=None,
              help="Upgrade only this history ('core' or a plugin's name).")
@click.argument("revision", default="heads")
@_fail_on_migration_error
def db_upgrade(name: str | None, revision: str) -> None:
    """Create or update the tables: the core first, then enabled plugins in dependency order.

    With --plugin, only that history is moved, to REVISION (default: its head)."""
    app = _app()
    if name is None:
        if revision != "heads":
            raise click.UsageError("a REVISION needs --plugin (which history to move)")
        migrations.upgrade_all(app, click.echo)
        return
    before, after = migrations.upgrade(app, name, revision)
    click.echo(f"{name}: {_heads(before)} -> {_heads(after)}")


@db_cli.command("downgrade")
@click.option("--plugin", "name", required=True,
              help="Which history to move back: 'core' or a plugin's name.")
@click.argument("revision")
@_fail_on_migration_error
def db_downgrade(name: str, revision: str) -> None:
    """Move one history back to REVISION ('base' drops all of a plugin's tables)."""
    before, after = migrations.downgrade(_app(), name, revision)
    click.echo(f"{name}: {_heads(before)} -> {_heads(after)}")


@db_cli.command("current")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def db_current(as_json: bool) -> None:
    """Each history's revision in the database against the newest in its files."""
    rows = migrations.status(_app())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        if not row["enabled"]:
            state = "plugin not enabled; its tables are kept"
        elif not row["heads"]:
            state = "no migrations"
        else:
            state = "up to date" if row["up_to_date"] else f"behind (head: {_heads(row['heads'])})"
        click.echo(f"{row['name']:<16} {_heads(row['current']):<28} {state}")


@db_cli.command("revision")
@click.option("-m", "--message", required=True, help="What the revision does.")
@click.option("--plugin", "name", default=None,
              help="The plugin whose history gets the revision (default: the core's).")
@click.option("--autogenerate", is_flag=True,
              help="Fill it in by comparing that history's models with the database.")
@_fail_on_migration_error
def db_revision(message: str, name: str | None, autogenerate: bool) -> None:
    """Write a new revision file (for plugin authors: --plugin NAME, the plugin enabled)."""
    path = migrations.revision(_app(), name, message, autogenerate)
    if path is None:
        click.echo("No changes in the schema detected; no revision written.")
    else:
        click.echo(f"Wrote {path}")


@db_cli.command("check")
@click.option("--plugin", "name", default=None, help="Check only this history.")
@_fail_on_migration_error
def db_check(name: str | None) -> None:
    """Fail when the database and the models disagree (a migration is missing or drifted), or a
    revision holds SQL that only SQLite accepts."""
    app = _app()
    names = [name] if name else [h.name for h in migrations.histories(app)]
    bad = unportable = False
    for history in names:
        diffs = migrations.drift(app, history)
        for diff in diffs:
            click.echo(f"{history}: {diff}")
        portability = migrations.portability_problems(migrations.history_of(app, history))
        for problem in portability:
            click.echo(f"{history}: {problem}")
        bad = bad or bool(diffs)
        unportable = unportable or bool(portability)
    if bad:
        raise click.ClickException("the database differs from the models")
    if unportable:
        raise click.ClickException("a revision holds SQL that PostgreSQL refuses (see above)")
    click.echo("The database matches the models.")


def _heads(heads: Any) -> str:
    return ", ".join(heads) if heads else "<empty>"


# --- demo ----------------------------------------------------------------------------------------


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--serve/--no-serve", default=True, show_default=True,
              help="Serve after seeding (--no-serve: only build the database).")
@click.option("--reset", is_flag=True,
              help="Drop every table in the database first, then build the demo afresh.")
@click.option("--seed", default=None, type=int, help="Random seed of the demo data.")
@with_appcontext
def demo_command(host: str, port: int, serve: bool, reset: bool, seed: int | None) -> None:
    """Build (if missing) and seed a demo company, then serve it on HOST:PORT.

    Users: admin, manager, marketer, telemarketer, seller (and seller2, seller3), assistant,
    lawyer — all with the password 'demo'. A database that already has users or customers is
    served as it is, never seeded."""
    from .demo import DEFAULT_SEED, DEMO_PASSWORD, DEMO_USERS, seed_demo

    app = _app()
    if reset:
        migrations.wipe(app)
        click.echo("Dropped every table.")
    migrations.upgrade_all(app, click.echo)
    app.config["CONVEYOR"]["demo"] = True
    summary = seed_demo(app, db.session, seed=DEFAULT_SEED if seed is None else seed)
    if summary is None:
        click.echo("The database already has data: nothing seeded.")
    else:
        click.echo(f"Seeded {summary.users} users, {summary.customers} customers, "
                   f"{summary.contacts} contacts, {summary.deals} deals, "
                   f"{summary.history} stage changes.")
        click.echo(f"Sign in as {', '.join(u for u, *_ in DEMO_USERS)} "
                   f"with the password {DEMO_PASSWORD!r}.")
    if serve:
        from werkzeug.serving import run_simple

        from .jobs import Poller
        from .rq_backend import backend

        if backend(app) is None:  # no Redis: schedules and retries run in this process
            Poller(app, interval=float(app.config["CONVEYOR"]["jobs_poll_seconds"])).start()

        click.echo(f"Serving the demo on http://{host}:{port}/ (Ctrl+C stops it).")
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


# --- users and tokens ----------------------------------------------------------------------------

user_cli = AppGroup("user", help="People who sign in.")


def known_roles() -> list[str]:
    """The seven built-in roles, roles from files and plugins, and admin-made roles."""
    names = dict.fromkeys(ROLE_NAMES)
    names.update(dict.fromkeys(_app().extensions["conveyor"].roles))
    try:
        names.update(dict.fromkeys(current_roles()))
    except SQLAlchemyError:  # no tables yet: the database-held roles simply are not there
        db.session.rollback()
    return list(names)


@user_cli.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True,
              help="A role to grant; repeat for several.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
@click.option("--display-name", default="", help="The name shown in the interface.")
@click.option("--email", default=None)
def user_create(username: str, roles: tuple[str, ...], password_stdin: bool, display_name: str,
                email: str | None) -> None:
    """Create a user. Without --password-stdin the user has no password and signs in with
    API tokens only (conveyor token create USERNAME)."""
    from .events import UserCreated, emit
    from .models import User

    username = username.strip()
    if not username or len(username) > 80 or any(c.isspace() for c in username):
        raise click.BadParameter("1 to 80 characters, no spaces", param_hint="USERNAME")
    if len(display_name) > 120:
        raise click.BadParameter("at most 120 characters", param_hint="--display-name")
    if email is not None and (len(email) > 254 or "@" not in email):
        raise click.BadParameter("not an email address", param_hint="--email")
    known = known_roles()
    unknown = [r for r in roles if r not in known]
    if unknown:
        raise click.BadParameter(f"unknown role {', '.join(map(repr, unknown))}; roles: "
                                 f"{', '.join(known)}", param_hint="--role")
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise click.ClickException(f"user {username!r} already exists")
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
    user = User(username=username, display_name=display_name, email=email or None)
    user.roles = list(roles)
    if password is not None:
        user.set_password(password)
    db.session.add(user)
    db.session.flush()
    emit(UserCreated(user=user))
    db.session.commit()
    how = "a password" if password else "no password (API tokens only)"
    click.echo(f"Created user {username!r} ({', '.join(user.roles)}) with {how}.")


token_cli = AppGroup("token", help="API bearer tokens.")


@token_cli.command("create")
@click.argument("username")
@click.option("--name", default="", help="What the token is for (shown on the profile page).")
def token_create(username: str, name: str) -> None:
    """Issue a token for USERNAME and print its secret: shown once, stored hashed."""
    from .models import ApiToken, User

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    if len(name) > 80:
        raise click.BadParameter("at most 80 characters", param_hint="--name")
    token, secret = ApiToken.issue(user, name)
    db.session.add(token)
    db.session.commit()
    click.echo(f"Token {token.prefix}… for {username!r}; it is shown only now:", err=True)
    click.echo(secret)


# --- search --------------------------------------------------------------------------------------

search_cli = AppGroup("search", help="The search box's index.")


@search_cli.command("optimize")
def search_optimize() -> None:
    """Merge each SQLite search index into one segment (PostgreSQL: nothing to do).

    Rows added one at a time leave the index in several segments, each searched on every lookup;
    merged, searches that read many candidates (a seller's own records among a common word's
    matches) are faster. Safe at any time; run it after a large import or now and then."""
    from .search.index import optimize_indexes

    done = optimize_indexes(db.session.connection())
    db.session.commit()
    if not done:
        click.echo("Nothing to optimize (no SQLite search index).")
    for fts, before, after in done:
        click.echo(f"{fts}: {before} segments -> {after}")


# --- deals ---------------------------------------------------------------------------------------

deals_cli = AppGroup("deals", help="Deals.")


@deals_cli.command("rebuild-totals")
def deals_rebuild_totals() -> None:
    """Recompute the per-stage deal totals (the board's counts and sums) from the deals.

    The app keeps them current on every change it makes; run this after loading deals with SQL
    that bypassed it (an import, a restore of the deals table alone)."""
    from .crm import rebuild_deal_totals

    rows = rebuild_deal_totals(db.session)
    db.session.commit()
    click.echo(f"Rebuilt the deal totals: {rows} (stage, owner, currency) rows.")


audit_cli = AppGroup("audit", help="The audit trail.")


@audit_cli.command("purge")
@click.option("--days", type=int, default=None,
              help="Keep this many days (default: the audit_retention_days setting).")
def audit_purge(days: int | None) -> None:
    """Delete audit entries older than the retention period (run it daily, e.g. from cron).

    The only way entries leave the trail: the app itself never changes or deletes one."""
    from datetime import timedelta

    from sqlalchemy import delete

    from .models import AuditEntry
    from .types import utcnow

    keep = days if days is not None else current_app.config["CONVEYOR"]["audit_retention_days"]
    if keep <= 0:
        click.echo("audit_retention_days is 0: the trail is kept for ever; nothing deleted.")
        return
    cutoff = utcnow() - timedelta(days=keep)
    result = db.session.execute(delete(AuditEntry).where(AuditEntry.at < cutoff))
    db.session.commit()
    click.echo(f"Deleted {result.rowcount} audit entries older than {keep} days.")


@click.command("backup")
@click.argument("target", type=click.Path(file_okay=False))
@click.option("--storage-dir", default=None, type=click.Path(file_okay=False),
              help="The documents' storage folder to include (default: the storage_dir "
                   "setting, if any).")
@with_appcontext
def backup_command(target: str, storage_dir: str | None) -> None:
    """Back up the database (and the storage folder) into the new directory TARGET.

    SQLite: the online backup API, consistent while the app runs. PostgreSQL: pg_dump's custom
    format. Restore with `conveyor restore TARGET`."""
    from .backup import BackupError, backup

    try:
        manifest = backup(_app(), target, storage_dir)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Backed up the {manifest['engine']} database and {len(manifest['files'])} "
               f"files into {target}.")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.option("--storage-dir", default=None, type=click.Path(file_okay=False),
              help="Where the storage folder goes (default: the storage_dir setting, then the "
                   "folder the backup was taken from).")
@click.option("--yes", is_flag=True, help="Do not ask: the current data is replaced.")
@with_appcontext
def restore_command(source: str, storage_dir: str | None, yes: bool) -> None:
    """Replace the database (and the storage folder) with the backup in SOURCE.

    Stop the app's processes first: requests during a restore see a half-old database."""
    from .backup import BackupError, read_manifest, restore

    try:
        manifest = read_manifest(source)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    if not yes:
        click.confirm(f"Replace the current database with the backup of "
                      f"{manifest['created_at']}?", abort=True)
    try:
        restore(_app(), source, storage_dir)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Restored the backup of {manifest['created_at']}.")


# --- plugins -------------------------------------------------------------------------------------


def plugin_inventory(app: Flask) -> list[dict[str, Any]]:
    """Every installed plugin: version, enabled, hooks it implements, roles that use it.

    Disabled plugins are not imported (installed is not enabled), so their hooks, permissions
    and roles are reported as ``None``: unknown, not "none".
    """
    state = app.extensions["conveyor"]
    loaded = {p.name: p for p in state.plugins}
    try:
        roles = current_roles()  # with the admin's edits when the database has them
    except SQLAlchemyError:
        db.session.rollback()
        roles = state.roles
    rows = []
    entry_points = installed_plugins()
    for name in sorted(set(entry_points) | set(loaded)):
        ep, plugin = entry_points.get(name), loaded.get(name)
        dist = getattr(ep, "dist", None)
        row: dict[str, Any] = {
            "name": name, "module": ep.value if ep else _module_name(plugin.module),
            "distribution": dist.name if dist else None,
            "version": dist.version if dist else None, "enabled": plugin is not None,
            "title": None, "hooks": None, "permissions": None, "roles": None,
        }
        if plugin is not None:
            registered = state.pm.get_plugin(name)
            perms: list[str] = []
            for impl in state.pm.hook.register_permissions.get_hookimpls():
                if impl.plugin_name == name:
                    perms += [p.name for p in impl.function() or ()]
            row.update(
                title=str(plugin.manifest.title),
                hooks=sorted(h.name for h in state.pm.get_hookcallers(registered) or ()),
                permissions=sorted(perms),
                roles=sorted(r for r, role in roles.items() if role.permissions & set(perms)),
            )
        rows.append(row)
    return rows


def _module_name(obj: Any) -> str:
    """A plugin registered without an entry point may be a module or any object."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def plugins_command(as_json: bool) -> None:
    """List installed plugins: version, enabled here, hooks implemented, roles that use it."""
    app = _app()
    with app.test_request_context():  # plugin titles are lazy strings: render them in a locale
        rows = plugin_inventory(app)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No plugins installed.")
    for row in rows:
        state = "enabled" if row["enabled"] else "disabled"
        click.echo(f"{row['name']} {row['version'] or '-'} ({state}) {row['module']}")
        if row["enabled"]:
            click.echo(f"  hooks: {', '.join(row['hooks']) or '-'}")
            click.echo(f"  roles: {', '.join(row['roles']) or '-'}")
        else:
            click.echo("  hooks, roles: unknown until enabled (disabled plugins are not imported)")


rates_cli = AppGroup("rates", help="Exchange rates into the company currency.")


@rates_cli.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
def rates_import(file: Any) -> None:
    """Import a published rates table (CSV: date, currency, rate[, nominal]); all or nothing."""
    from .money import RateError, import_rates

    try:
        count = import_rates(file.read())
    except RateError as exc:
        db.session.rollback()
        raise click.ClickException(f"nothing imported: {exc.message}") from exc
    db.session.commit()
    click.echo(f"Imported {count} rates.")


plugin_cli = click.Group("plugin", help="Write a new plugin package.")


@plugin_cli.command("new")
@click.argument("name")
@click.option("--dir", "target", default=".", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write conveyor-NAME/ into.")
@click.option("--title", default=None, help="The plugin's title in the menu (default: NAME).")
def plugin_new(name: str, target: Path, title: str | None) -> None:
    """Write conveyor-NAME/: an installable plugin with a model, its migration, permissions, a
    page with a form, an API, an event handler, a widget, translations and passing tests."""
    from .plugin_scaffold import ScaffoldError, create_plugin

    try:
        root = create_plugin(name, target, title)
    except ScaffoldError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from exc
    click.echo(f"Wrote {root}. Next:\n  cd {root}\n  pip install -e .\n  python -m pytest\n"
               f"  CONVEYOR_PLUGINS=\"{name}\" conveyor db upgrade")


# --- the group -----------------------------------------------------------------------------------

from .jobs_cli import COMMANDS as JOB_COMMANDS  # noqa: E402 - worker, scheduler, jobs

CORE_COMMANDS = [db_cli, demo_command, user_cli, token_cli, deals_cli, search_cli, audit_cli,
                 backup_command, restore_command, plugins_command, plugin_cli, rates_cli,
                 *JOB_COMMANDS]


def add_core_commands(group: click.Group) -> None:
    """Attach the core's commands to a group (the ``conveyor`` group, or an app's ``app.cli``)."""
    for command in CORE_COMMANDS:
        group.add_command(command)


def _create_app() -> Flask:
    from . import create_app

    return create_app()


cli = FlaskGroup(name="conveyor", create_app=_create_app, add_default_commands=True,
                 add_version_option=False,
                 help="Conveyor, a plugin-extensible CRM: the database, users, tokens, plugins, "
                      "the demo and a development server. Configured by CONVEYOR_* variables "
                      "(CONVEYOR_DATABASE_URL, CONVEYOR_PLUGINS, CONVEYOR_CONFIG).")
add_core_commands(cli)
cli = click.version_option(__version__, prog_name="conveyor")(cli)


def main() -> None:
    """Entry point of the ``conveyor`` console script."""
    cli.main(prog_name="conveyor")


if __name__ == "__main__":  # python -m conveyor.cli
    sys.exit(main())
