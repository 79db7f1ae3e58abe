"""The pipeline board as a kanban and the three-action new deal, in Chromium: a card dragged to
another column is saved without a reload; a move a stage gate refuses snaps back with the
reason on the card; a lost column asks for the reason in place; all columns are reachable
inside the board, and the compact view fits the default pipeline's eleven columns at 1366 px
and is remembered. No page breaks the Content-Security-Policy."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from conveyor import StageGate, crm, hookimpl
from conveyor.extensions import db
from conveyor.i18n import _l
from conveyor.models import Deal, Stage, User

PLUGINS = ["leads", "calls", "groups", "funnel", "relationships", "documents", "approvals",
           "discussions", "activities"]  # as the other browser tests: every plugin on


class Contracts:
    """A throwaway plugin whose gate refuses every move into the stages it is switched on for."""

    @hookimpl
    def register_stage_gates(self) -> list[StageGate]:
        return [StageGate("contracts.signed", _l("Contract approved"),
                          lambda move: _l("The contract is not approved yet."))]


@pytest.fixture
def live_app(make_app: Any) -> Any:
    return make_app(plugins=PLUGINS, extra_plugins=[("contracts", Contracts())])


@pytest.fixture
def watched(page: Any) -> list[str]:
    """Console messages about the Content-Security-Policy and script errors: none expected.
    (A refused move's 409 and the missing favicon are logged as failed loads: not errors.)"""
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(msg.text)
            if "Content Security Policy" in msg.text or (
                msg.type == "error" and "Failed to load resource" not in msg.text) else None)
    page.on("pageerror", lambda error: seen.append(str(error)))
    return seen


def stage_by(app: Any, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Stage.id).where(Stage.name == name))


def seed(app: Any, titles: list[str], stage: str = "Request / interest", owner: str = "seller",
         customer: str = "Board Co", currency: str = "USD") -> list[int]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == owner))
        company = crm.create_customer({"name": customer}, user)
        target = db.session.scalar(select(Stage).where(Stage.name == stage))
        ids = [crm.create_deal({"customer_id": company.id, "title": title, "currency": currency,
                                "amount": Decimal("1000"), "stage": target}, user).id
               for title in titles]
        db.session.commit()
        return ids


def deal(app: Any, deal_id: int) -> Deal:
    with app.app_context():
        found = db.session.get(Deal, deal_id)
        db.session.expunge(found)
        return found


def drag(page: Any, card: str, column: int) -> None:
    """Press on the card, move to the column's card list in steps, release (SortableJS's
    pointer-driven drag, as a person's mouse does it). The page is wide enough to show every
    column (``wide``): the 1366 px layout has its own test."""
    page.locator(card).scroll_into_view_if_needed()
    source = page.locator(card).bounding_box()
    target = page.locator(f"section.column[data-stage='{column}'] .cards").bounding_box()
    page.mouse.move(source["x"] + source["width"] / 2, source["y"] + 8)
    page.mouse.down()
    page.mouse.move(source["x"] + source["width"] / 2 + 10, source["y"] + 14, steps=4)
    x, y = target["x"] + target["width"] / 2, target["y"] + min(target["height"] / 2, 30)
    page.mouse.move(x, y, steps=15)
    page.mouse.move(x + 2, y + 4, steps=3)
    page.mouse.up()


@pytest.fixture
def wide(page: Any) -> Any:
    page.set_viewport_size({"width": 2700, "height": 900})
    return page


def in_column(page: Any, deal_id: int) -> str:
    return page.locator(f"article[data-deal='{deal_id}']").evaluate(
        "card => card.closest('section.column').dataset.stage")


def test_a_dragged_card_is_saved_without_a_reload_and_stays_after_one(
        wide: Any, page: Any, live_server: str, live_app: Any, sign_in: Any,
        watched: list[str]) -> None:
    (deal_id,) = seed(live_app, ["Drag me"])
    negotiation = stage_by(live_app, "Negotiation")
    sign_in("seller")
    page.goto(f"{live_server}/deals/board")
    page.evaluate("() => { window.__same_page = true; }")
    drag(page, f"article[data-deal='{deal_id}']", negotiation)
    page.wait_for_selector(".board-status:has-text('Stage changed to 40% · Negotiation.')")
    assert page.evaluate("() => window.__same_page") is True  # no reload
    assert in_column(page, deal_id) == str(negotiation)
    column = page.locator(f"section.column[data-stage='{negotiation}']")
    assert column.locator(".count").inner_text() == "1 open"  # totals refreshed in place
    saved = deal(live_app, deal_id)
    assert saved.stage_id == negotiation
    assert page.locator(f"article[data-deal='{deal_id}']").get_attribute("data-version") == \
        str(saved.version)
    page.reload()
    assert in_column(page, deal_id) == str(negotiation)
    # Dragged again (the version it carries is the saved one, so this is no stale move).
    contract = stage_by(live_app, "Contract being concluded")
    drag(page, f"article[data-deal='{deal_id}']", contract)
    page.wait_for_selector(".board-status:has-text('Stage changed to 60%')")
    assert deal(live_app, deal_id).stage_id == contract
    assert not watched, watched


def test_a_move_a_stage_gate_refuses_snaps_back_with_the_reason(
        wide: Any, page: Any, live_server: str, live_app: Any, sign_in: Any,
        watched: list[str]) -> None:
    (deal_id,) = seed(live_app, ["Gated one"])
    first = stage_by(live_app, "Request / interest")
    gated = stage_by(live_app, "Negotiation")
    with live_app.app_context():
        db.session.get(Stage, gated).gates = ["contracts.signed"]
        db.session.commit()
    version = deal(live_app, deal_id).version
    sign_in("seller")
    page.goto(f"{live_server}/deals/board")
    drag(page, f"article[data-deal='{deal_id}']", gated)
    note = page.locator(f"article[data-deal='{deal_id}'] .refusal")
    note.wait_for()
    assert "The contract is not approved yet." in note.inner_text()
    assert "was not moved to 40% · Negotiation" in note.inner_text()
    assert in_column(page, deal_id) == str(first)  # back where it was
    refused = deal(live_app, deal_id)
    assert refused.stage_id == first and refused.version == version
    assert not watched, watched


def test_a_lost_column_asks_the_reason_in_place(
        wide: Any, page: Any, live_server: str, live_app: Any, sign_in: Any,
        watched: list[str]) -> None:
    (deal_id,) = seed(live_app, ["Losing one"])
    first = stage_by(live_app, "Request / interest")
    lost = stage_by(live_app, "Closed — lost")
    sign_in("seller")
    page.goto(f"{live_server}/deals/board")
    card = f"article[data-deal='{deal_id}']"
    drag(page, card, lost)
    page.wait_for_selector(f"{card} form.lost-reason input[name=lost_reason]")
    assert deal(live_app, deal_id).stage_id == first  # nothing saved until the reason is given
    page.click(f"{card} form.lost-reason [data-cancel]")
    assert in_column(page, deal_id) == str(first)
    assert page.locator(f"{card} form.lost-reason").count() == 0

    drag(page, card, lost)
    page.fill(f"{card} form.lost-reason input[name=lost_reason]", "Too dear")
    page.click(f"{card} form.lost-reason button[type=submit]")
    page.wait_for_selector(".board-status:has-text('Closed — lost')")
    saved = deal(live_app, deal_id)
    assert saved.stage_id == lost and saved.lost_reason == "Too dear"
    assert in_column(page, deal_id) == str(lost)
    assert not watched, watched


def test_every_column_is_reachable_inside_the_board_and_compact_fits_eleven_at_1366(
        page: Any, live_server: str, live_app: Any, sign_in: Any, watched: list[str]) -> None:
    seed(live_app, [f"Long column {i}" for i in range(12)])
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in("seller")
    page.goto(f"{live_server}/deals/board")
    board = page.locator(".board")
    assert board.locator("section.column").count() == 11
    # Wide: the board scrolls sideways by itself, and its bottom (with its scroll bar) is on
    # the screen without scrolling the page: the columns scroll their cards inside.
    wide = board.evaluate("b => ({scroll: b.scrollWidth, client: b.clientWidth,"
                          " bottom: b.getBoundingClientRect().bottom})")
    assert wide["scroll"] > wide["client"]
    assert wide["bottom"] <= 768
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1366
    last = board.locator("section.column").last
    last.scroll_into_view_if_needed()
    assert last.bounding_box()["x"] + last.bounding_box()["width"] <= 1366

    page.click("[data-compact-toggle]")
    page.wait_for_selector(".board.compact")
    fits = board.evaluate("""b => {
        const edge = b.getBoundingClientRect().right;
        return {scroll: b.scrollWidth, client: b.clientWidth,
                right: Math.max(...[...b.querySelectorAll('section.column')]
                                .map(c => c.getBoundingClientRect().right)), edge};
    }""")
    assert fits["scroll"] <= fits["client"] and fits["right"] <= fits["edge"] <= 1366, fits
    assert page.locator("[data-compact-toggle]").get_attribute("aria-pressed") == "true"
    page.reload()  # remembered
    assert page.locator(".board.compact").count() == 1
    page.click("[data-compact-toggle]")
    page.wait_for_selector(".board:not(.compact)")
    page.reload()
    assert page.locator(".board.compact").count() == 0
    assert not watched, watched


def test_a_deal_in_three_actions_customer_by_typing_amount_save(
        page: Any, live_server: str, live_app: Any, sign_in: Any, watched: list[str]) -> None:
    seed(live_app, ["Earlier deal"], customer="Umbrella Corporation", currency="EUR")
    seed(live_app, ["Someone else's"], customer="Umbrella Hidden", owner="seller3")
    sign_in("seller")
    page.goto(f"{live_server}/deals/new")
    page.locator("input[name=customer_name]").press_sequentially("umbr", delay=30)  # 1
    option = page.locator("#customer-suggestions [role=option]")
    option.first.wait_for()
    assert option.count() == 1 and "Umbrella Corporation" in option.first.inner_text()
    option.first.click()
    assert page.locator("select[name=currency]").input_value() == "EUR"  # its last deal's
    page.fill("input[name=amount]", "2500")  # 2
    page.click("button.primary")  # 3
    page.wait_for_selector("h1:has-text('Umbrella Corporation')")
    with live_app.app_context():
        made = db.session.scalar(select(Deal).order_by(Deal.id.desc()))
        first = db.session.scalar(select(Stage).order_by(Stage.position))
        assert (made.title, made.amount, made.currency) == \
            ("Umbrella Corporation", Decimal("2500.00"), "EUR")
        assert made.stage_id == first.id and made.customer.name == "Umbrella Corporation"
    assert not watched, watched


def test_past_due_dates_are_marked_on_the_list_board_and_card(
        page: Any, live_server: str, live_app: Any, sign_in: Any) -> None:
    from datetime import date

    (late, on_time) = seed(live_app, ["Late one", "On time"])
    with live_app.app_context():
        db.session.get(Deal, late).expected_close = date(2020, 1, 31)
        db.session.get(Deal, on_time).expected_close = date(2999, 1, 31)
        db.session.commit()
    sign_in("seller")
    for path in ("/deals/", "/deals/board", f"/deals/{late}"):
        page.goto(live_server + path)
        marked = page.locator(".due.overdue")
        assert marked.count() == 1, path
        assert marked.evaluate("e => getComputedStyle(e).color") == "rgb(185, 28, 28)", path
    page.goto(f"{live_server}/deals/{on_time}")
    assert page.locator(".due.overdue").count() == 0
