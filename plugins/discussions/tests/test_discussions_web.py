"""The thread on the cards, posting through forms, XSS payloads, mentions, inbox, attachments,
e-mail, and statement counts."""
from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import select

from conveyor import db
from conveyor.models import Notification, User
from conveyor.testing import client_as, csrf_of

from .test_discussions_api import make_deal

XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![img](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<svg onload=alert(1)><script>alert(1)</script></svg>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
    "<div onmouseover=\"alert(1)\">hover</div>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "[x](vbscript:msgbox(1))",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "`<script>` and ```\n<script>alert(1)</script>\n```",
]
BANNED_TAGS = {"script", "svg", "img", "iframe", "math", "style", "object", "embed", "form"}


class Checker(HTMLParser):
    """Collects what a browser would act on: tags, event handlers, link schemes."""

    def __init__(self) -> None:
        super().__init__()
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BANNED_TAGS:
            self.bad.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.bad.append(name)
            if name in ("href", "src", "xlink:href", "action") and value and not re.match(
                    r"^(https?:|mailto:|/|#|\?)", value.strip(), re.I):
                self.bad.append(f"{name}={value}")


def dangers(html: str) -> list[str]:
    checker = Checker()
    checker.feed(html)
    return checker.bad


def web_post(browser: Any, deal: int, body: str, **extra: Any) -> Any:
    page = browser.get(f"/deals/{deal}").get_data(as_text=True)
    return browser.post(f"/discussions/deals/{deal}/posts",
                        data={"csrf_token": csrf_of(page), "body": body, **extra},
                        content_type="multipart/form-data")


@pytest.fixture
def seller_deal(app, users):
    return make_deal(app, users["seller"])


def thread_html(page: str) -> str:
    return page[page.index('id="discussion"'):page.index("mentions.js")]


def test_xss_payloads_are_stored_and_rendered_inert(client, login_as, api_headers, users, app,
                                                    seller_deal):
    browser = login_as("seller")
    h = api_headers("seller")
    for payload in XSS:
        assert web_post(browser, seller_deal, payload).status_code == 302, payload
        api = client.post(f"/api/v1/deals/{seller_deal}/posts", headers=h, json={"body": payload})
        assert api.status_code == 201
        assert not dangers(api.get_json()["html"]), (payload, api.get_json()["html"])
        assert api.get_json()["body"] == payload.strip()  # the raw text is kept as written
    page = browser.get(f"/deals/{seller_deal}").get_data(as_text=True)
    bodies = re.findall(r'<div class="post-body">(.*?)</div>', thread_html(page), re.S)
    assert len(bodies) >= len(XSS) and not dangers("".join(bodies))
    assert "<script>alert" not in page and "onerror=alert" not in page.replace(
        "onerror=alert(1)&gt;", "")
    listed = client.get(f"/api/v1/deals/{seller_deal}/posts?page_size=200",
                        headers=h).get_json()["items"]
    assert len(listed) == 2 * len(XSS)
    assert not any(dangers(p["html"]) for p in listed)


def test_form_without_csrf_token_is_refused(login_as, users, app, seller_deal):
    browser = client_as(app, "seller")  # login_as's clients send the token; this one does not
    response = browser.post(f"/discussions/deals/{seller_deal}/posts", data={"body": "x"})
    assert response.status_code in (400, 422)
    assert browser.get(f"/api/v1/deals/{seller_deal}/posts").get_json()["items"] == []


def test_thread_panel_merges_posts_with_the_timeline_newest_first(login_as, users, app,
                                                                   seller_deal):
    browser = login_as("seller")
    assert web_post(browser, seller_deal, "Contract **draft** ready").status_code == 302
    page = browser.get(f"/deals/{seller_deal}").get_data(as_text=True)
    thread = thread_html(page)
    assert "<strong>draft</strong>" in thread
    assert 'class="event muted"' in thread  # the deal's creation on the timeline
    assert thread.index("draft") < thread.index('class="event muted"')
    customer_page = browser.get("/customers/1").get_data(as_text=True)
    assert 'id="discussion"' in customer_page


def test_refused_mention_shows_a_field_message_and_writes_nothing(login_as, users, app,
                                                                  seller_deal):
    browser = login_as("seller")
    response = web_post(browser, seller_deal, "@seller3 please look")
    assert response.status_code == 422
    assert "@seller3 may not see this record" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Notification)).all() == []


def test_mention_suggestions_offer_only_people_who_may_see_the_record(login_as, users, app,
                                                                     seller_deal):
    browser = login_as("seller")
    names = [p["username"] for p in browser.get(
        f"/discussions/deals/{seller_deal}/mentions?q=").get_json()]
    assert "assistant" in names and "lawyer" in names and "manager" in names
    assert "seller3" not in names and "seller2" not in names and "marketer" not in names
    assert "seller" not in names  # not oneself
    only = browser.get(f"/discussions/deals/{seller_deal}/mentions?q=la").get_json()
    assert [p["username"] for p in only] == ["lawyer"]
    outsider = login_as("seller3")
    assert outsider.get(f"/discussions/deals/{seller_deal}/mentions?q=").status_code == 404


def test_mentioned_user_gets_a_notification_and_an_email_in_their_language(
        make_app, smtp_server, tmp_path, users):
    app = make_app(plugins=["discussions"], config={
        **smtp_server.config, "discussions": {"storage_dir": str(tmp_path)}})
    with app.app_context():
        lawyer = db.session.scalar(select(User).where(User.username == "lawyer"))
        lawyer.locale, lawyer.email_notifications = "ru", True
        db.session.commit()
    deal = make_deal(app, users["seller"], "Котёл")
    from conveyor.testing import token_headers

    client = app.test_client()
    response = client.post(f"/api/v1/deals/{deal}/posts", headers=token_headers(app, "seller"),
                           json={"body": "@lawyer please check the *penalty* clause"})
    assert response.status_code == 201
    with app.app_context():
        note = db.session.scalar(select(Notification).where(
            Notification.user_id == users["lawyer"]))
        assert note.kind == "discussions.mention" and note.url.endswith(
            f"#post-{response.get_json()['id']}")
        assert "Котёл" in note.message and "mentioned you" not in note.message
    import time

    for _ in range(50):  # delivered after the response; give the job a moment
        if smtp_server.messages:
            break
        time.sleep(0.1)
    messages = smtp_server.messages
    assert len(messages) == 1
    message = messages[0]
    assert "lawyer@example.test" in str(message["To"])
    assert "penalty" in message.get_body(("plain",)).get_content()


def test_inbox_lists_followed_threads_with_unread_posts(login_as, api_headers, client, users,
                                                        app, seller_deal):
    client.post(f"/api/v1/deals/{seller_deal}/posts", headers=api_headers("manager"),
                json={"body": "Any news?"})  # the seller owns it, so follows it
    browser = login_as("seller")
    inbox = browser.get("/discussions/").get_data(as_text=True)
    assert "Boiler" in inbox
    browser.get(f"/deals/{seller_deal}")  # reading the card clears the marker
    assert "Boiler" not in browser.get("/discussions/").get_data(as_text=True)
    outsider = login_as("seller2")
    assert "Boiler" not in outsider.get("/discussions/").get_data(as_text=True)


def test_unread_posts_are_marked_on_the_card(login_as, api_headers, client, users, app,
                                             seller_deal):
    client.post(f"/api/v1/deals/{seller_deal}/posts", headers=api_headers("manager"),
                json={"body": "Any news?"})
    browser = login_as("seller")
    assert 'class="post unread"' in browser.get(f"/deals/{seller_deal}").get_data(as_text=True)
    assert 'class="post unread"' not in browser.get(f"/deals/{seller_deal}").get_data(
        as_text=True)


def test_attachments_are_checked_stored_by_hash_and_served_to_who_may_see(
        login_as, users, app, seller_deal, tmp_path):
    browser = login_as("seller")
    ok = web_post(browser, seller_deal, "the contract",
                  attachments=[(io.BytesIO(b"%PDF-1.4 contract"), "contract.pdf")])
    assert ok.status_code == 302
    page = browser.get(f"/deals/{seller_deal}").get_data(as_text=True)
    link = re.search(r'href="(/discussions/attachments/\d+)"', page).group(1)
    got = browser.get(link)
    assert got.status_code == 200 and got.data == b"%PDF-1.4 contract"
    assert "attachment" in got.headers["Content-Disposition"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    import hashlib

    digest = hashlib.sha256(b"%PDF-1.4 contract").hexdigest()
    assert (tmp_path / "files" / digest[:2] / digest).read_bytes() == b"%PDF-1.4 contract"
    assert login_as("seller2").get(link).status_code == 404
    svg = web_post(browser, seller_deal, "image",
                   attachments=[(io.BytesIO(b"<svg onload=alert(1)>"), "x.svg")])
    assert svg.status_code == 422 and "not accepted" in svg.get_data(as_text=True)


def test_too_large_attachment_is_refused(make_app, login_as, users, tmp_path):
    app = make_app(plugins=["discussions"], config={"discussions": {
        "storage_dir": str(tmp_path / "files"), "max_attachment_bytes": 10}})
    from conveyor.testing import client_as

    deal = make_deal(app, users["seller"])
    browser = client_as(app, "seller")
    response = web_post(browser, deal, "big",
                        attachments=[(io.BytesIO(b"x" * 11), "big.txt")])
    assert response.status_code == 422 and "larger than" in response.get_data(as_text=True)
    assert not (tmp_path / "files").exists()


def test_card_statements_do_not_grow_with_the_thread(login_as, api_headers, client, users, app,
                                                     seller_deal, count_queries):
    h = api_headers("seller")
    first = client.post(f"/api/v1/deals/{seller_deal}/posts", headers=h,
                        json={"body": "one"}).get_json()
    client.post(f"/api/v1/deals/{seller_deal}/posts", headers=h,
                json={"body": "reply", "reply_to": first["id"]})
    browser = login_as("seller")
    browser.get(f"/deals/{seller_deal}")
    with count_queries() as small:
        browser.get(f"/deals/{seller_deal}")
    for i in range(30):
        post = client.post(f"/api/v1/deals/{seller_deal}/posts", headers=h,
                           json={"body": f"post {i}"}).get_json()
        client.post(f"/api/v1/deals/{seller_deal}/posts", headers=h,
                    json={"body": "r", "reply_to": post["id"]})
    browser.get(f"/deals/{seller_deal}")
    with count_queries() as large:
        page = browser.get(f"/deals/{seller_deal}")
    assert page.status_code == 200
    assert len(large) == len(small)


def test_older_pages_follow_the_time_cursor(login_as, api_headers, client, users, app,
                                            seller_deal):
    h = api_headers("seller")
    for i in range(25):
        client.post(f"/api/v1/deals/{seller_deal}/posts", headers=h, json={"body": f"post-{i}"})
    browser = login_as("seller")
    page = browser.get(f"/deals/{seller_deal}").get_data(as_text=True)
    assert "post-24" in page and "post-5<" in page and "post-4<" not in page
    older = re.search(r'href="\?posts_before=([^"#]+)#discussion"', page).group(1)
    second = browser.get(f"/deals/{seller_deal}?posts_before={older}").get_data(as_text=True)
    assert "post-4<" in second and "post-24" not in second


def test_edit_delete_and_follow_through_the_web(login_as, users, app, seller_deal):
    browser = login_as("seller")
    assert web_post(browser, seller_deal, "first draft").status_code == 302
    page = browser.get(f"/deals/{seller_deal}").get_data(as_text=True)
    post_id = int(re.search(r'id="post-(\d+)"', page).group(1))
    edit_page = browser.get(f"/discussions/posts/{post_id}/edit")
    assert edit_page.status_code == 200 and "first draft" in edit_page.get_data(as_text=True)
    token = csrf_of(edit_page.get_data(as_text=True))
    saved = browser.post(f"/discussions/posts/{post_id}/edit",
                         data={"csrf_token": token, "body": "final **text**"})
    assert saved.status_code == 302
    page = browser.get(f"/deals/{seller_deal}").get_data(as_text=True)
    assert "<strong>text</strong>" in page and "edited" in page
    other = login_as("manager")  # sees the deal, may neither edit nor delete the post
    assert other.get(f"/discussions/posts/{post_id}/edit").status_code == 403
    manager_page = other.get(f"/deals/{seller_deal}").get_data(as_text=True)
    assert f"/discussions/posts/{post_id}/delete" not in manager_page
    assert other.post(f"/discussions/posts/{post_id}/delete",
                      data={"csrf_token": csrf_of(manager_page)}).status_code == 403
    assert 'action="/discussions/deals/%d/follow"' % seller_deal in manager_page
    assert other.post(f"/discussions/deals/{seller_deal}/follow",
                      data={"csrf_token": csrf_of(manager_page)}).status_code == 302
    assert "/unfollow" in other.get(f"/deals/{seller_deal}").get_data(as_text=True)
    gone = browser.post(f"/discussions/posts/{post_id}/delete", data={"csrf_token": token})
    assert gone.status_code == 302
    page = browser.get(f"/deals/{seller_deal}").get_data(as_text=True)
    assert "Deleted by Seller" in page and "final" not in thread_html(page)


def test_followers_who_chose_email_get_one(make_app, smtp_server, tmp_path, users):
    app = make_app(plugins=["discussions"], config={
        **smtp_server.config, "discussions": {"storage_dir": str(tmp_path)}})
    with app.app_context():
        manager = db.session.scalar(select(User).where(User.username == "manager"))
        manager.email_notifications = True
        db.session.commit()
    deal = make_deal(app, users["seller"])
    from conveyor.testing import token_headers

    client = app.test_client()
    assert client.post(f"/api/v1/deals/{deal}/follow",
                       headers=token_headers(app, "manager")).status_code == 200
    assert client.post(f"/api/v1/deals/{deal}/posts", headers=token_headers(app, "seller"),
                       json={"body": "Signed today."}).status_code == 201
    import time

    for _ in range(50):
        if smtp_server.messages:
            break
        time.sleep(0.1)
    assert [str(m["To"]) for m in smtp_server.messages] == ["manager@example.test"]
    assert "Seller posted on Boiler" in str(smtp_server.messages[0]["Subject"])


def test_inbox_statements_do_not_grow_with_threads(login_as, api_headers, client, users, app,
                                                   count_queries):
    h = api_headers("manager")
    browser = login_as("seller")
    deal = make_deal(app, users["seller"], "Deal 0")
    client.post(f"/api/v1/deals/{deal}/posts", headers=h, json={"body": "x"})
    browser.get("/discussions/")
    with count_queries() as small:
        browser.get("/discussions/")
    for i in range(1, 8):
        deal = make_deal(app, users["seller"], f"Deal {i}")
        client.post(f"/api/v1/deals/{deal}/posts", headers=h, json={"body": "x"})
    browser.get("/discussions/")
    with count_queries() as large:
        page = browser.get("/discussions/").get_data(as_text=True)
    assert "Deal 7" in page and len(large) == len(small)


def test_odd_page_cursors_never_fail(login_as, users, app, seller_deal):
    browser = login_as("seller")
    for cursor in ["2026-01-01T00:00:00", "garbage", "9999-12-31T23:59:59+00:00", "x" * 500]:
        assert browser.get(f"/deals/{seller_deal}?posts_before={cursor}").status_code == 200
    assert browser.get("/discussions/deals/999999").status_code == 404
    assert browser.get(f"/discussions/nothing/{seller_deal}").status_code == 404


def test_lead_thread_page_follows_the_leads_record_rules(login_as, users, app):
    with app.app_context():
        from conveyor.plugins.leads.models import Lead

        lead = Lead(name="Ivan", company="Volga Trade", owner_id=users["seller"])
        db.session.add(lead)
        db.session.commit()
        lead_id = lead.id
    browser = login_as("seller")
    page = browser.get(f"/discussions/leads/{lead_id}")
    assert page.status_code == 200 and "Volga Trade" in page.get_data(as_text=True)
    response = browser.post(f"/discussions/leads/{lead_id}/posts", data={
        "csrf_token": csrf_of(page.get_data(as_text=True)), "body": "Called, interested."},
        content_type="multipart/form-data")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/discussions/leads/{lead_id}#post-")
    assert login_as("seller2").get(f"/discussions/leads/{lead_id}").status_code == 404


def test_cards_show_the_timeline_once_in_the_thread(login_as, users, app, make_app):
    """The thread merges the card's timeline, so the card has no timeline box of its own; with
    the plugin off the box is back."""
    deal = make_deal(app, users["seller"], "Once")
    browser = login_as("seller")
    with app.app_context():
        from conveyor.models import Deal

        customer_id = db.session.get(Deal, deal).customer_id
    for path in (f"/deals/{deal}", f"/customers/{customer_id}"):
        page = browser.get(path).get_data(as_text=True)
        assert page.count('id="timeline"') == 0, path
        assert page.count('id="discussion"') == 1, path
        # the timeline, in the thread: the entry "deal created" (its kind named) with its title
        assert "deal created Once" in thread_html(page), path
        assert page.count("deal created Once") == 1, path
    plain = make_app(plugins=[])
    deal2 = make_deal(plain, users["seller"], "Plain")
    page = client_as(plain, "seller").get(f"/deals/{deal2}").get_data(as_text=True)
    assert page.count('id="timeline"') == 1 and 'id="discussion"' not in page


def test_customer_thread_shows_deal_entries_only_to_who_may_see_the_deal(login_as, users, app):
    """The customer's thread reads the card's own timeline statement: a marketer (customers,
    not deals) sees the customer's entries but none about its deals; the seller sees both."""
    deal = make_deal(app, users["seller"], "Hidden")
    with app.app_context():
        from conveyor import post_timeline
        from conveyor.models import Deal

        customer_id = db.session.get(Deal, deal).customer_id
        post_timeline("note.added", "customer-wide note", customer=customer_id)
        post_timeline("note.added", "about the deal only", deal=db.session.get(Deal, deal))
        db.session.commit()
    seller = thread_html(login_as("seller").get(f"/customers/{customer_id}")
                         .get_data(as_text=True))
    assert "customer-wide note" in seller and "about the deal only" in seller
    page = login_as("marketer").get(f"/customers/{customer_id}")
    assert page.status_code == 200
    marketer = thread_html(page.get_data(as_text=True))
    assert "customer-wide note" in marketer
    assert "about the deal only" not in marketer and "deal created" not in marketer


def test_card_with_the_thread_reads_three_statements_more_than_the_bare_core_card(
        login_as, api_headers, client, users, app, make_app, seller_deal, count_queries):
    """The panel costs the thread with the reader's follower row, the posts with their replies
    (one statement) and the merged timeline; the card then reads its stage history alone
    instead of with its own timeline (one statement either way); the attachments only when a
    post shown has one."""
    h = api_headers("seller")
    for i in range(5):
        post = client.post(f"/api/v1/deals/{seller_deal}/posts", headers=h,
                           json={"body": f"post {i}"}).get_json()
        client.post(f"/api/v1/deals/{seller_deal}/posts", headers=h,
                    json={"body": "r", "reply_to": post["id"]})
    browser = login_as("seller")
    browser.get(f"/deals/{seller_deal}")  # the unread marker moves (one UPDATE) once
    with count_queries() as on:
        assert browser.get(f"/deals/{seller_deal}").status_code == 200
    web_post(browser, seller_deal, "with a file", attachments=[(io.BytesIO(b"hi"), "a.txt")])
    browser.get(f"/deals/{seller_deal}")
    with count_queries() as with_file:
        assert "a.txt" in browser.get(f"/deals/{seller_deal}").get_data(as_text=True)
    assert len(with_file) == len(on) + 1
    plain = make_app(plugins=["leads"])  # last: on PostgreSQL it resets the shared database
    plain_deal = make_deal(plain, users["seller"], "Plain")
    plain_browser = client_as(plain, "seller")
    plain_browser.get(f"/deals/{plain_deal}")
    from conveyor.testing import query_counter

    with query_counter(plain) as off:
        assert plain_browser.get(f"/deals/{plain_deal}").status_code == 200
    assert len(on) == len(off) + 3, (on, off)
