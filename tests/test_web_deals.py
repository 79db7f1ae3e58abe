"""The deals screens: list, board, card, stage changes, forms, record rules, query counts.

CSRF stays on (as in production): posts carry the token from the page's csrf-token meta tag.
"""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from conveyor import Action, ListFilter, crm, hookimpl
from conveyor.extensions import db
from conveyor.models import Deal, Pipeline, Stage, StageHistory, User

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def post(client, url, data=None, **kwargs):
    """POST with the session's CSRF token, as a browser submitting our form would."""
    if not hasattr(client, "csrf"):
        client.csrf = CSRF.search(client.get("/profile/").get_data(as_text=True)).group(1)
    return client.post(url, data={"csrf_token": client.csrf, **(data or {})}, **kwargs)


def seed(app, owner="seller", n=1, name="Acme", amount="100.00", currency="USD"):
    """A customer of ``owner`` with ``n`` deals; returns (customer_id, [deal ids])."""
    with app.app_context():
        user = db.session.get(User, app.config["TEST_USER_IDS"][owner])
        customer = crm.create_customer({"name": name}, user)
        ids = [crm.create_deal({"customer_id": customer.id, "title": f"{name} deal {i}",
                                "amount": Decimal(amount), "currency": currency}, user).id
               for i in range(n)]
        db.session.commit()
        return customer.id, ids


def stages(app):
    with app.app_context():
        return {s.name: (s.id, s.is_lost) for s in db.session.scalars(select(Stage))}


def deal_row(app, deal_id):
    with app.app_context():
        deal = db.session.get(Deal, deal_id)
        return None if deal is None else {"stage_id": deal.stage_id, "title": deal.title,
                                           "version": deal.version,
                                           "lost_reason": deal.lost_reason}


def history_count(app, deal_id):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(StageHistory)
                                 .where(StageHistory.deal_id == deal_id))


def test_seller_creates_a_customer_and_a_deal_and_moves_it_through_the_pipeline(app, login_as):
    seller = login_as("seller")
    r = post(seller, "/customers/new", {"name": "Globex", "size": "11-50"})
    assert r.status_code == 302
    customer_id = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    form = seller.get(f"/deals/new?customer_id={customer_id}")
    assert form.status_code == 200 and b"Globex" in form.data
    r = post(seller, "/deals/new", {"title": "Globex rollout", "customer_id": customer_id,
                                    "amount": "12500.50", "currency": "EUR",
                                    "expected_close": "2030-05-01"})
    assert r.status_code == 302, r.data[:3000]
    deal_id = int(r.headers["Location"].rsplit("/", 1)[1])
    by_name = stages(app)
    for name in ("Negotiation", "Contract being concluded", "Closed — won"):
        r = post(seller, f"/deals/{deal_id}/stage", {"stage_id": by_name[name][0]})
        assert r.status_code == 302, r.data[:3000]
    assert deal_row(app, deal_id)["stage_id"] == by_name["Closed — won"][0]
    assert history_count(app, deal_id) == 4  # created + three moves
    card = seller.get(f"/deals/{deal_id}").get_data(as_text=True)
    history = card.split('id="history"')[1].split("</section>")[0]
    assert history.count("<tr>") == 5  # header + four rows
    assert "Negotiation" in history and "Closed — won" in history
    assert "12,500.50" in card and "Globex" in card


def test_the_card_reads_its_timeline_and_stage_history_in_one_statement(app, login_as,
                                                                         count_queries):
    from conveyor.models import TimelineEntry
    from conveyor.types import utcnow

    _, (deal_id,) = seed(app)
    by_name = stages(app)
    seller = login_as("seller")
    for name in ("Negotiation", "Contract being concluded"):
        assert post(seller, f"/deals/{deal_id}/stage",
                    {"stage_id": by_name[name][0]}).status_code == 302
    with app.app_context():
        deal = db.session.get(Deal, deal_id)
        for i in range(3):
            db.session.add(TimelineEntry(customer_id=deal.customer_id, deal_id=deal_id,
                                         kind="note", message=f"Note {i}",
                                         at=utcnow() + timedelta(minutes=i)))
        db.session.commit()
    seller.get(f"/deals/{deal_id}")
    with count_queries() as queries:
        card = seller.get(f"/deals/{deal_id}").get_data(as_text=True)
    assert len([q for q in queries if "stage_history" in q]) == 1
    assert [q for q in queries if "stage_history" in q][0].count("timeline") >= 1
    history = card.split('id="history"')[1].split("</section>")[0]
    assert history.count("<tr>") == 4  # header + created + two moves, oldest first
    assert history.index("Negotiation") < history.index("Contract being concluded")
    timeline = card.split('id="timeline"')[1].split("</section>")[0]
    assert timeline.index("Note 2") < timeline.index("Note 1") < timeline.index("Note 0")


def test_moving_to_a_lost_stage_needs_a_reason(app, login_as):
    _, (deal_id,) = seed(app)
    lost = stages(app)["Closed — lost"][0]
    seller = login_as("seller")
    r = post(seller, f"/deals/{deal_id}/stage", {"stage_id": lost, "lost_reason": "  "})
    assert r.status_code == 400
    assert b"Say why the deal was lost." in r.data and b'class="field-error"' in r.data
    assert deal_row(app, deal_id)["stage_id"] != lost and history_count(app, deal_id) == 1
    r = post(seller, f"/deals/{deal_id}/stage", {"stage_id": lost, "lost_reason": "Too dear"})
    assert r.status_code == 302
    row = deal_row(app, deal_id)
    assert row["stage_id"] == lost and row["lost_reason"] == "Too dear"


def test_a_stage_of_another_pipeline_is_refused(app, login_as):
    _, (deal_id,) = seed(app)
    with app.app_context():
        other = Pipeline(name="Service", stages=[Stage(name="Open", percent=0, position=0)])
        db.session.add(other)
        db.session.commit()
        foreign = other.stages[0].id
    r = post(login_as("seller"), f"/deals/{deal_id}/stage", {"stage_id": foreign})
    assert r.status_code == 400 and b"field-error" in r.data
    assert deal_row(app, deal_id)["stage_id"] != foreign and history_count(app, deal_id) == 1


def test_a_seller_cannot_see_or_change_another_sellers_deal(app, login_as):
    _, (deal_id,) = seed(app, owner="seller2", name="Initech")
    seller = login_as("seller")
    assert seller.get(f"/deals/{deal_id}").status_code == 404
    assert seller.get(f"/deals/{deal_id}/edit").status_code == 404
    assert post(seller, f"/deals/{deal_id}/edit", {"title": "mine now", "customer_id": 1,
                                                   "amount": "1", "currency": "USD"}
                ).status_code == 404
    first = stages(app)["Negotiation"][0]
    assert post(seller, f"/deals/{deal_id}/stage", {"stage_id": first}).status_code == 404
    assert post(seller, f"/deals/{deal_id}/delete").status_code == 403  # sellers can't delete
    assert b"Initech deal 0" not in seller.get("/deals/?q=Initech").data
    assert deal_row(app, deal_id)["title"] == "Initech deal 0"


def test_a_manager_sees_the_teams_deals_but_not_another_teams(app, login_as):
    seed(app, owner="seller", name="Alpha")
    seed(app, owner="seller2", name="Beta")
    _, (foreign,) = seed(app, owner="seller3", name="Gamma")
    manager = login_as("manager")
    page = manager.get("/deals/").get_data(as_text=True)
    assert "Alpha deal 0" in page and "Beta deal 0" in page and "Gamma deal 0" not in page
    assert manager.get(f"/deals/{foreign}").status_code == 404
    board = manager.get("/deals/board").get_data(as_text=True)
    assert "Alpha deal 0" in board and "Gamma deal 0" not in board


def test_bad_deal_form_input_shows_field_errors_and_writes_nothing(app, login_as):
    customer_id, _ = seed(app, n=0)
    seller = login_as("seller")
    cases = [
        ({"title": "x", "amount": "", "currency": "USD"}, "This field is required."),
        ({"title": "x", "amount": "abc", "currency": "USD"}, "Not a valid decimal value."),
        ({"title": "x", "amount": "NaN", "currency": "USD"}, "Not a valid decimal value."),
        ({"title": "x", "amount": "-5", "currency": "USD"}, "Number must be between 0 and"),
        ({"title": "x", "amount": "1e20", "currency": "USD"}, "Number must be between"),
        ({"title": "x", "amount": "5", "currency": "ZZZ"}, "Not a valid choice"),
        ({"title": "x" * 201, "amount": "5", "currency": "USD"}, "longer than 200 characters"),
        ({"title": "x", "amount": "5", "currency": "USD", "expected_close": "soon"},
         "Not a valid date value."),
    ]
    for data, message in cases:
        r = post(seller, "/deals/new", {"customer_id": customer_id, **data})
        assert r.status_code == 400, data
        assert message in r.get_data(as_text=True), (data, message)
        assert 'class="field-error"' in r.get_data(as_text=True)
    r = post(seller, "/deals/new", {"customer_id": "99999999999", "title": "x", "amount": "1",
                                    "currency": "USD"})
    assert r.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Deal)) == 0


def test_a_deal_for_a_customer_one_cannot_see_is_refused(app, login_as):
    other_customer, _ = seed(app, owner="seller3", n=0, name="Hidden")
    seller = login_as("seller")
    assert seller.get(f"/deals/new?customer_id={other_customer}").status_code == 404
    r = post(seller, "/deals/new", {"customer_id": other_customer, "title": "Sneaky",
                                    "amount": "1", "currency": "USD"})
    assert r.status_code == 400 and b"not yours to see" in r.data
    assert b"Hidden" not in seller.get("/deals/new?customer_q=Hid").data
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Deal)) == 0


def test_the_new_deal_form_finds_customers_by_name(app, login_as):
    customer_id, _ = seed(app, n=0, name="Umbrella Corp")
    page = login_as("seller").get("/deals/new?customer_q=umbrel").get_data(as_text=True)
    assert f'<input type="radio" name="customer_id" value="{customer_id}">' in page


def test_editing_a_deal_changed_meanwhile_is_refused_with_409(app, login_as):
    customer_id, (deal_id,) = seed(app)
    seller = login_as("seller")
    stale_version = deal_row(app, deal_id)["version"]
    data = {"title": "Renamed by me", "customer_id": customer_id, "amount": "5",
            "currency": "USD", "owner_id": app.config["TEST_USER_IDS"]["seller"],
            "version": stale_version}
    with app.app_context():  # someone else saves first
        deal = db.session.get(Deal, deal_id)
        deal.title = "Renamed by a colleague"
        db.session.commit()
    r = post(seller, f"/deals/{deal_id}/edit", data)
    assert r.status_code == 409 and b"changed by someone else" in r.data
    assert deal_row(app, deal_id)["title"] == "Renamed by a colleague"
    r = post(seller, f"/deals/{deal_id}/edit", {**data, "version": stale_version + 1})
    assert r.status_code == 302 and deal_row(app, deal_id)["title"] == "Renamed by me"


def test_a_stage_move_from_a_stale_page_is_refused_with_409(app, login_as):
    _, (deal_id,) = seed(app)
    by_name = stages(app)
    seller = login_as("seller")
    version = deal_row(app, deal_id)["version"]
    assert post(seller, f"/deals/{deal_id}/stage", {"stage_id": by_name["Negotiation"][0],
                                                    "version": version}).status_code == 302
    r = post(seller, f"/deals/{deal_id}/stage",
             {"stage_id": by_name["Fulfilment"][0], "version": version})
    assert r.status_code == 409
    assert deal_row(app, deal_id)["stage_id"] == by_name["Negotiation"][0]


def test_the_board_shows_per_stage_counts_sums_and_moves_without_js(app, login_as):
    seed(app, n=3, amount="10.00")
    seed(app, n=1, name="Euro", amount="7.00", currency="EUR")
    seed(app, owner="seller3", n=2, name="Other")
    first = stages(app)["Request / interest"][0]
    seller = login_as("seller")
    page = seller.get("/deals/board").get_data(as_text=True)
    column = page.split(f'data-stage="{first}"')[1].split("</section>")[0]
    assert "4 open" in column and "$30.00" in column and "€7.00" in column
    assert column.count('class="card"') == 4 and "Other deal" not in column
    deal_id = int(re.search(r'data-deal="(\d+)"', column).group(1))
    # One click moves a card one step along the conveyor: the column's form names the next
    # stage and carries the CSRF token once; each card's button adds its deal and version.
    step = stages(app)["Meeting or presentation held"][0]
    form = column.split('<form method="post" class="move">')[1].split("</form>")[0]
    assert form.count(f'name="stage_id" value="{step}"') == 1 and form.count("csrf_token") == 1
    assert form.count('name="version"') == 4 and form.count("formaction=") == 4
    for closed in ("Closed — won", "Closed — lost"):
        sid = stages(app)[closed][0]
        closed_column = page.split(f'data-stage="{sid}"')[1].split("</section>")[0]
        assert 'class="card"' not in closed_column and f"/deals/?stage={sid}" in closed_column
    action = re.search(rf'formaction="(/deals/{deal_id}/stage[^"]*)"', form).group(1)
    assert action == f"/deals/{deal_id}/stage"
    assert '<input type="hidden" name="next" value="/deals/board">' in form  # back after it
    version = re.search(rf'formaction="/deals/{deal_id}/[^"]*" name="version" value="(\d+)"',
                        form).group(1)
    assert int(version) == deal_row(app, deal_id)["version"]
    r = post(seller, action, {"stage_id": step, "version": version, "next": "/deals/board"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/deals/board")
    assert deal_row(app, deal_id)["stage_id"] == step
    # The same click again (a stale page): the version no longer matches, nothing moves.
    target = stages(app)["Proposal under review"][0]
    r = post(seller, action, {"stage_id": target, "version": version, "next": "/deals/board"})
    assert r.status_code == 409 and deal_row(app, deal_id)["stage_id"] == step
    r = post(seller, f"/deals/{deal_id}/stage", {"stage_id": first, "next": "//evil.example"})
    assert r.headers["Location"].endswith(f"/deals/{deal_id}")


def test_the_board_offers_no_move_to_who_may_not_edit_deals(app, login_as):
    seed(app, n=2)
    lawyer = login_as("lawyer")  # sees deals (scope: all), may not change them
    page = lawyer.get("/deals/board").get_data(as_text=True)
    assert page.count('class="card"') == 2
    assert "<button" not in page.split('class="board"')[1] and 'class="move"' not in page


def test_a_board_step_goes_to_the_next_open_stage_and_from_the_last_to_won_never_lost(app):
    from conveyor.web.deals import _next_stages

    with app.app_context():
        ordered = list(db.session.scalars(select(Stage).order_by(Stage.position)))
        steps = {sid: s.name for sid, s in _next_stages(ordered).items()}
    names = {s.id: s.name for s in ordered}
    assert steps[ordered[0].id] == "Meeting or presentation held"
    closing = next(s.id for s in ordered if s.name == "Closing documents")
    assert steps[closing] == "Closed — won"
    assert all(not names[sid].startswith("Closed") for sid in steps)  # closed stages: no step


def test_the_deals_list_searches_filters_and_pages_by_keyset(make_app):
    app = make_app(config={"page_size": 2})
    from conveyor.testing import client_as

    seed(app, n=3, name="Acme")
    seed(app, n=1, name="Zenith")
    seller = client_as(app, "seller")
    assert "Zenith deal 0" in seller.get("/deals/?q=zenith").get_data(as_text=True)
    found = seller.get("/deals/?q=Acme").get_data(as_text=True)
    assert "Zenith" not in found and found.count('href="/deals/') >= 2
    page1 = seller.get("/deals/").get_data(as_text=True)
    nxt = re.search(r'rel="next" href="([^"]+)"', page1).group(1).replace("&amp;", "&")
    page2 = seller.get(nxt).get_data(as_text=True)
    assert "Acme deal 1" in page2 and "Zenith deal 0" not in page2
    negotiation = stages(app)["Negotiation"][0]
    assert "No deals match." in seller.get(f"/deals/?stage={negotiation}").get_data(as_text=True)
    assert "No deals match." in seller.get("/deals/?status=won").get_data(as_text=True)
    assert seller.get("/deals/?stage=abc&owner=99999999999999&before=x").status_code == 200


def test_a_manager_deletes_a_deal_with_its_history(app, login_as):
    customer_id, (deal_id,) = seed(app)
    r = post(login_as("manager"), f"/deals/{deal_id}/delete")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/customers/{customer_id}")
    assert deal_row(app, deal_id) is None and history_count(app, deal_id) == 0


def test_out_of_range_ids_are_404_not_500(login_as):
    seller = login_as("seller")
    assert seller.get("/deals/99999999999").status_code == 404
    assert seller.get("/deals/board?pipeline=99999").status_code == 404


def test_csrf_is_enforced_on_deal_forms(make_app):
    app = make_app(config={"csrf_enabled": True})
    from conveyor.testing import client_as

    customer_id, (deal_id,) = seed(app)
    seller = client_as(app, "seller")
    r = seller.post("/deals/new", data={"title": "x", "customer_id": customer_id,
                                        "amount": "1", "currency": "USD"})
    assert r.status_code == 400
    r = seller.post(f"/deals/{deal_id}/stage", data={"stage_id": stages(app)["Negotiation"][0]})
    assert r.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Deal)) == 1
    assert history_count(app, deal_id) == 1


@pytest.mark.parametrize("page", ["/deals/", "/deals/board", "deal", "customer"])
def test_queries_per_page_do_not_grow_with_deals(app, login_as, count_queries, page):
    customer_id, ids = seed(app, n=5)
    seller = login_as("seller")

    def url():
        return {"deal": f"/deals/{ids[0]}", "customer": f"/customers/{customer_id}"}.get(page, page)

    def measure():
        seller.get(url())  # warm
        with count_queries() as q:
            assert seller.get(url()).status_code == 200
        return len(q)

    few = measure()
    with app.app_context():
        user = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        by_name = {s.name: s for s in db.session.scalars(select(Stage))}
        for i in range(45):
            deal = crm.create_deal({"customer_id": customer_id, "title": f"more {i}",
                                    "amount": Decimal(i)}, user)
            crm.move_deal(deal, by_name["Negotiation" if i % 2 else "Closed — won"], user)
        first = db.session.get(Deal, ids[0])
        for name in ("Negotiation", "Fulfilment", "Closing documents"):
            crm.move_deal(first, by_name[name], user)
        db.session.commit()
    assert measure() == few


def test_moving_to_the_current_stage_changes_nothing_but_a_lost_reason_can_be_corrected(
        app, login_as):
    _, (deal_id,) = seed(app)
    by_name = stages(app)
    seller = login_as("seller")
    r = post(seller, f"/deals/{deal_id}/stage", {"stage_id": by_name["Request / interest"][0]})
    assert r.status_code == 302 and history_count(app, deal_id) == 1
    lost = by_name["Closed — lost"][0]
    post(seller, f"/deals/{deal_id}/stage", {"stage_id": lost, "lost_reason": "Price"})
    r = post(seller, f"/deals/{deal_id}/stage", {"stage_id": lost, "lost_reason": "Timing"})
    assert r.status_code == 302
    assert deal_row(app, deal_id)["lost_reason"] == "Timing" and history_count(app, deal_id) == 2
    card = seller.get(f"/deals/{deal_id}").get_data(as_text=True)
    assert "Timing" in card and "(so far)" not in card


class BigDeals:
    """A throwaway plugin: a list filter on deals and two actions on the deal card."""

    @hookimpl
    def register_list_filters(self):
        return [ListFilter("size", "Size", "deal", lambda: [("big", "Big")],
                           lambda query, value: query.where(Deal.amount >= 1000)
                           if value == "big" else query)]

    @hookimpl
    def deal_actions(self, deal, user):
        return [Action("Print offer", f"/print/{deal.id}"),
                Action("Escalate", f"/escalate/{deal.id}", method="post")]


def test_plugins_add_deal_list_filters_and_card_actions(make_app):
    from conveyor.testing import client_as

    app = make_app(extra_plugins=[("bigdeals", BigDeals())])
    seed(app, n=1, name="Small", amount="10")
    _, (big,) = seed(app, n=1, name="Large", amount="5000")
    seller = client_as(app, "seller")
    listing = seller.get("/deals/?size=big").get_data(as_text=True)
    assert "Large deal 0" in listing and "Small deal 0" not in listing
    assert '<option value="big" selected>Big</option>' in listing
    card = seller.get(f"/deals/{big}").get_data(as_text=True)
    assert f'href="/print/{big}">Print offer</a>' in card
    assert re.search(rf'<form method="post" action="/escalate/{big}"[^>]*>\s*<input type="hidden" '
                     r'name="csrf_token"', card)


@pytest.mark.parametrize("path", ["/deals/", "/customers/", "/notifications/"])
def test_a_page_boundary_beyond_any_id_is_an_empty_first_page_not_an_error(login_as, path):
    seller = login_as("seller")
    for before in ("99999999999", "2147483648", "1"):
        assert seller.get(f"{path}?before={before}").status_code == 200, before
    assert login_as("admin").get("/admin/users?before=99999999999").status_code == 200


def test_wtforms_messages_come_in_the_page_language_from_a_catalog_read_once(app):
    from flask_babel import force_locale
    from flask_wtf.i18n import translations

    from conveyor.i18n import _wtforms_catalog

    with app.test_request_context("/"):
        with force_locale("ru"):
            assert translations.gettext("Not a valid decimal value.") == "Неверное десятичное число."
        with force_locale("zh_Hans"):
            assert translations.gettext("Not a valid decimal value.") == "不是有效的小数。"
    assert _wtforms_catalog("ru") is _wtforms_catalog("ru")
