"""The checks conveyor.testing gives plugin authors: they pass on a sound plugin and catch the
faults they are for."""
from __future__ import annotations

from pathlib import Path

import pytest

from conveyor import migrate


def test_check_migrations_passes_for_a_plugin_whose_revisions_build_its_models(check_migrations):
    check_migrations("calls", plugins=["leads", "calls"])


def test_a_boolean_default_only_sqlite_accepts_is_reported(tmp_path: Path):
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "hello_0001.py").write_text(
        'op.add_column("hello_notes", sa.Column("done", sa.Boolean(), nullable=False, '
        'server_default=sa.text(\'0\')))\n', encoding="utf-8")
    (versions / "hello_0002.py").write_text(
        'op.add_column("hello_notes", sa.Column("seen", sa.Boolean(), nullable=False, '
        'server_default=sa.false()))\n', encoding="utf-8")
    problems = migrate.portability_problems(migrate.History("hello", versions, "v"))
    assert len(problems) == 1 and problems[0].startswith("hello_0001.py:1:")


def test_check_routes_reports_a_view_without_a_permission(make_app, check_routes):
    from flask import Blueprint

    from conveyor import hookimpl

    bp = Blueprint("leaky", __name__)

    @bp.get("/leaky")
    def leaky():
        return "secret"

    class Leaky:
        @hookimpl
        def register_blueprints(self, app):
            return [bp]

    app = make_app(extra_plugins=[("leaky", Leaky())])
    with pytest.raises(AssertionError, match="no require/login_required/public"):
        check_routes(app, plugin="leaky")


def test_autogenerate_writes_boolean_defaults_that_postgresql_accepts():
    from sqlalchemy import Boolean, Column, false, true

    for default, written in ((false(), "sa.false()"), (true(), "sa.true()")):
        column = Column("done", Boolean, server_default=default)
        assert migrate._render_item("server_default", column.server_default, None) == written
    assert migrate._render_item("server_default", Column("n", Boolean, server_default="0")
                                .server_default, None) is False  # Alembic's own rendering
