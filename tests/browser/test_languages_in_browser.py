"""Pages read in Russian and Chinese: from the browser's language, then from the user's setting."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize(("locale", "sign_in_word", "customers_word"),
                         [("ru-RU", "Войти", "Клиенты"), ("zh-CN", "登录", "客户")])
def test_pages_in_russian_and_chinese(browser, live_server, locale, sign_in_word, customers_word):
    context = browser.new_context(locale=locale)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    assert sign_in_word in page.inner_text("h1")
    assert page.evaluate("document.documentElement.lang").startswith(locale[:2])
    page.fill("input[name=username]", "seller")
    page.fill("input[name=password]", "test-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    assert customers_word in page.inner_text("nav.mainnav")
    page.click("a[data-nav=customers]")
    assert customers_word in page.inner_text("h1")
    context.close()
