"""The board's drag and drop endpoint, its compact view, the three-action new deal (customer
suggestions, the no-JavaScript lookup, preselected currency and stage), past-due dates, and the
deals list's default (open deals) and row count ("1–50 of about 40,000").

The browser side is in ``tests/browser/test_board_in_browser.py``. CSRF stays on: posts carry
the token from the page's csrf-token meta tag.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from conveyor import StageGate, crm, hookimpl
from conveyor.extensions import db
from conveyor.i18n import _l
from conveyor.models import Deal, Stage, StageHistory, User

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def post(client, url, data=None, **kwargs):
    if not hasattr(client, "csrf"):
        client.csrf = CSRF.search(client.get("/profile/").get_data(as_text=True)).group(1)
    return client.post(url, data={"csrf_token": client.csrf, **(data or {})}, **kwargs)


def seed(app, owner="seller", n=1, name="Acme", currency="USD", stage=None, closes=None):
    with app.app_context():
        user = db.session.get(User, app.config["TEST_USER_IDS"][owner])
        customer = crm.create_customer({"name": name}, user)
        target = db.session.scalar(select(Stage).where(Stage.name == stage)) if stage else None
        ids = [crm.create_deal({"customer_id": customer.id, "title": f"{name} deal {i}",
                                "amount": Decimal("100.00"), "currency": currency,
                                "expected_close": closes,
                                **({"stage": target} if target else {})}, user).id
               for i in range(n)]
        db.session.commit()
        return customer.id, ids


def stage_id(app, name):
    with app.app_context():
        return db.session.scalar(select(Stage.id).where(Stage.name == name))


def row(app, deal_id):
    with app.app_context():
        deal = db.session.get(Deal, deal_id)
        return {"stage_id": deal.stage_id, "version": deal.version,
                "lost_reason": deal.lost_reason, "title": deal.title,
                "currency": deal.currency, "customer_id": deal.customer_id}


def history(app, deal_id):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(StageHistory)
                                 .where(StageHistory.deal_id == deal_id))


class Contracts:
    """A gate that refuses every move into the stages it is switched on for."""

    @hookimpl
    def register_stage_gates(self):
        return [StageGate("contracts.signed", _l("Contract approved"),
                          lambda move: _l("The contract is not approved yet."))]


@pytest.fixture
def gated_app(make_app):
    return make_app(extra_plugins=[("contracts", Contracts())])


# --- the board's move, answered in JSON ---------------------------------------------------------

def test_a_dragged_card_is_moved_and_answered_with_its_version_and_the_columns(app, login_as):
    _, (deal_id,) = seed(app, n=1)
    seed(app, n=2, name="Other", stage="Negotiation")
    negotiation = stage_id(app, "Negotiation")
    seller = login_as("seller")
    before = row(app, deal_id)
    r = post(seller, f"/deals/{deal_id}/move", {"stage_id": negotiation,
                                               "version": before["version"]},
             headers={"Accept": "application/json"})
    assert r.status_code == 200, r.data
    body = r.json
    after = row(app, deal_id)
    assert body["ok"] and body["code"] == "moved" and after["stage_id"] == negotiation
    assert body["version"] == after["version"] > before["version"]
    assert body["message"] == "Stage changed to 40% · Negotiation."
    columns = {c["stage_id"]: c for c in body["columns"]}
    assert columns[negotiation]["count"] == "3 open"
    assert columns[negotiation]["sums"] == ["≈ $300.00"]
    assert columns[stage_id(app, "Request / interest")]["count"] == "0 open"
    assert len(columns) == 9  # every open column of the pipeline, no closed one
    assert history(app, deal_id) == 2


def test_the_move_endpoint_refuses_as_the_card_does_and_changes_nothing(gated_app):
    from conveyor.testing import client_as

    app = gated_app
    _, (deal_id,) = seed(app)
    seller = client_as(app, "seller")
    version = row(app, deal_id)["version"]
    lost, negotiation = stage_id(app, "Closed — lost"), stage_id(app, "Negotiation")

    # A lost column needs the reason: 422, asked for in place.
    r = post(seller, f"/deals/{deal_id}/move", {"stage_id": lost, "version": version})
    assert r.status_code == 422 and r.json["code"] == "lost_reason"
    assert r.json["message"] == "Say why the deal was lost."

    # A stage gate: 409 with the gate's reason, in the reader's language.
    with app.app_context():
        db.session.get(Stage, negotiation).gates = ["contracts.signed"]
        db.session.commit()
    r = post(seller, f"/deals/{deal_id}/move", {"stage_id": negotiation, "version": version})
    assert r.status_code == 409 and r.json["code"] == "stage_gate"
    assert r.json["message"] == ("The deal was not moved to 40% · Negotiation: "
                                 "The contract is not approved yet.")
    ru = post(seller, f"/deals/{deal_id}/move", {"stage_id": negotiation, "version": version},
              headers={"Accept-Language": "ru"})
    assert ru.status_code == 409 and "Переговоры" in ru.json["message"]

    # A card from a page older than the deal: 409 stale, never applied over the newer one.
    r = post(seller, f"/deals/{deal_id}/move", {"stage_id": lost, "lost_reason": "x",
                                               "version": version + 5})
    assert r.status_code == 409 and r.json["code"] == "stale"

    # Nonsense: 400 with the field's message, not a 500.
    for bad in ({"stage_id": "abc"}, {"stage_id": 99999999999}, {}):
        r = post(seller, f"/deals/{deal_id}/move", bad)
        assert r.status_code == 400 and r.json["code"] == "invalid" and r.json["errors"], bad

    assert row(app, deal_id)["stage_id"] == stage_id(app, "Request / interest")
    assert row(app, deal_id)["version"] == version and history(app, deal_id) == 1

    # With the reason, the lost move goes through.
    r = post(seller, f"/deals/{deal_id}/move", {"stage_id": lost, "version": version,
                                               "lost_reason": "Too dear"})
    assert r.status_code == 200 and r.json["stage_id"] == lost
    assert row(app, deal_id)["lost_reason"] == "Too dear"


def test_only_who_may_edit_a_visible_deal_moves_it_and_csrf_holds(make_app):
    from conveyor.testing import client_as

    app = make_app(config={"csrf_enabled": True})
    _, (mine,) = seed(app)
    _, (foreign,) = seed(app, owner="seller3", name="South")
    negotiation = stage_id(app, "Negotiation")
    seller = client_as(app, "seller")
    assert post(seller, f"/deals/{foreign}/move", {"stage_id": negotiation}).status_code == 404
    assert post(client_as(app, "lawyer"), f"/deals/{mine}/move",
                {"stage_id": negotiation}).status_code == 403
    r = seller.post(f"/deals/{mine}/move", data={"stage_id": negotiation},
                    headers={"Accept": "application/json"})  # no token
    assert r.status_code == 400
    assert negotiation not in (row(app, mine)["stage_id"], row(app, foreign)["stage_id"])
    r = seller.post(f"/deals/{mine}/move", data={"stage_id": negotiation},
                    headers={"Accept": "application/json",
                             "X-CSRFToken": CSRF.search(seller.get("/profile/").get_data(
                                 as_text=True)).group(1)})
    assert r.status_code == 200 and row(app, mine)["stage_id"] == negotiation


def test_the_board_is_ready_for_dragging_only_for_who_may_edit(app, login_as):
    seed(app, n=2)
    page = login_as("seller").get("/deals/board").get_data(as_text=True)
    assert "Sortable.min.js" in page and "board.js" in page and "data-movable" in page
    assert 'data-move-head="/deals/' in page and 'data-move-tail="/move"' in page
    assert page.count('<div class="cards"') == 9 and page.count('<div class="cards drop"') == 2
    assert 'id="lost-reason-form"' in page and "<script>" not in page  # no inline script
    lawyer = login_as("lawyer").get("/deals/board").get_data(as_text=True)
    assert "Sortable.min.js" not in lawyer and "data-movable" not in lawyer
    assert "lost-reason-form" not in lawyer and "/deals/new?stage_id" not in lawyer


def test_the_compact_view_is_remembered_by_this_browser(app, login_as):
    seller = login_as("seller")
    assert 'class="board"' in seller.get("/deals/board").get_data(as_text=True)
    r = post(seller, "/deals/board/view", {"compact": "1", "next": "/deals/board"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/deals/board")
    assert "HttpOnly" in r.headers["Set-Cookie"] and "SameSite=Lax" in r.headers["Set-Cookie"]
    page = seller.get("/deals/board").get_data(as_text=True)
    assert 'class="board compact"' in page and 'aria-pressed="true"' in page
    r = post(seller, "/deals/board/view", {"compact": "0"},
             headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json == {"compact": False}
    assert 'class="board"' in seller.get("/deals/board").get_data(as_text=True)
    r = post(seller, "/deals/board/view", {"compact": "1", "next": "//evil.example"})
    assert r.headers["Location"].endswith("/deals/board")


# --- a new deal in three actions ----------------------------------------------------------------

def test_customer_suggestions_stay_within_the_record_rules(app, login_as):
    mine, _ = seed(app, name="Umbrella Corp", currency="EUR")
    seed(app, n=0, name="Big Umbrella")
    seed(app, n=0, name="Umbrella South", owner="seller3")
    seed(app, n=0, name="50%_off")
    seller = login_as("seller")
    found = seller.get("/deals/customer-suggestions?q=umbrella").json
    assert [c["name"] for c in found] == ["Umbrella Corp", "Big Umbrella"]  # starting first
    assert found[0] == {"id": mine, "name": "Umbrella Corp", "currency": "EUR"}
    assert found[1]["currency"] == "USD"  # no deal yet: the company currency
    assert seller.get("/deals/customer-suggestions?q=").json == []
    assert [c["name"] for c in seller.get("/deals/customer-suggestions?q=%25_").json] == \
        ["50%_off"]  # % and _ are letters here, not wildcards
    assert seller.get("/deals/customer-suggestions?q=x%25").json == []
    assert len(seller.get("/deals/customer-suggestions?q=" + "u" * 5000).json) == 0
    manager = login_as("manager").get("/deals/customer-suggestions?q=umbrella").json
    assert "Umbrella South" not in [c["name"] for c in manager]
    assert login_as("lawyer").get("/deals/customer-suggestions?q=u").status_code == 403


def test_without_javascript_the_typed_name_finds_the_customer(app, login_as):
    umbrella, _ = seed(app, n=0, name="Umbrella Corp")
    seed(app, n=0, name="Umbrella Corp Asia")
    seed(app, n=0, name="Hidden Umbrella", owner="seller3")
    seller = login_as("seller")
    first = stage_id(app, "Request / interest")
    form = seller.get("/deals/new").get_data(as_text=True)
    assert f'<option selected value="{first}">' in form
    assert 'data-suggest-url="/deals/customer-suggestions"' in form and "deal-form.js" in form

    # The exact name: one action less than picking a suggestion.
    r = post(seller, "/deals/new", {"customer_name": "umbrella corp", "amount": "10",
                                    "currency": "USD"})
    assert r.status_code == 302
    made = row(app, int(r.headers["Location"].rsplit("/", 1)[1]))
    assert made["customer_id"] == umbrella and made["title"] == "Umbrella Corp"
    assert made["stage_id"] == first

    # Several match: asked which, everything typed kept, the hidden one never offered.
    r = post(seller, "/deals/new", {"customer_name": "umbrel", "amount": "12.5",
                                    "currency": "EUR", "title": "Kept"})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "Several customers match; choose one." in page
    assert page.count('type="radio" name="customer_id"') == 2 and "Hidden Umbrella" not in page
    assert 'value="12.5"' in page and 'value="Kept"' in page
    r = post(seller, "/deals/new", {"customer_name": "nobody", "amount": "1",
                                    "currency": "USD"})
    assert r.status_code == 400 and "No customer matches." in r.get_data(as_text=True)
    r = post(seller, "/deals/new", {"amount": "1", "currency": "USD"})
    assert r.status_code == 400 and "Type the customer" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Deal)) == 1


def test_currency_and_stage_come_preselected(app, login_as):
    customer, _ = seed(app, name="Yuan Co", currency="CNY")
    seller = login_as("seller")
    page = seller.get(f"/deals/new?customer_id={customer}").get_data(as_text=True)
    assert '<option selected value="CNY">' in page  # the customer's last deal's
    assert f'name="customer_id" value="{customer}"' in page and 'value="Yuan Co"' in page
    assert '<option selected value="USD">' in seller.get("/deals/new").get_data(as_text=True)
    negotiation = stage_id(app, "Negotiation")
    page = seller.get(f"/deals/new?stage_id={negotiation}").get_data(as_text=True)
    assert f'<option selected value="{negotiation}">' in page
    # Closed stages are no place to start a deal.
    won = stage_id(app, "Closed — won")
    assert f'value="{won}"' not in seller.get("/deals/new").get_data(as_text=True)
    r = post(seller, "/deals/new", {"customer_id": customer, "amount": "1", "currency": "CNY",
                                    "stage_id": won})
    assert r.status_code == 400
    r = post(seller, "/deals/new", {"customer_id": customer, "amount": "1", "currency": "cny",
                                    "stage_id": negotiation})
    assert r.status_code == 302
    made = row(app, int(r.headers["Location"].rsplit("/", 1)[1]))
    assert made["stage_id"] == negotiation and made["currency"] == "CNY"
    # The board's columns offer "+" to start a deal right there.
    assert f'href="/deals/new?stage_id={negotiation}"' in seller.get("/deals/board").get_data(
        as_text=True)


def test_a_gate_on_the_starting_stage_is_said_on_the_stage_field(gated_app):
    from conveyor.testing import client_as

    app = gated_app
    customer, _ = seed(app, n=0)
    negotiation = stage_id(app, "Negotiation")
    with app.app_context():
        db.session.get(Stage, negotiation).gates = ["contracts.signed"]
        db.session.commit()
    r = post(client_as(app, "seller"), "/deals/new", {"customer_id": customer, "amount": "1",
                                                "currency": "USD", "stage_id": negotiation})
    assert r.status_code == 400 and "The contract is not approved yet." in r.get_data(
        as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Deal)) == 0


def test_the_customer_card_starts_a_deal_for_that_customer(app, login_as):
    customer, _ = seed(app, n=0)
    page = login_as("seller").get(f"/customers/{customer}").get_data(as_text=True)
    assert f'href="/deals/new?customer_id={customer}"' in page


# --- past due and the list ----------------------------------------------------------------------

def test_past_due_expected_close_is_marked_on_open_deals_only(app, login_as):
    _, (late,) = seed(app, name="Late", closes=date(2020, 3, 1))
    _, (future,) = seed(app, name="Future", closes=date(2999, 3, 1))
    _, (won,) = seed(app, name="Won", closes=date(2020, 3, 1), stage="Closed — won")
    seller = login_as("seller")
    listing = seller.get("/deals/?status=all").get_data(as_text=True)
    assert listing.count('class="due overdue"') == 1
    assert re.search(r'Late deal 0.*?class="due overdue" title="Past due"', listing, re.S)
    board = seller.get("/deals/board").get_data(as_text=True)
    assert board.count('class="due overdue"') == 1 and board.count('class="due"') == 1
    assert 'class="due overdue"' in seller.get(f"/deals/{late}").get_data(as_text=True)
    for other in (future, won):
        assert "overdue" not in seller.get(f"/deals/{other}").get_data(as_text=True)


def test_the_list_shows_open_deals_unless_asked_and_says_how_many(make_app):
    from conveyor.testing import client_as

    app = make_app(config={"page_size": 2})
    seed(app, n=3, name="Open")
    seed(app, n=1, name="Done", stage="Closed — won")
    seller = client_as(app, "seller")
    page = seller.get("/deals/").get_data(as_text=True)
    assert "Done deal 0" not in page and '<option value="open" selected>' in page
    assert "1–2 of 3" in page
    nxt = re.search(r'rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert "from=3" in nxt
    assert "3–3 of 3" in seller.get(nxt).get_data(as_text=True)
    everything = seller.get("/deals/?status=all").get_data(as_text=True)
    assert "1–2 of 4" in everything
    won = stage_id(app, "Closed — won")
    assert "Done deal 0" in seller.get(f"/deals/?stage={won}").get_data(as_text=True)
    assert "1–1 of 1" in seller.get("/deals/?status=won").get_data(as_text=True)
    ru = seller.get("/deals/", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "1–2 из 3" in ru
    assert seller.get("/deals/?status=bogus&from=-5&before=zz").status_code == 200


def test_beyond_the_cap_the_count_is_an_estimate(app):
    from conveyor.permissions import scoped
    from conveyor.web.listing import count_rows

    seed(app, n=40)
    seed(app, n=20, owner="seller3", name="South")
    with app.test_request_context():
        with app.app_context():
            if db.engine.dialect.name == "postgresql":  # the planner's statistics, as
                db.session.execute(text("ANALYZE deals"))  # autovacuum keeps them

            user = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
            query = scoped(Deal, user)
            exact = count_rows(query, Deal.id, cap=100)
            assert (exact.value, exact.exact) == (40, True)
            estimate = count_rows(query, Deal.id, cap=10)
            assert not estimate.exact and 11 <= estimate.value <= 400
            assert estimate.value == pytest.approx(40, rel=0.5)


def test_a_list_keeps_its_estimate_a_minute_and_never_an_exact_count(app, monkeypatch):
    from conveyor.permissions import scoped
    from conveyor.web import listing

    seed(app, n=30)
    with app.test_request_context():
        user = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])

        def count(cap):
            return listing.count_rows(lambda: scoped(Deal, user), Deal.id, cap=cap,
                                      cache=(Deal, user, "test-estimates"))

        first = count(5)
        assert not first.exact and count(100) == listing.RowCount(30, True)
        seed(app, n=30, name="Later")
        assert count(5) == first  # kept: no statement ran
        assert count(100) == listing.RowCount(60, True)  # exact counts are made each time
        now = listing.time.monotonic()
        monkeypatch.setattr(listing.time, "monotonic", lambda: now + listing.ESTIMATE_TTL + 1)
        if db.engine.dialect.name == "postgresql":  # the planner's statistics, as
            db.session.execute(text("ANALYZE deals"))  # autovacuum keeps them
        assert count(5).value > first.value  # a minute on, counted again


def test_the_estimate_reads_as_about(app):
    from conveyor.web.deals import shown_range
    from conveyor.web.listing import RowCount

    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert shown_range(1, 50, RowCount(41234, False)) == "1–50 of about 41,000"
        assert shown_range(51, 50, RowCount(1234, True)) == "51–100 of 1,234"
        assert shown_range(1, 0, RowCount(0, True)) == ""
        assert shown_range(1, 50, RowCount(20, False)) == "1–50 of about 50"  # never fewer
