"""Sessions end for real: a copied session cookie stops working after logout, a password
change, deactivation or an admin's "sign out everywhere"."""
from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select

from conveyor.extensions import db
from conveyor.models import User
from conveyor.testing import PASSWORD

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def token(client: FlaskClient, url: str = "/login") -> str:
    return CSRF.search(client.get(url).get_data(as_text=True)).group(1)


def sign_in(app, username: str = "seller", password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"csrf_token": token(client), "username": username,
                                           "password": password})
    assert response.status_code == 302, response.status_code
    assert client.get("/profile/").status_code == 200
    return client


def copy_of(app, client: FlaskClient) -> FlaskClient:
    """Another browser holding the same session cookie (a stolen or copied one)."""
    other = app.test_client()
    cookie = client.get_cookie("session")
    other.set_cookie("session", cookie.value)
    return other


def signed_in(client: FlaskClient) -> bool:
    response = client.get("/profile/")
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
        return False
    assert response.status_code == 200
    return True


def test_logout_ends_a_copied_session(app):
    client = sign_in(app)
    thief = copy_of(app, client)
    assert signed_in(thief)
    assert client.post("/logout", data={"csrf_token": token(client, "/profile/")}
                       ).status_code == 302
    assert not signed_in(client)
    assert not signed_in(thief)


def test_logout_ends_the_users_other_sessions_too(app):
    laptop, phone = sign_in(app), sign_in(app)
    laptop.post("/logout", data={"csrf_token": token(laptop, "/profile/")})
    assert not signed_in(phone)
    assert signed_in(sign_in(app, "seller2"))  # other users are not touched


def test_password_change_ends_other_sessions_but_keeps_this_one(app):
    client = sign_in(app)
    thief = copy_of(app, client)
    before = client.get_cookie("session").value
    response = client.post("/profile/password", data={
        "csrf_token": token(client, "/profile/"), "password-current": PASSWORD,
        "password-new": "a-new-password-1", "password-confirm": "a-new-password-1"})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert signed_in(client)
    assert client.get_cookie("session").value != before
    assert not signed_in(thief)


def test_deactivation_ends_the_session(app, login_as):
    client = sign_in(app)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "seller"))
        user.active = False  # even a deactivation written without the admin screen
        db.session.commit()
    assert not signed_in(client)


def test_deactivation_by_an_admin_renews_the_stamp(app, users):
    client = sign_in(app)
    admin = sign_in(app, "admin")
    with app.app_context():
        stamp = db.session.get(User, users["seller"]).session_stamp
    response = admin.post(f"/admin/users/{users['seller']}/edit", data={
        "csrf_token": token(admin, "/profile/"), "username": "seller", "display_name": "S",
        "email": "", "roles": ["seller"], "password": ""})  # active unchecked
    assert response.status_code == 302
    with app.app_context():
        user = db.session.get(User, users["seller"])
        assert not user.active and user.session_stamp != stamp
        user.active = True  # reactivated: the old session stays ended
        db.session.commit()
    assert not signed_in(client)


def test_admin_signs_a_user_out_everywhere(app, users):
    victim = sign_in(app)
    admin = sign_in(app, "admin")
    page = admin.get(f"/admin/users/{users['seller']}/edit").get_data(as_text=True)
    assert f'action="/admin/users/{users["seller"]}/sign-out"' in page
    response = admin.post(f"/admin/users/{users['seller']}/sign-out",
                          data={"csrf_token": token(admin, "/profile/")})
    assert response.status_code == 302
    assert not signed_in(victim)
    assert signed_in(admin)
    assert signed_in(sign_in(app))  # signing in again works


def test_only_user_admins_sign_others_out(app, users, login_as):
    victim = sign_in(app)
    seller2 = sign_in(app, "seller2")
    response = seller2.post(f"/admin/users/{users['seller']}/sign-out",
                            data={"csrf_token": token(seller2, "/profile/")})
    assert response.status_code in (403, 404)
    assert signed_in(victim)


def test_a_session_without_the_stamp_is_refused(app, users):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(users["seller"])  # the shape of a pre-stamp cookie
    assert not signed_in(client)
    with client.session_transaction() as session:
        session["_user_id"] = f"{users['seller']}:{'0' * 32}"
    assert not signed_in(client)
