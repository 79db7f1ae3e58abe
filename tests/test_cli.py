"""The ``conveyor`` command: the group, users, tokens, plugins, and CONVEYOR_DATABASE_URL."""
from __future__ import annotations

import json
import runpy
import sqlite3
import types
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import select

from conveyor import NavItem, Permission, hookimpl
from conveyor.cli import cli, plugins_command, token_cli, user_cli
from conveyor.extensions import db
from conveyor.models import ApiToken, User

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment a deployment sets; FlaskGroup's own FLASK_RUN_FROM_CLI is undone after."""
    monkeypatch.setenv("CONVEYOR_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("CONVEYOR_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("CONVEYOR_PLUGINS", "")
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "false")
    return tmp_path / "cli.db"


def run(app: Any, command: click.Command, args: list[str], input: str | None = None) -> Any:
    return CliRunner().invoke(command, args, input=input, obj=ScriptInfo(create_app=lambda: app))


def test_help_lists_the_core_and_flask_commands(env):
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for name in ("db", "demo", "user", "token", "plugins", "run", "shell", "routes"):
        assert f"\n  {name} " in result.output


def test_version_option_names_conveyor(env):
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("conveyor, version ")


def test_every_command_uses_conveyor_database_url(env):
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("core: <empty> -> ")
    with sqlite3.connect(env) as conn:
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    current = CliRunner().invoke(cli, ["db", "current"])
    assert "up to date" in current.output


def test_user_create_reads_the_password_from_stdin(app, captured_events):
    result = run(app, user_cli, ["create", "alice", "--role", "seller", "--role", "lawyer",
                                 "--password-stdin", "--display-name", "Alice Liddell",
                                 "--email", "alice@example.com"], input="s3cret phrase\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "alice"))
        assert user.roles == ["lawyer", "seller"]
        assert user.check_password("s3cret phrase") and not user.check_password("s3cret")
        assert (user.display_name, user.email) == ("Alice Liddell", "alice@example.com")
    assert captured_events.names() == ["UserCreated"]
    assert [e.user.username for e in captured_events.tracked] == ["alice"]


def test_user_create_without_password_stdin_leaves_no_password(app):
    result = run(app, user_cli, ["create", "robot", "--role", "assistant"])
    assert result.exit_code == 0, result.output
    assert "no password" in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "robot"))
        assert user.password_hash is None and not user.check_password("")


def test_user_create_refuses_an_unknown_role_and_lists_the_roles(app):
    result = run(app, user_cli, ["create", "bob", "--role", "seller", "--role", "wizard"])
    assert result.exit_code == 2
    assert "unknown role 'wizard'" in result.output
    for role in ("admin", "manager", "marketer", "telemarketer", "seller", "assistant", "lawyer"):
        assert role in result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "bob")) is None


def test_user_create_accepts_a_role_a_plugin_defines(make_app):
    auditor = types.SimpleNamespace(register_role_defaults=hookimpl(
        lambda: {"auditor": {"permissions": ["customers.view"]}}))
    app = make_app(extra_plugins=[("auditing", auditor)])
    result = run(app, user_cli, ["create", "audrey", "--role", "auditor"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("args, message", [
    (["create", "seller", "--role", "seller"], "already exists"),
    (["create", "two words", "--role", "seller"], "no spaces"),
    (["create", "x" * 81, "--role", "seller"], "1 to 80 characters"),
    (["create", "carol", "--role", "seller", "--email", "nope"], "not an email address"),
])
def test_user_create_refuses_bad_input(app, args, message):
    result = run(app, user_cli, args)
    assert result.exit_code != 0 and message in result.output


def test_user_create_refuses_an_empty_password(app):
    result = run(app, user_cli, ["create", "dave", "--role", "seller", "--password-stdin"],
                 input="\n")
    assert result.exit_code == 1 and "no password" in result.output


def test_token_create_prints_a_secret_stored_only_as_a_hash(app, users):
    result = CliRunner().invoke(token_cli, ["create", "seller", "--name", "ci"],
                                obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("cvr_") and len(secret) > 30
    with app.app_context():
        token = db.session.scalar(select(ApiToken).where(ApiToken.hash(secret) ==
                                                         ApiToken.token_hash))
        assert (token.user_id, token.name, token.prefix) == (users["seller"], "ci", secret[:10])
        assert secret not in {token.token_hash, token.prefix}


def test_token_create_for_an_unknown_user_fails(app):
    result = run(app, token_cli, ["create", "nobody"])
    assert result.exit_code == 1 and "no user 'nobody'" in result.output


class Greeter:
    """A plugin registered without an entry point, as a test double of an installed one."""

    manifest = None

    @hookimpl
    def register_permissions(self):
        return [Permission("greeter.use", "Use the greeter")]

    @hookimpl
    def register_role_defaults(self):
        return {"seller": {"permissions": ["greeter.use"]},
                "manager": {"permissions": ["greeter.use"]}}

    @hookimpl
    def register_nav_items(self):
        return [NavItem("greeter", "Greeter", "home.index", "greeter.use")]

    @hookimpl
    def register_commands(self, cli):
        @cli.command("greet")
        @click.argument("name")
        def greet(name):
            click.echo(f"Hello, {name}!")


def test_plugins_json_reports_version_hooks_and_roles(make_app):
    app = make_app(extra_plugins=[("greeter", Greeter())])
    result = run(app, plugins_command, ["--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    greeter = rows["greeter"]
    assert greeter["enabled"] is True
    assert greeter["hooks"] == ["register_commands", "register_nav_items",
                                "register_permissions", "register_role_defaults"]
    assert greeter["permissions"] == ["greeter.use"]
    assert greeter["roles"] == ["manager", "seller"]
    leads = rows["leads"]  # installed through the entry point group, not enabled in this app
    assert (leads["enabled"], leads["distribution"], leads["hooks"], leads["roles"]) == \
        (False, "conveyor-crm", None, None)
    assert leads["version"] and leads["module"] == "conveyor.plugins.leads.plugin"


def test_plugins_counts_admin_edits_of_roles(make_app):
    from conveyor.models import RoleSetting

    app = make_app(extra_plugins=[("greeter", Greeter())])
    with app.app_context():
        db.session.add(RoleSetting(role="lawyer", data={"add_permissions": ["greeter.use"]}))
        db.session.commit()
    rows = {r["name"]: r for r in json.loads(run(app, plugins_command, ["--json"]).output)}
    assert rows["greeter"]["roles"] == ["lawyer", "manager", "seller"]


def test_plugins_text_lists_each_plugin(make_app):
    app = make_app(extra_plugins=[("greeter", Greeter())])
    result = run(app, plugins_command, [])
    assert result.exit_code == 0, result.output
    assert "greeter - (enabled)" in result.output
    assert "  roles: manager, seller" in result.output
    assert "leads " in result.output and "(disabled)" in result.output


def test_plugin_commands_join_the_conveyor_group(make_app, monkeypatch):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "false")
    app = make_app(extra_plugins=[("greeter", Greeter())])
    result = CliRunner().invoke(cli, ["greet", "Ada"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    assert result.output == "Hello, Ada!\n"


def test_flask_app_wsgi_offers_the_same_commands(env):
    module = runpy.run_path(str(ROOT / "wsgi.py"))
    app = module["app"]
    try:
        # attached on the first lookup (a web worker never imports the CLI modules)
        assert {"db", "demo", "user", "token", "plugins"} <= set(
            app.cli.list_commands(click.Context(app.cli)))
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert env.exists()
    finally:
        with app.app_context():
            db.engine.dispose()
