"""The hello plugin: the entry point named in pyproject.toml, its manifest and hookimpls.

Everything comes from the ``conveyor`` facade, exactly as in the built-in plugins.
"""
from __future__ import annotations

from typing import Any

import click
from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import func, select

from conveyor import Manifest, NavItem, Permission, Setting, db, hookimpl, require, scoped, setting
from conveyor.i18n import _l
from conveyor.models import Customer

manifest = Manifest(title=_l("Hello"),
                    description=_l("An example plugin: a greeting page for sellers."))

bp = Blueprint("hello", __name__, template_folder="templates")


@bp.get("/hello")
@require("hello.view")
def index() -> str:
    # Record rules are SQL: scoped() already limits the customers to those the user may see.
    visible = scoped(Customer, current_user).subquery()
    customers = db.session.scalar(select(func.count()).select_from(visible))
    return render_template("hello/index.html", greeting=setting("hello.greeting"),
                           customers=customers)


@hookimpl
def register_settings() -> list[Setting]:
    return [Setting("hello.greeting", default="Hello", type=str,
                    doc="The word the hello page greets with.")]


@hookimpl
def register_permissions() -> list[Permission]:
    return [Permission("hello.view", _l("See the hello page"))]


@hookimpl
def register_role_defaults() -> dict[str, dict[str, list[str]]]:
    # A suggestion: role files, config and the admin's edits may change it.
    return {"seller": {"permissions": ["hello.view"]}}


@hookimpl
def register_nav_items() -> list[NavItem]:
    return [NavItem("hello", _l("Hello"), "hello.index", "hello.view", order=500)]


@hookimpl
def register_blueprints(app: Any) -> list[Blueprint]:
    return [bp]


@hookimpl
def register_commands(cli: Any) -> None:
    @cli.command("hello")
    def hello_command() -> None:
        """Print the configured greeting (an example plugin command)."""
        click.echo(f"{setting('hello.greeting')} from the hello plugin!")
