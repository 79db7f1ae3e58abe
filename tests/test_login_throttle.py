"""Sign-in throttling: failed attempts only, per account and per address, with a lockout window,
Retry-After on 429, and the hasher run for unknown users too."""
from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from conveyor import login_throttle
from conveyor.extensions import db
from conveyor.models import User
from conveyor.testing import PASSWORD


@pytest.fixture
def app(make_app: Any) -> Flask:
    # CSRF off here only: these tests are about counting sign-ins (test_csrf.py covers the token)
    return make_app(config={"csrf_enabled": False})


def attempt(app: Flask, username: str, password: str, address: str = "127.0.0.1",
            headers: dict[str, str] | None = None) -> Any:
    return app.test_client().post("/login", data={"username": username, "password": password},
                                  environ_base={"REMOTE_ADDR": address}, headers=headers or {})


def test_an_account_locks_after_five_failures_even_for_the_right_password(app: Flask) -> None:
    for _ in range(5):
        assert attempt(app, "seller", "wrong").status_code == 401
    locked = attempt(app, "seller", PASSWORD)
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 15 * 60
    assert b"Too many failed sign-ins" in locked.data
    assert attempt(app, "SELLER ", "wrong").status_code == 429  # spelled otherwise: same account
    assert attempt(app, "seller", PASSWORD, address="10.9.9.9").status_code == 429
    assert attempt(app, "seller2", PASSWORD).status_code == 302  # others sign in from here


def test_successful_sign_ins_count_nothing(make_app: Any) -> None:
    app = make_app(config={"csrf_enabled": False, "login_failures_per_address": "3 per hour"})
    for _ in range(30):  # a whole office behind one address at 9:00
        assert attempt(app, "seller", PASSWORD).status_code == 302


def test_a_success_clears_the_accounts_failures(app: Flask) -> None:
    for _ in range(4):
        attempt(app, "seller", "wrong")
    assert attempt(app, "seller", PASSWORD).status_code == 302
    for _ in range(4):
        assert attempt(app, "seller", "wrong").status_code == 401
    assert attempt(app, "seller", PASSWORD).status_code == 302


def test_an_address_locks_after_its_failures_across_accounts(make_app: Any) -> None:
    app = make_app(config={"csrf_enabled": False, "login_failures_per_address": "3 per hour"})
    for name in ("seller", "seller2", "nobody"):
        assert attempt(app, name, "wrong", address="10.0.0.7").status_code == 401
    refused = attempt(app, "seller3", PASSWORD, address="10.0.0.7")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert attempt(app, "seller3", PASSWORD, address="10.0.0.8").status_code == 302


def test_the_lockout_ends_with_its_window(make_app: Any) -> None:
    # A window that three sign-ins (each hashing a password) can't outlast on a loaded CI
    # machine: with 1 second, PostgreSQL's run once reached the third attempt after it ended.
    app = make_app(config={"csrf_enabled": False, "login_failures_per_account": "2 per 5 seconds"})
    first = time.monotonic()
    attempt(app, "seller", "wrong")
    attempt(app, "seller", "wrong")
    assert attempt(app, "seller", PASSWORD).status_code == 429
    time.sleep(max(0.0, first + 5.3 - time.monotonic()))
    assert attempt(app, "seller", PASSWORD).status_code == 302


def test_unknown_users_and_wrong_passwords_both_run_the_hasher(app: Flask,
                                                                monkeypatch: Any) -> None:
    calls: list[str] = []
    real = login_throttle.check_password_hash

    def spy(pwhash: str, password: str) -> bool:
        calls.append(pwhash.split("$")[0])
        return real(pwhash, password)

    monkeypatch.setattr(login_throttle, "check_password_hash", spy)
    monkeypatch.setattr("conveyor.models.users.check_password_hash", spy)
    assert attempt(app, "nobody-at-all", "wrong").status_code == 401
    assert attempt(app, "seller", "wrong").status_code == 401
    assert len(calls) == 2
    assert calls[0].startswith("scrypt")  # the dummy is hashed as real passwords are


def test_unknown_and_known_users_take_the_same_time(app: Flask) -> None:
    """The password check alone (no HTTP, no database), timed for a user with a real scrypt
    hash and for no user: the best of several runs each, as alike as the hasher makes them."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "seller"))
        user.set_password("a-real-scrypt-hash")  # the default method, as in production
        db.session.commit()
        login_throttle._dummy_hash()  # made once per process, not on the first unknown user

        def best(who: Any) -> float:
            times = []
            for _ in range(5):
                start = time.perf_counter()
                assert login_throttle.check_credentials(who, "wrong") is False
                times.append(time.perf_counter() - start)
            return min(times)

        known, unknown = best(user), best(None)
    assert 0.5 < unknown / known < 2, (known, unknown)


def test_trusted_proxies_give_the_client_address(make_app: Any) -> None:
    config = {"csrf_enabled": False, "login_failures_per_address": "2 per hour"}
    behind = make_app(config={**config, "trusted_proxies": 1})
    for name in ("seller", "seller2"):
        attempt(behind, name, "wrong", headers={"X-Forwarded-For": "203.0.113.5"})
    assert attempt(behind, "seller3", PASSWORD,
                   headers={"X-Forwarded-For": "203.0.113.5"}).status_code == 429
    # another client behind the same proxy (and a spoofed left-hand entry is not believed)
    assert attempt(behind, "seller3", PASSWORD,
                   headers={"X-Forwarded-For": "203.0.113.5, 198.51.100.9"}).status_code == 302

    direct = make_app(config=config)  # trusted_proxies = 0: X-Forwarded-For is ignored
    for i, name in enumerate(("seller", "seller2")):
        attempt(direct, name, "wrong", headers={"X-Forwarded-For": f"203.0.113.{i}"})
    assert attempt(direct, "seller3", PASSWORD,
                   headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 429


def test_proxy_fix_sets_the_scheme(make_app: Any) -> None:
    app = make_app(config={"trusted_proxies": 1, "hsts_seconds": 60})
    response = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=60")
    untrusted = make_app(config={"hsts_seconds": 60}).test_client().get(
        "/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in untrusted.headers
