"""A seller's day on a phone: My day lists today's task, one click marks it done."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from conveyor.extensions import db
from conveyor.models import User


def test_a_seller_marks_todays_task_done_from_my_day_on_a_phone(browser, live_server, live_app):
    from conveyor.plugins.activities.models import Activity
    from conveyor.plugins.activities.services import create_activity

    with live_app.app_context():
        seller = db.session.scalar(select(User).where(User.username == "seller"))
        due = datetime.now(UTC).replace(hour=23, minute=0, second=0, microsecond=0)
        create_activity({"kind": "call", "title": "Call Volga Trade", "due_at": due}, by=seller)
        create_activity({"kind": "visit", "title": "Visit the plant",
                         "due_at": due - timedelta(days=3)}, by=seller)
        db.session.commit()
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server}/login")
        page.fill("input[name=username]", "seller")
        page.fill("input[name=password]", "test-password")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server}/")
        widget = page.locator("#widget-activities-my-day")
        assert widget.locator("#my-day-overdue").inner_text().count("Visit the plant") == 1
        today = widget.locator("#my-day-today li", has_text="Call Volga Trade")
        box = widget.bounding_box()
        assert box is not None and box["width"] > 0
        page.screenshot(path=str(live_app.instance_path) + "/my-day-phone.png", full_page=True)
        today.locator("button", has_text="Done").click()
        page.wait_for_url(f"{live_server}/")
        assert "Done: Call Volga Trade" in page.inner_text("body")
        with live_app.app_context():
            status = db.session.scalar(select(Activity.status).where(
                Activity.title == "Call Volga Trade"))
        assert status == "done"
    finally:
        context.close()
