"""Browser tests: a real server on 127.0.0.1 and Debian's chromium driven by Playwright."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
         "--disable-dev-shm-usage"]
ALL_PLUGINS = ["leads", "calls", "groups", "funnel", "relationships", "documents", "approvals",
               "discussions", "activities"]


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    reason = None
    if os.environ.get("CONVEYOR_SKIP_BROWSER"):
        reason = "CONVEYOR_SKIP_BROWSER is set"
    elif not os.path.exists(CHROMIUM):
        reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_app(make_app: Any) -> Any:
    return make_app(plugins=ALL_PLUGINS)


@pytest.fixture
def live_server(live_app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-US")
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


@pytest.fixture
def sign_in(page: Any, live_server: str) -> Any:
    """``sign_in("seller")`` through the real login form."""

    def do(username: str, password: str = "test-password") -> None:
        page.goto(f"{live_server}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server}/")

    return do
