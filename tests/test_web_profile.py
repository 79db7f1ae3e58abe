"""The user's own pages: profile, language, password, API tokens, notifications."""
from __future__ import annotations

import re

from sqlalchemy import select

from conveyor import notify
from conveyor.extensions import db
from conveyor.models import ApiToken, Notification, User

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def post(client, url, data=None, **kwargs):
    if not hasattr(client, "csrf"):
        client.csrf = CSRF.search(client.get("/profile/").get_data(as_text=True)).group(1)
    return client.post(url, data={"csrf_token": client.csrf, **(data or {})}, **kwargs)


def me(app, username="seller"):
    with app.app_context():
        return db.session.scalar(select(User).where(User.username == username))


def test_profile_saves_name_email_and_language(app, login_as):
    seller = login_as("seller")
    r = post(seller, "/profile/", {"profile-display_name": "Sam Seller",
                                   "profile-email": "Sam@Example.com", "profile-locale": "ru"})
    assert r.status_code == 302
    user = me(app)
    assert (user.display_name, user.email, user.locale) == ("Sam Seller", "sam@example.com", "ru")
    assert '<html lang="ru">' in seller.get("/profile/").get_data(as_text=True)


def test_bad_profile_input_shows_field_errors_and_changes_nothing(app, login_as):
    seller = login_as("seller")
    for data, message in [({"profile-email": "nope", "profile-locale": "en"}, "Enter an email"),
                          ({"profile-locale": "klingon"}, "Not a valid choice"),
                          ({"profile-display_name": "x" * 121, "profile-locale": "en"},
                           "longer than 120")]:
        r = post(seller, "/profile/", data)
        assert r.status_code == 400 and message in r.get_data(as_text=True), data
    user = me(app)
    assert user.email == "seller@example.test" and user.locale is None \
        and user.display_name == "Seller"


def test_the_header_language_selector_saves_the_users_language(app, login_as):
    seller = login_as("seller")
    r = post(seller, "/profile/language", {"locale": "zh_Hans", "next": "/deals/"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/deals/")
    assert me(app).locale == "zh_Hans"
    assert '<html lang="zh-CN">' in seller.get("/deals/").get_data(as_text=True)
    r = post(seller, "/profile/language", {"locale": "en", "next": "https://evil.example/"})
    assert r.status_code == 302 and "evil" not in r.headers["Location"]
    assert post(seller, "/profile/language", {"locale": "xx"}).status_code == 400
    assert me(app).locale == "en"


def test_changing_the_password_needs_the_current_one(app, login_as):
    from conveyor.testing import PASSWORD

    seller = login_as("seller")
    r = post(seller, "/profile/password", {"password-current": "wrong", "password-new": "n3w-pass!",
                                           "password-confirm": "n3w-pass!"})
    assert r.status_code == 400 and b"not your current password" in r.data
    r = post(seller, "/profile/password", {"password-current": PASSWORD,
                                           "password-new": "n3w-pass!",
                                           "password-confirm": "different"})
    assert r.status_code == 400 and b"The two passwords differ." in r.data
    assert me(app).check_password(PASSWORD)
    r = post(seller, "/profile/password", {"password-current": PASSWORD,
                                           "password-new": "n3w-pass!",
                                           "password-confirm": "n3w-pass!"})
    assert r.status_code == 302 and me(app).check_password("n3w-pass!")


def test_an_api_token_is_shown_once_stored_hashed_and_revocable(app, login_as, users):
    seller = login_as("seller")
    r = post(seller, "/profile/tokens", {"token-name": "export"})
    assert r.status_code == 201 and r.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="new-token">([^<]+)<', r.get_data(as_text=True)).group(1)
    with app.app_context():
        token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == users["seller"]))
        assert token.token_hash == ApiToken.hash(secret) and token.name == "export"
        token_id = token.id
    page = seller.get("/profile/").get_data(as_text=True)
    assert secret not in page and f'data-token="{token_id}"' in page and secret[:10] in page
    assert post(seller, "/profile/tokens", {"token-name": ""}).status_code == 400
    assert post(login_as("seller2"), f"/profile/tokens/{token_id}/revoke").status_code == 404
    assert post(seller, f"/profile/tokens/{token_id}/revoke").status_code == 302
    with app.app_context():
        assert db.session.get(ApiToken, token_id) is None


# --- notifications -----------------------------------------------------------------------------


def leave_notes(app, username, *messages, url=""):
    with app.app_context():
        ids = [notify(app.config["TEST_USER_IDS"][username], m, url=url) for m in messages]
        db.session.commit()
        return [n.id for n in ids]


def test_the_header_counts_unread_notifications(app, login_as):
    leave_notes(app, "seller", "one", "two", "three")
    leave_notes(app, "seller2", "not yours")
    seller = login_as("seller")
    page = seller.get("/").get_data(as_text=True)
    assert re.search(r'class="badge"[^>]*>3<', page)
    listing = seller.get("/notifications/").get_data(as_text=True)
    assert "three" in listing and "not yours" not in listing


def test_notifications_are_marked_read_and_opened(app, login_as):
    first, second = leave_notes(app, "seller", "deal won", "see this", url="/deals/")
    (offsite,) = leave_notes(app, "seller", "phish", url="https://evil.example/")
    (foreign,) = leave_notes(app, "seller2", "private")
    seller = login_as("seller")
    assert post(seller, f"/notifications/{first}/read").status_code == 302
    r = post(seller, f"/notifications/{second}/open")
    assert r.status_code == 302 and r.headers["Location"].endswith("/deals/")
    r = post(seller, f"/notifications/{offsite}/open")
    assert "evil" not in r.headers["Location"]
    assert post(seller, f"/notifications/{foreign}/read").status_code == 404
    assert 'class="badge"' not in seller.get("/").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Notification, foreign).read_at is None
    leave_notes(app, "seller", "a", "b")
    assert post(seller, "/notifications/read-all").status_code == 302
    with app.app_context():
        unread = db.session.scalars(select(Notification).where(
            Notification.read_at.is_(None))).all()
        assert [n.id for n in unread] == [foreign]


def test_the_unread_badge_is_capped_and_costs_one_query(app, login_as, count_queries):
    seller = login_as("seller")
    seller.get("/profile/")
    with count_queries() as before:
        seller.get("/profile/")
    leave_notes(app, "seller", *[f"n{i}" for i in range(120)])
    with count_queries() as after:
        page = seller.get("/profile/").get_data(as_text=True)
    assert len(after) == len(before)
    assert sum("notifications" in q for q in after) == 1
    assert re.search(r'class="badge"[^>]*>99\+<', page)


def test_a_lazy_notification_is_written_in_the_recipients_language(app):
    from conveyor.i18n import _l

    ids = app.config["TEST_USER_IDS"]
    with app.app_context():
        db.session.get(User, ids["seller"]).locale = "zh_Hans"
        db.session.commit()
    with app.test_request_context("/", headers={"Accept-Language": "ru"}):  # the actor's
        for who in ("seller", "seller2"):
            notify(ids[who], _l("Customer saved."))
        db.session.commit()
        messages = dict(db.session.execute(select(Notification.user_id,
                                                  Notification.message)).all())
    assert messages[ids["seller"]] == "客户已保存。"
    assert messages[ids["seller2"]] == "Customer saved."  # no setting: the configured default


def test_a_batch_of_notifications_asks_each_recipients_language_once(app, count_queries):
    from conveyor.i18n import _l

    ids = app.config["TEST_USER_IDS"]
    with app.app_context():
        with count_queries() as statements:
            for _ in range(5):
                for who in ("seller", "seller2"):
                    notify(ids[who], _l("Customer saved."))
        db.session.commit()
    assert sum("users.locale" in s for s in statements) == 2


def test_a_user_sets_their_time_zone_and_e_mail_notifications(app, login_as):
    seller = login_as("seller")
    r = post(seller, "/profile/", {"profile-locale": "en", "profile-timezone": "Europe/Moscow",
                                   "profile-email_notifications": "y"})
    assert r.status_code == 302
    user = me(app)
    assert (user.timezone, user.email_notifications) == ("Europe/Moscow", True)
    r = post(seller, "/profile/", {"profile-locale": "en", "profile-timezone": "Mars/Olympus"})
    assert r.status_code == 400
    assert me(app).timezone == "Europe/Moscow"


def test_times_are_shown_in_the_users_time_zone(app, login_as):
    from datetime import UTC, datetime

    from flask_babel import format_datetime
    from flask_login import login_user

    with app.app_context():
        user = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        user.timezone = "Asia/Shanghai"
        db.session.commit()
    r = login_as("seller").get("/profile/")
    assert '<option selected value="Asia/Shanghai">' in r.get_data(as_text=True)
    with app.test_request_context(headers={"Cookie": "session=x"}):
        login_user(db.session.get(User, app.config["TEST_USER_IDS"]["seller"]))
        text = format_datetime(datetime(2026, 1, 1, 6, 0, tzinfo=UTC), "HH:mm")
    assert text == "14:00"
