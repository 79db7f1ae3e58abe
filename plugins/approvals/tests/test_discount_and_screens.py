"""The discount rule on deals (the "deal" resource), the deal card's panel, the lawyer's home
and the approvals pages. CSRF stays on: posts carry the page's token."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from conveyor.extensions import db
from conveyor.models import Deal
from conveyor.plugins.approvals import discount
from conveyor.plugins.approvals.models import ApprovalRequest, DealDiscount
from conveyor.testing import csrf_of
from conveyor.types import utcnow

from .conftest import gate_stage, make_deal, stage_id, user

def post(client, url, data=None, **kwargs):
    """A form post with the page's CSRF token (read once per client)."""
    if not hasattr(client, "csrf"):
        client.csrf = csrf_of(client.get("/profile/").get_data(as_text=True))
    return client.post(url, data={"csrf_token": client.csrf, **(data or {})}, **kwargs)


def test_a_discount_above_the_sellers_limit_waits_for_the_manager_before_70(
        app, login_as, api_headers, users):
    gate_stage(app, 70, "approvals.discount")
    deal_id = make_deal(app)
    seller = login_as("seller")
    # Within the seller's 10 %: no approval needed, the deal moves on.
    r = post(seller, f"/approvals/deals/{deal_id}/discount", {"percent": "8"})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(ApprovalRequest)) is None
    # 15 % is above it: the deal's terms go to the manager of the seller's team.
    r = post(seller, f"/approvals/deals/{deal_id}/discount", {"percent": "15"})
    assert r.status_code == 302
    with app.app_context():
        request = db.session.scalar(select(ApprovalRequest))
        assert (request.resource, request.record_id, request.rule, request.approver_role) == (
            "deal", deal_id, "manager", "manager")
        assert request.version == "1000.00 USD -15.00%"
        request_id = request.id
    move = {"stage_id": stage_id(app, 80)}
    refused = seller.post(f"/api/v1/deals/{deal_id}/stage", json=move,
                          headers=api_headers("seller"))
    assert refused.status_code == 409
    assert "15%" in refused.json["message"] and "manager" in refused.json["message"]
    card = seller.get(f"/deals/{deal_id}").get_data(as_text=True)
    assert 'id="blocked-moves"' in card and "above the 10%" in card
    assert 'id="panel-approvals"' in card and "waiting for approval" in card
    # seller3's manager is not seller's: only the North team's manager decides.
    assert seller.post(f"/api/v1/approvals/{request_id}/approve", json={},
                       headers=api_headers("seller3")).status_code == 403
    manager = login_as("manager")
    panel = manager.get(f"/deals/{deal_id}").get_data(as_text=True)
    assert f'/approvals/{request_id}/approve' in panel
    r = post(manager, f"/approvals/{request_id}/approve", {"next": f"/deals/{deal_id}"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/deals/{deal_id}")
    ok = seller.post(f"/api/v1/deals/{deal_id}/stage", json=move, headers=api_headers("seller"))
    assert ok.status_code == 200
    assert ok.json["approval"]["status"] == "approved"  # the deal's approval on the API


def test_a_new_amount_needs_the_discount_approved_again(app, api_headers, login_as, users):
    gate_stage(app, 70, "approvals.discount")
    deal_id = make_deal(app)
    with app.app_context():
        deal = db.session.get(Deal, deal_id)
        request = discount.set_deal_discount(deal, Decimal("20"), user(app, "seller"))
        db.session.commit()
        from conveyor.plugins.approvals import services

        services.approve(request, user(app, "manager"))
        deal.amount = Decimal("2000.00")
        db.session.commit()
    r = login_as("seller").post(f"/api/v1/deals/{deal_id}/stage",
                                json={"stage_id": stage_id(app, 70)},
                                headers=api_headers("seller"))
    assert r.status_code == 409 and r.json["code"] == "stage_gate"


def test_a_seller_without_a_team_manager_goes_to_any_manager(app, users):
    deal_id = make_deal(app, owner="seller3")
    with app.app_context():
        deal = db.session.get(Deal, deal_id)
        request = discount.set_deal_discount(deal, Decimal("30"), user(app, "seller3"))
        assert (request.rule, request.approver_role) == ("role", "manager")
        assert discount.limit_for(user(app, "manager")) == Decimal("25")
        assert discount.limit_for(user(app, "lawyer")) == Decimal("0")  # not listed: default


def test_the_discount_form_refuses_bad_input_without_saving(app, login_as):
    deal_id = make_deal(app)
    seller = login_as("seller")
    for bad in ("-1", "101", "abc", ""):
        r = post(seller, f"/approvals/deals/{deal_id}/discount", {"percent": bad})
        assert r.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(DealDiscount)) is None
    # Someone else's deal is not found; a role without deals.edit is refused.
    assert post(login_as("seller3"), f"/approvals/deals/{deal_id}/discount",
                {"percent": "5"}).status_code == 404
    assert post(login_as("lawyer"), f"/approvals/deals/{deal_id}/discount",
                {"percent": "5"}).status_code == 403


def test_the_lawyers_home_shows_the_queue_approved_this_week_and_sent_back(
        app, memos, login_as, users):
    from conveyor.plugins.approvals import services

    deal_id = make_deal(app)
    with app.app_context():
        seller, lawyer = user(app, "seller"), user(app, "lawyer")
        waiting = services.request_approval("memo", memos.add(deal_id, b"a"), seller)
        approved = services.request_approval("memo", memos.add(deal_id, b"b"), seller)
        back = services.request_approval("memo", memos.add(deal_id, b"c"), seller)
        waiting.submitted_at = utcnow() - timedelta(days=3)
        db.session.flush()
        services.approve(approved, lawyer)
        services.request_changes(back, lawyer, "Wrong party name")
        db.session.commit()
        ids = waiting.id, approved.id, back.id
    home = login_as("lawyer").get("/").get_data(as_text=True)
    queue = home[home.index('id="widget-approvals-queue"'):]
    queue = queue[:queue.index("</section>")]
    assert f"/approvals/{ids[0]}" in queue and "3 days" in queue
    week = home[home.index('id="widget-approvals-approved-week"'):]
    assert f"/approvals/{ids[1]}" in week[:week.index("</section>")]
    sent = home[home.index('id="widget-approvals-sent-back"'):]
    assert f"/approvals/{ids[2]}" in sent[:sent.index("</section>")]
    seller_home = login_as("seller").get("/").get_data(as_text=True)
    assert 'id="widget-approvals-my-requests"' in seller_home
    assert 'id="widget-approvals-queue"' not in seller_home


def test_the_lawyer_sends_back_from_the_page_with_a_required_comment(app, memos, login_as):
    from conveyor.plugins.approvals import services

    deal_id = make_deal(app)
    with app.app_context():
        request = services.request_approval("memo", memos.add(deal_id, b"x"), user(app, "seller"))
        db.session.commit()
        request_id = request.id
    lawyer = login_as("lawyer")
    page = lawyer.get(f"/approvals/{request_id}").get_data(as_text=True)
    assert "Send back for changes" in page and "requested by Seller" in page
    r = post(lawyer, f"/approvals/{request_id}/request-changes", {"comment": ""})
    assert r.status_code == 302
    assert "Say what needs to change." in lawyer.get(f"/approvals/{request_id}").get_data(
        as_text=True)
    post(lawyer, f"/approvals/{request_id}/request-changes", {"comment": "<b>Fix</b> clause 2"})
    page = lawyer.get(f"/approvals/{request_id}").get_data(as_text=True)
    assert "&lt;b&gt;Fix&lt;/b&gt; clause 2" in page and "sent back by Lawyer" in page
    # The seller may not decide from the page either.
    assert post(login_as("seller"), f"/approvals/{request_id}/approve").status_code == 403
    # Without the CSRF token nothing happens.
    assert lawyer.post(f"/approvals/{request_id}/approve").status_code in (302, 400)
    with app.app_context():
        assert db.session.get(ApprovalRequest, request_id).status == "changes_requested"


def test_a_seller_sends_the_deals_terms_for_approval_from_the_card(app, login_as, users):
    deal_id = make_deal(app)
    seller = login_as("seller")
    form = seller.get(f"/approvals/request/deal/{deal_id}?next=/deals/{deal_id}")
    assert form.status_code == 200
    r = post(seller, f"/approvals/request/deal/{deal_id}",
             {"approver": f"user:{users['lawyer']}", "note": "Please check",
              "next": f"/deals/{deal_id}"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/deals/{deal_id}")
    with app.app_context():
        request = db.session.scalar(select(ApprovalRequest))
        assert (request.rule, request.approver_id) == ("user", users["lawyer"])
    # Nobody holds that role; seller2 may not approve anything.
    for approver in ("role:nosuchrole", f"user:{users['seller2']}", "role:seller"):
        r = post(seller, f"/approvals/request/deal/{deal_id}", {"approver": approver})
        assert r.status_code == 400, approver
    assert post(login_as("seller3"), f"/approvals/request/deal/{deal_id}",
                {"approver": ""}).status_code == 404
    index = login_as("lawyer").get("/approvals/").get_data(as_text=True)
    assert f"/approvals/{request.id}" in index


def test_the_request_page_shows_the_terms_as_money_and_a_percentage_in_the_readers_language(
        app, login_as, users):
    """Not the stored version string ("1095500.00 CNY -12.50%"): the amount as money and the
    discount as a percentage, labelled, in each language."""
    from babel.numbers import format_currency, format_percent

    from conveyor.models import User

    deal_id = make_deal(app, amount="1095500.00")
    with app.app_context():
        db.session.get(Deal, deal_id).currency = "CNY"
        db.session.commit()
    assert post(login_as("seller"), f"/approvals/deals/{deal_id}/discount",
                {"percent": "12.5"}).status_code == 302
    with app.app_context():
        request = db.session.scalar(select(ApprovalRequest))
        assert request.version == "1095500.00 CNY -12.50%"
        request_id = request.id
    for locale, amount_label, discount_label in (("en", "Amount", "Discount"),
                                                  ("ru", "Сумма", "Скидка"),
                                                  ("zh_Hans", "金额", "折扣")):
        with app.app_context():
            db.session.get(User, users["manager"]).locale = locale
            db.session.commit()
        page = login_as("manager").get(f"/approvals/{request_id}").get_data(as_text=True)
        money = format_currency(Decimal("1095500"), "CNY", locale=locale)
        percent = format_percent(Decimal("0.125"), format=None, locale=locale,
                                 decimal_quantization=False)
        assert "1095500.00 CNY" not in page and "-12.50%" not in page
        assert f"<dt>{amount_label}</dt><dd>{money}" in page, (locale, money)
        assert f"<dt>{discount_label}</dt><dd>{percent}" in page, (locale, percent)
