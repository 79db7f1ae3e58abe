"""The header's search box in Chromium: suggestions appear as a seller types (no CSP refusal),
arrows and Enter open one, and without JavaScript the box still opens the results page; in
Russian and Chinese too, at 1366 px and 390 px without horizontal overflow."""
from __future__ import annotations

from typing import Any

import pytest

from conveyor import crm
from conveyor.extensions import db
from conveyor.models import Contact, User


def _seed(app: Any) -> None:
    with app.app_context():
        seller = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        customer = crm.create_customer({"name": "Romashka Trading", "tax_id": "7701234567"},
                                       seller)
        db.session.add(Contact(customer_id=customer.id, name="Ivan Petrov",
                               phone="+7 (495) 123-45-67", email="ivan@romashka.example"))
        crm.create_customer({"name": "北京星光科技"}, seller)
        db.session.commit()


@pytest.mark.parametrize("width", [1366, 390])
def test_suggestions_as_you_type_and_enter_opens_one(page: Any, live_app: Any, live_server: str,
                                                     sign_in: Any, width: int) -> None:
    _seed(live_app)
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text)
            if "Content Security Policy" in m.text else None)
    page.set_viewport_size({"width": width, "height": 800})
    sign_in("seller")
    box = page.locator("form.search-box input[name=q]")
    box.fill("8 495 123")
    page.wait_for_selector(".search-suggestions a.search-option")
    assert "Ivan Petrov" in page.inner_text(".search-suggestions")
    # The box and its list stay inside the viewport (the page's own overflow is the layout's).
    assert page.evaluate("""() => [document.querySelector('form.search-box'),
                                   document.querySelector('.search-suggestions')]
                          .every(e => e.getBoundingClientRect().right <= window.innerWidth + 1
                                      && e.getBoundingClientRect().left >= -1)""")
    page.evaluate("document.querySelector('form.search-box').style.display = 'none'")
    without_box = page.evaluate("document.documentElement.scrollWidth")
    page.evaluate("document.querySelector('form.search-box').style.display = ''")
    assert page.evaluate("document.documentElement.scrollWidth") <= max(without_box, width) + 1
    box.press("ArrowDown")
    box.press("Enter")
    page.wait_for_url("**/customers/*")
    assert page.locator('a[href="tel:+74951234567"]').count() == 1
    assert not refused


def test_the_box_works_without_javascript(browser: Any, live_app: Any, live_server: str) -> None:
    _seed(live_app)
    context = browser.new_context(locale="zh-CN", java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "seller")
    page.fill("input[name=password]", "test-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    page.fill("form.search-box input[name=q]", "星光")
    page.press("form.search-box input[name=q]", "Enter")
    page.wait_for_url("**/search/?q=*")
    assert "北京星光科技" in page.inner_text("main")
    context.close()
