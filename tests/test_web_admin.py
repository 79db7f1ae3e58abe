"""Administration screens: users, teams, roles, stages, plugins."""
from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import func, select

from conveyor import crm, hookimpl
from conveyor.extensions import db
from conveyor.models import Deal, RoleSetting, Stage, Team, User
from conveyor.testing import client_as

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def post(client, url, data=None, **kwargs):
    if not hasattr(client, "csrf"):
        client.csrf = CSRF.search(client.get("/profile/").get_data(as_text=True)).group(1)
    return client.post(url, data={"csrf_token": client.csrf, **(data or {})}, **kwargs)


def user_by_name(app, username):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        return None if user is None else {"id": user.id, "roles": user.roles,
                                          "active": user.active, "hash": user.password_hash,
                                          "email": user.email}


# --- users -------------------------------------------------------------------------------------


def test_admin_creates_a_user_who_can_sign_in(app, login_as, captured_events):
    admin = login_as("admin")
    r = post(admin, "/admin/users/new", {"username": "olga", "display_name": "Olga",
                                         "email": "Olga@Example.com", "roles": ["seller", "lawyer"],
                                         "active": "y", "password": "s3cret-pass"})
    assert r.status_code == 302, r.data[:2000]
    olga = user_by_name(app, "olga")
    assert olga["roles"] == ["lawyer", "seller"] and olga["email"] == "olga@example.com"
    assert olga["hash"] and "s3cret-pass" not in olga["hash"]
    assert [e.user.username for e in captured_events.handled if e.name == "UserCreated"] == ["olga"]
    page = admin.get("/admin/users?q=olg").get_data(as_text=True)
    assert 'data-user="olga"' in page and 'data-user="seller"' not in page
    fresh = app.test_client()
    token = CSRF.search(fresh.get("/login").get_data(as_text=True)).group(1)
    r = fresh.post("/login", data={"username": "olga", "password": "s3cret-pass",
                                   "csrf_token": token})
    assert r.status_code == 302


def test_bad_user_input_shows_field_errors_and_writes_nothing(app, login_as, captured_events):
    admin = login_as("admin")
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(User))
    cases = [
        ({"username": "seller"}, "This username is taken."),
        ({"username": "bad name!"}, "Letters, digits"),
        ({"username": "ok", "email": "not-an-email"}, "Enter an email address"),
        ({"username": "ok", "roles": ["pope"]}, "is not a valid choice"),
        ({"username": "ok", "password": "short"}, "between 8 and 200 characters"),
        ({"username": "x" * 81}, "longer than 80"),
    ]
    for data, message in cases:
        r = post(admin, "/admin/users/new", data)
        assert r.status_code == 400, data
        assert message in r.get_data(as_text=True), (data, message)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == before
    assert not captured_events.handled


def test_admin_edits_roles_and_resets_a_password(app, login_as, users):
    admin = login_as("admin")
    old_hash = user_by_name(app, "lawyer")["hash"]
    r = post(admin, f"/admin/users/{users['lawyer']}/edit",
             {"username": "lawyer", "roles": ["lawyer", "assistant"], "active": "y",
              "password": "brand-new-pass"})
    assert r.status_code == 302
    lawyer = user_by_name(app, "lawyer")
    assert lawyer["roles"] == ["assistant", "lawyer"] and lawyer["hash"] != old_hash
    r = post(admin, f"/admin/users/{users['lawyer']}/edit",
             {"username": "lawyer", "roles": ["lawyer"], "active": ""})
    assert r.status_code == 302 and user_by_name(app, "lawyer")["active"] is False
    assert user_by_name(app, "lawyer")["hash"] != old_hash  # empty password keeps the new one
    assert client_as(app, "lawyer").get("/").status_code == 302  # inactive: signed out


def test_an_admin_cannot_lock_themselves_out(app, login_as, users):
    admin = login_as("admin")
    for data in ({"username": "admin", "roles": ["seller"], "active": "y"},
                 {"username": "admin", "roles": ["admin"]}):
        r = post(admin, f"/admin/users/{users['admin']}/edit", data)
        assert r.status_code == 400 and b"your own user administration" in r.data
    admin_row = user_by_name(app, "admin")
    assert admin_row["roles"] == ["admin"] and admin_row["active"] is True


def test_unknown_users_and_teams_are_404(login_as):
    admin = login_as("admin")
    assert admin.get("/admin/users/999999/edit").status_code == 404
    assert admin.get("/admin/teams/999999").status_code == 404
    assert admin.get("/admin/roles/no-such-role").status_code == 404


# --- teams -------------------------------------------------------------------------------------


def test_teams_decide_what_a_manager_sees(app, login_as, users):
    with app.app_context():
        seller3 = db.session.get(User, users["seller3"])
        customer = crm.create_customer({"name": "Southwind"}, seller3)
        crm.create_deal({"customer_id": customer.id, "title": "Southwind deal",
                         "amount": Decimal("1")}, seller3)
        db.session.commit()
    admin, manager = login_as("admin"), login_as("manager")
    assert "Southwind deal" not in manager.get("/deals/").get_data(as_text=True)
    r = post(admin, "/admin/teams", {"name": "East"})
    assert r.status_code == 302
    team_id = int(r.headers["Location"].rsplit("/", 1)[1])
    assert post(admin, "/admin/teams", {"name": "East"}).status_code == 400  # taken
    for who in ("manager", "seller3"):
        assert post(admin, f"/admin/teams/{team_id}/members",
                    {"user_id": users[who]}).status_code == 302
    assert post(admin, f"/admin/teams/{team_id}/members",
                {"user_id": users["seller3"]}).status_code == 400  # already in
    assert "Southwind deal" in manager.get("/deals/").get_data(as_text=True)
    assert post(admin, f"/admin/teams/{team_id}/rename", {"name": "Eastern"}).status_code == 302
    assert post(admin, f"/admin/teams/{team_id}/rename", {"name": "North"}).status_code == 400
    page = admin.get("/admin/teams").get_data(as_text=True)
    assert 'data-team="Eastern"' in page
    assert post(admin, f"/admin/teams/{team_id}/members/{users['seller3']}/remove"
                ).status_code == 302
    assert "Southwind deal" not in manager.get("/deals/").get_data(as_text=True)
    assert post(admin, f"/admin/teams/{team_id}/delete").status_code == 302
    with app.app_context():
        assert db.session.get(Team, team_id) is None


# --- roles -------------------------------------------------------------------------------------


def test_role_edits_change_permissions_scope_and_home_widgets(app, login_as):
    admin = login_as("admin")
    form = admin.get("/admin/roles/seller").get_data(as_text=True)
    assert 'value="deals.view" checked' in form or 'checked value="deals.view"' in form \
        or re.search(r'<input[^>]*checked[^>]*value="deals.view"', form)
    widget_fields = dict(re.findall(r'<label for="(widget_\d+)">[^<]*\(([\w.]+)\)</label>', form))
    data = {"permissions": ["customers.view"], "scope": "all",
            **{name: "" for name in widget_fields}}
    by_id = {wid: name for name, wid in widget_fields.items()}
    data[by_id["core.pipeline_summary"]] = "1"
    r = post(admin, "/admin/roles/seller", data)
    assert r.status_code == 302, r.data[:3000]
    with app.app_context():
        saved = db.session.scalar(select(RoleSetting).where(RoleSetting.role == "seller")).data
    assert saved["permissions"] == ["customers.view"] and saved["scope"] == "all"
    assert saved["widgets"] == ["core.pipeline_summary"]
    seller = login_as("seller")
    assert seller.get("/deals/").status_code == 403
    assert 'data-nav="deals"' not in seller.get("/").get_data(as_text=True)
    assert post(admin, "/admin/roles/seller/reset").status_code == 302
    assert seller.get("/deals/").status_code == 200


def test_role_edits_validate_their_input(app, login_as):
    admin = login_as("admin")
    r = post(admin, "/admin/roles/seller", {"permissions": ["no.such"], "scope": "own"})
    assert r.status_code == 400 and b"not a valid choice" in r.data
    r = post(admin, "/admin/roles/seller", {"permissions": [], "scope": "galaxy"})
    assert r.status_code == 400
    r = post(admin, "/admin/roles/admin", {"permissions": ["admin.users"], "scope": "all"})
    assert r.status_code == 400 and b"your own role administration" in r.data
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RoleSetting)) == 0


# --- stages ------------------------------------------------------------------------------------


def stage_rows(app):
    with app.app_context():
        return {s.name: s.id for s in db.session.scalars(select(Stage).order_by(Stage.position))}


def test_admin_edits_the_pipeline_stages(app, login_as):
    admin = login_as("admin")
    stages = stage_rows(app)
    nid = stages["Negotiation"]
    r = post(admin, f"/admin/stages/{nid}", {f"s{nid}-name": "Haggling", f"s{nid}-percent": "45",
                                             f"s{nid}-position": "3"})
    assert r.status_code == 302
    r = post(admin, "/admin/stages/new", {"new-name": "Pilot", "new-percent": "50",
                                          "new-position": "4"})
    assert r.status_code == 302
    page = admin.get("/admin/stages").get_data(as_text=True)
    assert 'value="Haggling"' in page and 'value="Pilot"' in page
    pilot = stage_rows(app)["Pilot"]
    r = post(admin, f"/admin/stages/{pilot}", {f"s{pilot}-name": "Pilot", f"s{pilot}-percent": "50",
                                               f"s{pilot}-position": "4", f"s{pilot}-is_won": "y",
                                               f"s{pilot}-is_lost": "y"})
    assert r.status_code == 400 and b"both won and lost" in r.data
    r = post(admin, f"/admin/stages/{pilot}", {f"s{pilot}-name": "", f"s{pilot}-percent": "101",
                                               f"s{pilot}-position": "4"})
    assert r.status_code == 400 and b"between 0 and 100" in r.data
    assert post(admin, f"/admin/stages/{pilot}/delete").status_code == 302
    assert "Pilot" not in stage_rows(app)


def test_a_stage_with_deals_cannot_be_deleted(app, login_as, users):
    with app.app_context():
        seller = db.session.get(User, users["seller"])
        customer = crm.create_customer({"name": "Busy"}, seller)
        crm.create_deal({"customer_id": customer.id, "title": "Busy deal"}, seller)
        db.session.commit()
    first = stage_rows(app)["Request / interest"]
    r = post(login_as("admin"), f"/admin/stages/{first}/delete")
    assert r.status_code == 409 and b"cannot be deleted" in r.data
    assert "Request / interest" in stage_rows(app)


def test_a_stage_with_deals_keeps_whether_it_is_won_or_lost(app, login_as, users):
    """Deals' close dates and every summary counted from them follow the flags they moved under."""
    with app.app_context():
        seller = db.session.get(User, users["seller"])
        customer = crm.create_customer({"name": "Busy"}, seller)
        crm.create_deal({"customer_id": customer.id, "title": "Busy deal"}, seller)
        db.session.commit()
    admin = login_as("admin")
    first = stage_rows(app)["Request / interest"]
    fields = {f"s{first}-name": "Request", f"s{first}-percent": "10", f"s{first}-position": "0"}
    r = post(admin, f"/admin/stages/{first}", {**fields, f"s{first}-is_lost": "y"})
    assert r.status_code == 400 and b"cannot change" in r.data
    with app.app_context():
        stage = db.session.get(Stage, first)
        assert stage.name == "Request / interest" and not stage.is_lost
    r = post(admin, f"/admin/stages/{first}", fields)  # a rename alone is fine
    assert r.status_code == 302 and "Request" in stage_rows(app)


# --- plugins and the index ---------------------------------------------------------------------


class Probe:
    @hookimpl
    def register_nav_items(self):
        return []


def test_the_plugins_page_lists_enabled_and_installed_plugins(make_app):
    app = make_app(extra_plugins=[("probe", Probe())])
    page = client_as(app, "admin").get("/admin/plugins").get_data(as_text=True)
    assert 'data-plugin="probe"' in page and "register_nav_items" in page
    assert 'data-plugin="leads"' in page  # installed through its entry point, not enabled
    main = page.split("<main>")[1]
    assert "read-only" in main and "CONVEYOR_PLUGINS" in main and "<form" not in main


def test_the_admin_index_links_only_to_permitted_sections(make_app):
    app = make_app(config={"roles": {"manager": {"add_permissions": ["admin.users"]}}})
    page = client_as(app, "manager").get("/admin/").get_data(as_text=True)
    assert 'data-section="admin.users"' in page and 'data-section="admin.teams"' in page
    assert 'data-section="admin.roles"' not in page and 'data-section="admin.plugins"' not in page
    assert 'data-section="rates.index"' not in page and 'data-section="admin.audit"' not in page
    assert client_as(app, "manager").get("/admin/roles").status_code == 403
    full = client_as(app, "admin").get("/admin/").get_data(as_text=True)
    assert full.count("data-section=") == 8  # users, teams, roles, stages, plugins, rates, jobs,
    # audit


def test_non_admins_cannot_post_to_admin_forms(app, login_as):
    seller = login_as("seller")
    assert post(seller, "/admin/users/new", {"username": "evil"}).status_code == 403
    assert post(seller, "/admin/teams", {"name": "Evil"}).status_code == 403
    assert user_by_name(app, "evil") is None
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Deal)) == 0


def test_role_edits_apply_on_the_next_request_though_roles_are_cached_per_process(app, login_as):
    """Roles are built once per process and reused while the role settings' stamp (how many,
    latest edit) is unchanged: adding, changing and removing an edit each show at once."""
    seller = login_as("seller")
    assert seller.get("/deals/").status_code == 200

    def edit(data: dict | None) -> None:
        with app.app_context():
            setting = db.session.scalar(select(RoleSetting).where(RoleSetting.role == "seller"))
            if data is None:
                db.session.delete(setting)
            elif setting is None:
                db.session.add(RoleSetting(role="seller", data=data))
            else:
                setting.data = data
            db.session.commit()

    edit({"remove_permissions": ["deals.view"]})
    assert seller.get("/deals/").status_code == 403
    edit({"scope": "own"})
    assert seller.get("/deals/").status_code == 200
    edit({"remove_permissions": ["deals.view"]})
    assert seller.get("/deals/").status_code == 403
    edit(None)
    assert seller.get("/deals/").status_code == 200
