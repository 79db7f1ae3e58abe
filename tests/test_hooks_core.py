"""Each core hook does what docs/hooks.md says, shown with throwaway plugins."""
from __future__ import annotations

import click
from markupsafe import escape

from conveyor import Action, ListFilter, Panel, crm, hookimpl
from conveyor.extensions import db
from conveyor.models import Customer, User


class Everything:
    """One throwaway plugin implementing the per-request and UI hooks."""

    started = []

    @hookimpl
    def startup(self, app):
        self.started.append(app.name)

    @hookimpl
    def extra_template_vars(self, template, request, user):
        return {"footer_note": f"tpl={template}"}

    @hookimpl
    def customer_actions(self, customer, user, request):
        return [Action(label="Send <b>offer</b>", url=f"/offer/{customer.id}"),
                Action(label="Archive", url=f"/archive/{customer.id}", method="post")]

    @hookimpl
    def register_panels(self):
        return [Panel(id="everything.notes", title="Notes", target="customer",
                      permission="customers.view",
                      render=lambda obj, user: f"<p class='note'>{escape(obj.name)} for "
                                               f"{escape(user.username)}</p>")]

    @hookimpl
    def register_list_filters(self):
        return [ListFilter(name="big", label="Big only", model="customer",
                           choices=lambda: [("yes", "Yes")],
                           apply=lambda query, value: query.where(Customer.size == "1000+"))]

    @hookimpl
    def user_from_request(self, request):
        name = request.headers.get("X-Test-User")
        if name:
            return db.session.query(User).filter_by(username=name).one_or_none()
        return None

    @hookimpl
    def register_commands(self, cli):
        @cli.command("everything-hello")
        def hello():
            click.echo("hello from a plugin")


def _app(make_app):
    return make_app(extra_plugins=[("everything", Everything())])


def _customers(app):
    with app.app_context():
        seller = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        small = crm.create_customer({"name": "Small <Co>", "size": "1-10"}, seller)
        big = crm.create_customer({"name": "Big Co", "size": "1000+"}, seller)
        db.session.commit()
        return small.id, big.id


def test_startup_is_called_once_per_app(make_app):
    Everything.started.clear()
    _app(make_app)
    assert Everything.started == ["conveyor"]


def test_customer_actions_panels_and_escaping_on_the_card(make_app):
    from conveyor.testing import client_as

    app = _app(make_app)
    small, _ = _customers(app)
    html = client_as(app, "seller").get(f"/customers/{small}").get_data(as_text=True)
    assert "Send &lt;b&gt;offer&lt;/b&gt;" in html and f'href="/offer/{small}"' in html
    assert f'action="/archive/{small}"' in html and 'name="csrf_token"' in html
    assert "<p class='note'>Small &lt;Co&gt; for seller</p>" in html


def test_list_filter_narrows_the_customer_list(make_app):
    from conveyor.testing import client_as

    app = _app(make_app)
    _customers(app)
    client = client_as(app, "seller")
    assert "Small &lt;Co&gt;" in client.get("/customers/").get_data(as_text=True)
    filtered = client.get("/customers/?big=yes").get_data(as_text=True)
    assert "Big Co" in filtered and "Small &lt;Co&gt;" not in filtered


def test_extra_template_vars_reach_templates(make_app):
    app = _app(make_app)
    with app.test_request_context("/customers/"):
        from flask import render_template_string

        assert render_template_string("{{ footer_note }}") == "tpl=None"
    seen = []

    class Spy:
        @hookimpl
        def extra_template_vars(self, template):
            seen.append(template)
            return {}

    spied = make_app(extra_plugins=[("spy", Spy())])
    spied.test_client().get("/login")
    assert "auth/login.html" in seen


def test_user_from_request_authenticates_without_a_session(make_app):
    app = _app(make_app)
    client = app.test_client()
    assert client.get("/customers/").status_code == 302
    assert client.get("/customers/", headers={"X-Test-User": "seller"}).status_code == 200


def test_register_commands_adds_a_cli_command(make_app):
    app = _app(make_app)
    result = app.test_cli_runner().invoke(args=["everything-hello"])
    assert result.output.strip() == "hello from a plugin"


class Broken:
    @hookimpl
    def register_panels(self):
        def boom(obj, user):
            raise ZeroDivisionError("plugin bug")
        return [Panel(id="broken.panel", title="Broken", target="customer",
                      permission="customers.view", render=boom)]


def test_a_panel_that_raises_shows_an_error_box(make_app, caplog):
    from conveyor.testing import client_as

    app = make_app(extra_plugins=[("broken", Broken())])
    small, _ = _customers(app)
    response = client_as(app, "seller").get(f"/customers/{small}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'class="box error"' in html and "Small &lt;Co&gt;" in html
    assert "plugin bug" in caplog.text


def test_list_filter_narrows_the_customer_api_and_refuses_unknown_ones(make_app):
    from conveyor.testing import token_headers

    app = _app(make_app)
    _customers(app)
    headers = token_headers(app, "seller")
    client = app.test_client()
    names = [c["name"] for c in client.get("/api/v1/customers?filter=big:yes",
                                           headers=headers).get_json()["items"]]
    assert names == ["Big Co"]
    for bad in ("nosuch:yes", "big:maybe", "big"):
        response = client.get(f"/api/v1/customers?filter={bad}", headers=headers)
        assert response.status_code == 422, bad
        assert "filter" in response.get_json()["errors"]["query"]
