"""Role hygiene: no link a person is shown answers 403 or 404 when they follow it.

Every role of the demo company (all plugins on, records of every kind) walks the site from its
home page: each link on the pages it reaches is requested as that role (conveyor.page_walk)."""
from __future__ import annotations

import pytest

from conveyor.page_walk import seed_demo_app, walk
from conveyor.role_layers import ROLE_NAMES
from conveyor.testing import client_as

ALL_PLUGINS = ["leads", "calls", "groups", "funnel", "relationships", "documents", "approvals",
               "discussions", "activities"]


def test_no_link_shown_to_any_role_answers_403_or_404(make_app):
    app = make_app(plugins=ALL_PLUGINS, seed=False)
    seed_demo_app(app)
    problems = []
    for role in ROLE_NAMES:
        seen = walk(client_as(app, role), expand=2)
        assert len(seen.pages) > 10, (role, seen.pages)  # the walk really went through the site
        problems += [f"{role}: {p}" for p in seen.broken((400, 403, 404, 405, 500))]
    assert not problems, "\n".join(problems)


def test_the_call_queue_shows_the_number_to_call_and_links_only_cards_one_may_open(make_app):
    """A queue item grants the call, not the card: a telemarketer (own records only) sees the
    customer a manager queued for them by name, with a contact's number as a tel: link, and no
    link to a card that would answer 404; their own customer's name stays a link."""
    from conveyor.extensions import db
    from conveyor.models import Contact, Customer
    from conveyor.plugins.calls.models import QueueItem

    app = make_app(plugins=["leads", "calls"])
    ids = app.config["TEST_USER_IDS"]
    with app.app_context():
        theirs = Customer(name="Ural Trans", owner_id=ids["seller3"])
        mine = Customer(name="Volga Soft", owner_id=ids["telemarketer"])
        db.session.add_all([theirs, mine])
        db.session.flush()
        db.session.add_all([
            Contact(customer_id=theirs.id, name="Buyer", phone="+7 (912) 000-11-22"),
            Contact(customer_id=theirs.id, name="Boss", phone="+7 912 333 44 55",
                    decision_maker=True),
            QueueItem(owner_id=ids["telemarketer"], customer_id=theirs.id, position=1),
            QueueItem(owner_id=ids["telemarketer"], customer_id=mine.id, phone="8 800 100",
                      position=2)])
        db.session.commit()
        theirs_id, mine_id = theirs.id, mine.id
    telemarketer = client_as(app, "telemarketer")
    for page in ("/calls/", "/"):
        html = telemarketer.get(page).get_data(as_text=True)
        assert "Ural Trans" in html and f'/customers/{theirs_id}"' not in html
        assert 'href="tel:+79123334455"' in html  # the decision maker's number first
        assert f'href="/customers/{mine_id}"' in html and 'href="tel:8800100"' in html
    assert telemarketer.get(f"/customers/{theirs_id}").status_code == 404
    call_page = telemarketer.get("/calls/log?queue_item=1").get_data(as_text=True)
    assert "Ural Trans" in call_page and f"/customers/{theirs_id}" not in call_page
    assert 'href="tel:+79120001122"' in call_page


def _csrf(html: str) -> str:
    import re

    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


@pytest.mark.parametrize(("lang", "sign_in", "customers"),
                         [("ru", "Войти", "Клиенты"), ("zh_Hans", "登录", "客户")])
def test_the_language_chosen_on_the_sign_in_page_survives_signing_in(make_app, lang, sign_in,
                                                                     customers):
    from conveyor.extensions import db
    from conveyor.models import User
    from conveyor.testing import PASSWORD

    app = make_app()
    client = app.test_client()
    page = client.get("/login?next=/customers/").get_data(as_text=True)
    # The sign-in page's language links keep where the person was going.
    assert f'href="/login?next=/customers/&amp;lang={lang}"' in page
    page = client.get(f"/login?next=/customers/&lang={lang}").get_data(as_text=True)
    assert sign_in in page
    response = client.post(f"/login?next=/customers/&lang={lang}", data={
        "username": "seller", "password": PASSWORD, "csrf_token": _csrf(page)})
    assert response.status_code == 302 and response.headers["Location"] == "/customers/"
    assert customers in client.get("/customers/").get_data(as_text=True).split("<h1")[1]
    with app.app_context():
        assert db.session.get(User, app.config["TEST_USER_IDS"]["seller"]).locale == lang


def test_signing_in_without_choosing_keeps_the_persons_own_language(make_app):
    from conveyor.extensions import db
    from conveyor.models import User
    from conveyor.testing import PASSWORD

    app = make_app()
    with app.app_context():
        db.session.get(User, app.config["TEST_USER_IDS"]["seller"]).locale = "ru"
        db.session.commit()
    client = app.test_client()
    page = client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    client.post("/login", data={"username": "seller", "password": PASSWORD,
                                "csrf_token": _csrf(page)})
    assert "Клиенты" in client.get("/customers/").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, app.config["TEST_USER_IDS"]["seller"]).locale == "ru"


def test_someone_without_a_language_setting_is_notified_in_their_browsers_language(make_app):
    """Notifications are written while the person is away: without a setting of their own, the
    language their browser asked for at sign-in is used — and it does not become their setting."""
    from conveyor import notify
    from conveyor.extensions import db
    from conveyor.i18n import _l
    from conveyor.models import Notification, User
    from conveyor.testing import PASSWORD

    app = make_app()
    seller_id = app.config["TEST_USER_IDS"]["seller"]
    client = app.test_client()
    page = client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    client.post("/login", headers={"Accept-Language": "zh-CN"},
                data={"username": "seller", "password": PASSWORD, "csrf_token": _csrf(page)})
    with app.app_context():
        seller = db.session.get(User, seller_id)
        assert (seller.locale, seller.browser_locale) == (None, "zh_Hans")
        notify(seller_id, _l("You are signed out."))
        db.session.commit()
        assert db.session.scalar(db.select(Notification.message).where(
            Notification.user_id == seller_id)) == "您已退出登录。"
