"""Sign-in throttling: failed attempts only, counted per account and per client address.

A wrong password (or an unknown or inactive user) counts once against the account name and once
against the address; a successful sign-in counts nothing and clears the account's count. When
either count is full, sign-ins for that account — or from that address — are refused with 429
and ``Retry-After`` until the oldest failure leaves the window, even with the right password.
The address limit is far higher than the account's: a whole office behind one NAT signs in at
9:00. Counters live in ``ratelimit_storage_uri`` (memory:// per process, redis:// shared).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import limits
from flask import Flask, current_app, request
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.security import check_password_hash, generate_password_hash


@dataclass
class Throttle:
    limiter: MovingWindowRateLimiter
    per_account: limits.RateLimitItem
    per_address: limits.RateLimitItem

    def _keys(self, username: str) -> list[tuple[limits.RateLimitItem, str]]:
        return [(self.per_account, "login-account:" + account_key(username)),
                (self.per_address, "login-address:" + (request.remote_addr or "?"))]

    def retry_after(self, username: str) -> int:
        """Seconds until a sign-in for ``username`` from this address is allowed; 0: now."""
        wait = 0.0
        for item, key in self._keys(username):
            if not self.limiter.test(item, key):
                stats = self.limiter.get_window_stats(item, key)
                wait = max(wait, stats.reset_time - time.time())
        return max(1, math.ceil(wait)) if wait > 0 else 0

    def failed(self, username: str) -> None:
        for item, key in self._keys(username):
            self.limiter.hit(item, key)

    def succeeded(self, username: str) -> None:
        self.limiter.clear(self.per_account, "login-account:" + account_key(username))


def account_key(username: str) -> str:
    return username.strip().lower()[:80]


def init_login_throttle(app: Flask, cfg: dict[str, Any]) -> None:
    storage = storage_from_string(cfg["ratelimit_storage_uri"])
    app.extensions["conveyor_login_throttle"] = Throttle(
        limiter=MovingWindowRateLimiter(storage),
        per_account=limits.parse(cfg["login_failures_per_account"]),
        per_address=limits.parse(cfg["login_failures_per_address"]))


def throttle() -> Throttle:
    return current_app.extensions["conveyor_login_throttle"]


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash made the way real passwords are hashed, checked when there is no user."""
    return generate_password_hash("no user has this password")


def check_credentials(user: Any, password: str) -> bool:
    """The password check, costing the same whether or not the user exists or is active: the
    hasher runs either way, so timing does not tell which usernames exist."""
    if user is None or not user.password_hash:
        check_password_hash(_dummy_hash(), password)
        return False
    return user.check_password(password) and bool(user.active)
