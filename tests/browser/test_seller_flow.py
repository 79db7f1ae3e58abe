"""A seller creates a customer and a deal and moves it through the pipeline, in Chromium."""
from __future__ import annotations

from sqlalchemy import select

from conveyor.extensions import db
from conveyor.models import Deal, Stage, StageHistory


def test_seller_creates_customer_and_deal_and_moves_it_to_won(page, live_server, live_app,
                                                               sign_in):
    sign_in("seller")
    page.click("a[data-nav=customers]")
    page.click("text=New customer")
    page.fill("input[name=name]", "ООО Ромашка")
    page.fill("input[name=industry]", "Manufacturing")
    page.click("button.primary")
    page.wait_for_selector("h1:has-text('ООО Ромашка')")

    page.click("text=New deal")
    page.fill("input[name=title]", "Pumps for the plant")
    page.fill("input[name=amount]", "125000.50")
    page.click("button.primary")
    page.wait_for_selector("h1:has-text('Pumps for the plant')")
    deal_url = page.url

    with live_app.app_context():
        stages = db.session.scalars(select(Stage).order_by(Stage.position)).all()
        path = [s for s in stages if not s.is_lost and s.percent in (10, 40, 70)]
        won = next(s for s in stages if s.is_won)

    for stage in [*path, won]:
        page.select_option("select[name=stage_id]", str(stage.id))
        page.click("text=Change stage")
        page.wait_for_load_state()
        assert page.url.startswith(deal_url)

    with live_app.app_context():
        deal = db.session.scalar(select(Deal).where(Deal.title == "Pumps for the plant"))
        assert deal.stage_id == won.id and deal.closed_at is not None
        assert str(deal.amount) == "125000.50"
        moves = db.session.scalars(select(StageHistory.to_stage_id)
                                   .where(StageHistory.deal_id == deal.id)
                                   .order_by(StageHistory.id)).all()
        assert moves[1:] == [s.id for s in [*path, won]]

    # The board shows the won deal in its column and the history is on the card.
    page.click("a[data-nav=pipeline]")
    assert page.locator(".board").count() == 1
    page.goto(deal_url)
    assert page.locator("text=Pumps for the plant").count() >= 1


def test_bad_deal_input_shows_field_errors_in_place(page, live_server, sign_in):
    sign_in("seller")
    page.goto(f"{live_server}/deals/new")
    page.fill("input[name=title]", "")
    page.fill("input[name=amount]", "-5")
    page.click("button.primary")
    assert page.locator(".field-error").count() >= 2


def test_seller_moves_a_card_one_step_from_the_board(page, live_server, live_app, sign_in):
    from decimal import Decimal

    from conveyor import crm
    from conveyor.models import User

    with live_app.app_context():
        seller = db.session.scalar(select(User).where(User.username == "seller"))
        customer = crm.create_customer({"name": "Board Co"}, seller)
        deal = crm.create_deal({"customer_id": customer.id, "title": "Board move",
                                "amount": Decimal("10")}, seller)
        db.session.commit()
        deal_id, first = deal.id, deal.stage_id
    sign_in("seller")
    page.goto(f"{live_server}/deals/board")
    page.click(f"article[data-deal='{deal_id}'] button")  # no JavaScript: a form button
    page.wait_for_load_state()
    assert page.url.endswith("/deals/board")
    assert page.locator(".flash").first.inner_text().startswith("Stage changed to 10%")
    with live_app.app_context():
        moved = db.session.get(Deal, deal_id)
        assert moved.stage_id != first and moved.stage.percent == 10
