"""Roles as layered data; record rules as SQL (own / team / all), narrowed by plugins only."""
from __future__ import annotations

from sqlalchemy import select

from conveyor import crm, hookimpl, scoped
from conveyor.extensions import db
from conveyor.models import Customer, RoleSetting, User
from conveyor.permissions import can, permissions_of, scope_of
from conveyor.role_layers import ROLE_NAMES, file_roles


def _user(app, name):
    return db.session.get(User, app.config["TEST_USER_IDS"][name])


def test_seven_roles_ship_as_files():
    assert set(ROLE_NAMES) <= set(file_roles())


def test_role_defaults_files_config_and_admin_edits_layer_in_order(make_app):
    app = make_app(config={"roles": {"lawyer": {"permissions": ["customers.view"]}}})
    with app.test_request_context():
        lawyer = _user(app, "lawyer")
        assert permissions_of(lawyer) == {"customers.view"}  # config replaced the file's list
        db.session.add(RoleSetting(role="lawyer", data={"permissions": ["deals.view"],
                                                        "scope": "own"}))
        db.session.commit()
    with app.test_request_context():
        lawyer = _user(app, "lawyer")
        assert permissions_of(lawyer) == {"deals.view"}  # the admin's edit wins
        assert scope_of(lawyer) == "own"


def test_permissions_of_disabled_plugins_are_dropped(make_app):
    app = make_app(config={"roles": {"seller": {"add_permissions": ["leads.view"]}}})
    with app.test_request_context():
        assert not can(_user(app, "seller"), "leads.view")


def test_several_roles_union_permissions_and_take_the_widest_scope(app):
    with app.test_request_context():
        user = _user(app, "seller")
        user.roles = ["seller", "lawyer"]
        db.session.commit()
        assert can(user, "deals.edit") and scope_of(user) == "all"


def _customers(app):
    with app.app_context():
        for owner in ("seller", "seller2", "seller3"):
            crm.create_customer({"name": f"{owner} co"}, _user(app, owner))
        db.session.commit()


def _visible(app, username):
    with app.test_request_context():
        return sorted(c.name for c in db.session.scalars(scoped(Customer, _user(app, username))))


def test_seller_sees_own_manager_sees_team_admin_sees_all(app):
    _customers(app)
    assert _visible(app, "seller") == ["seller co"]
    assert _visible(app, "manager") == ["seller co", "seller2 co"]
    assert _visible(app, "admin") == ["seller co", "seller2 co", "seller3 co"]


class OnlyCo:
    @hookimpl
    def record_filters(self, model, user, permission):
        if model is Customer:
            return [Customer.name.like("seller2%")]
        return []


def test_record_filters_only_narrow(make_app):
    app = make_app(extra_plugins=[("narrow", OnlyCo())])
    _customers(app)
    assert _visible(app, "admin") == ["seller2 co"]
    assert _visible(app, "seller") == []  # narrowed, never widened


def _built_times(app, usernames, key):
    """How often ``scoped_statement`` built the statement for these users' requests."""
    from conveyor.permissions import scoped_statement

    built = []
    for username in usernames:
        with app.test_request_context():
            user = db.session.scalar(select(User).where(User.username == username))
            scoped_statement(Customer, user, key, lambda: built.append(1) or select(Customer.id))
    return len(built)


def test_a_scoped_statement_is_kept_per_user(app):
    assert _built_times(app, ["seller", "seller", "seller2", "seller2"], ("kept",)) == 2


def test_a_scoped_statement_is_built_afresh_while_a_plugin_narrows_the_model(make_app):
    app = make_app(extra_plugins=[("narrow", OnlyCo())])
    assert _built_times(app, ["seller", "seller"], ("narrowed",)) == 2


def test_inactive_user_cannot_sign_in(app):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "seller"))
        user.set_password("pw-123456")
        user.active = False
        db.session.commit()
    app.config["WTF_CSRF_ENABLED"] = False
    response = app.test_client().post("/login",
                                      data={"username": "seller", "password": "pw-123456"})
    assert response.status_code == 401
