"""examples/conveyor-hello: a third-party plugin built as a wheel, installed, found and used.

The wheel is installed with pip into a temporary folder put on ``sys.path`` (and on the
subprocess's PYTHONPATH) rather than into the shared virtualenv: the test proves the same thing
— pip installs it, its entry point is discovered — without changing what other test runs see.
"""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conveyor.testing import build_and_install

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "conveyor-hello"


@pytest.fixture(scope="module")
def hello_site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Build the example's wheel from a copy (no build/ litter in the repository), install it."""
    site = build_and_install(EXAMPLE, tmp_path_factory.mktemp("hello"))
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    yield site
    sys.path.remove(str(site))
    for name in [m for m in sys.modules if m.split(".")[0] == "conveyor_hello"]:
        del sys.modules[name]
    importlib.invalidate_caches()


def conveyor_plugins_json(site: Path, tmp_path: Path, plugins: str) -> list[dict[str, Any]]:
    """``conveyor plugins --json`` in a fresh process, as a deployment would run it."""
    script = Path(sys.executable).with_name("conveyor")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "conveyor.cli"]
    env = {**os.environ, "CONVEYOR_PLUGINS": plugins,
           "CONVEYOR_DATABASE_URL": f"sqlite:///{tmp_path}/plugins.db",
           "CONVEYOR_INSTANCE_PATH": str(tmp_path / "instance"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(site),
                                                       os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([*command, "plugins", "--json"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_conveyor_plugins_lists_the_installed_example(hello_site, tmp_path):
    rows = {row["name"]: row for row in conveyor_plugins_json(hello_site, tmp_path, "hello")}
    hello = rows["hello"]
    assert (hello["distribution"], hello["version"], hello["enabled"]) == \
        ("conveyor-hello", "0.1.0", True)
    assert hello["module"] == "conveyor_hello.plugin"
    assert {"register_blueprints", "register_nav_items", "register_permissions",
            "register_role_defaults"} <= set(hello["hooks"])
    assert hello["permissions"] == ["hello.view"] and hello["roles"] == ["seller"]


def test_an_installed_but_disabled_example_is_listed_as_disabled(hello_site, make_app):
    from conveyor.cli import plugin_inventory

    app = make_app()  # no plugins enabled; the example is installed all the same
    with app.test_request_context():
        rows = {row["name"]: row for row in plugin_inventory(app)}
    assert rows["hello"]["enabled"] is False and rows["hello"]["version"] == "0.1.0"
    assert rows["hello"]["hooks"] is None  # a disabled plugin is not imported to list its hooks


@pytest.fixture
def hello_app(hello_site, make_app) -> Any:
    return make_app(plugins=["hello"], config={"hello": {"greeting": "Good morning"}})


def test_the_example_page_is_for_sellers_only(hello_app):
    from conveyor.testing import client_as

    seller = client_as(hello_app, "seller")
    page = seller.get("/hello")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="hello-greeting">Good morning, Seller!' in html
    assert "You can see 0 customers." in html
    assert 'data-nav="hello"' in html  # its menu item, from register_nav_items
    marketer = client_as(hello_app, "marketer")
    assert marketer.get("/hello").status_code == 403
    assert 'data-nav="hello"' not in marketer.get("/").get_data(as_text=True)


def test_the_example_page_needs_a_login(hello_app):
    response = hello_app.test_client().get("/hello")
    assert response.status_code in (302, 401)


def test_the_example_template_ships_in_the_wheel_and_renders(hello_site, hello_app):
    from flask import render_template

    assert (hello_site / "conveyor_hello" / "templates" / "hello" / "index.html").is_file()
    with hello_app.test_request_context("/hello"):
        from flask_login import login_user

        from conveyor.extensions import db
        from conveyor.models import User

        login_user(db.session.get(User, hello_app.config["TEST_USER_IDS"]["seller"]))
        html = render_template("hello/index.html", greeting="Hi", customers=1)
    assert "Hi, Seller!" in html and "You can see 1 customer." in html


def test_the_example_command_joins_the_conveyor_group(hello_app):
    result = hello_app.test_cli_runner().invoke(args=["hello"])
    assert result.exit_code == 0 and result.output == "Good morning from the hello plugin!\n"
