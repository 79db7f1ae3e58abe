"""Bad input to the discussions — the posts API, the thread's forms — is a 4xx naming the
field, never a 500, and writes nothing; a thread of a record the user may not see is a 404, and
HTML in a post is shown as text."""
from __future__ import annotations

from typing import Any

import pytest
from conveyor import create_customer, create_deal
from conveyor.extensions import db
from conveyor.models import User
from conveyor.testing import (
    NOT_JSON_OBJECTS,
    assert_field_refused,
    assert_not_a_json_object_refused,
    row_counts,
    writes_nothing,
)


@pytest.fixture
def deals(app: Any, users: dict[str, int]) -> dict[str, int]:
    """A deal of seller and one of seller3 (another team)."""
    out = {}
    with app.app_context():
        for name in ("seller", "seller3"):
            user = db.session.get(User, users[name])
            customer = create_customer({"name": f"Customer of {name}"}, user)
            out[name] = create_deal({"title": f"Deal of {name}", "customer_id": customer.id},
                                    user).id
        db.session.commit()
    return out


@pytest.mark.parametrize(("body", "field"), [
    ({}, "body"), ({"body": ""}, "body"), ({"body": "   "}, "body"), ({"body": None}, "body"),
    ({"body": 42}, "body"), ({"body": ["hi"]}, "body"), ({"body": "x" * 20_001}, "body"),
    ({"body": "hi", "reply_to": 999_999}, "reply_to"), ({"body": "hi", "reply_to": -1},
                                                         "reply_to"),
    ({"body": "hi", "reply_to": "first"}, "reply_to"), ({"body": "hi", "reply_to": 10 ** 30},
                                                         "reply_to"),
    ({"body": "hi", "pinned": True}, "pinned"),
])
def test_posting_names_the_field_and_writes_nothing(app: Any, api_headers: Any,
                                                    deals: dict[str, int], body: dict[str, Any],
                                                    field: str) -> None:
    with writes_nothing(app):
        assert_field_refused(app.test_client().post(
            f"/api/v1/deals/{deals['seller']}/posts", json=body, headers=api_headers("seller")),
            field)


@pytest.mark.parametrize(("raw", "content_type"), NOT_JSON_OBJECTS)
def test_a_body_that_is_not_a_json_object_is_refused(app: Any, api_headers: Any,
                                                     deals: dict[str, int], raw: str,
                                                     content_type: str) -> None:
    with writes_nothing(app):
        assert_not_a_json_object_refused(app.test_client().post(
            f"/api/v1/deals/{deals['seller']}/posts", data=raw, content_type=content_type,
            headers=api_headers("seller")))


@pytest.mark.parametrize("resource", ["nothing", "users", "api_tokens", "<script>", "deal"])
def test_an_unknown_kind_of_record_is_a_404(app: Any, api_headers: Any, login_as: Any,
                                            deals: dict[str, int], resource: str) -> None:
    client = app.test_client()
    assert client.post(f"/api/v1/{resource}/1/posts", json={"body": "hi"},
                       headers=api_headers("seller")).status_code == 404
    assert login_as("seller").get(f"/discussions/{resource}/1").status_code == 404


def test_another_teams_thread_is_a_404_everywhere(app: Any, api_headers: Any, login_as: Any,
                                                  deals: dict[str, int]) -> None:
    client = app.test_client()
    theirs = deals["seller3"]
    post = client.post(f"/api/v1/deals/{theirs}/posts", json={"body": "Private numbers"},
                       headers=api_headers("seller3")).get_json()
    before = row_counts(app)
    headers = api_headers("seller")
    assert client.get(f"/api/v1/deals/{theirs}/posts", headers=headers).status_code == 404
    assert client.post(f"/api/v1/deals/{theirs}/posts", json={"body": "hi"},
                       headers=headers).status_code == 404
    assert client.post(f"/api/v1/deals/{theirs}/follow", headers=headers).status_code == 404
    assert client.get(f"/api/v1/posts/{post['id']}", headers=headers).status_code == 404
    assert client.patch(f"/api/v1/posts/{post['id']}", json={"body": "mine"},
                        headers=headers).status_code == 404
    assert client.delete(f"/api/v1/posts/{post['id']}", headers=headers).status_code == 404
    browser = login_as("seller")
    page = browser.get(f"/discussions/deals/{theirs}")
    assert page.status_code == 404 and "Private numbers" not in page.get_data(as_text=True)
    for url in (f"/discussions/deals/{theirs}/posts", f"/discussions/deals/{theirs}/follow",
                f"/discussions/posts/{post['id']}/edit", f"/discussions/posts/{post['id']}/delete"):
        assert browser.post(url, data={"body": "mine"}).status_code == 404, url
    assert "Private numbers" not in browser.get("/discussions/").get_data(as_text=True)
    assert row_counts(app) == before


def test_someone_elses_post_cannot_be_edited(app: Any, api_headers: Any, login_as: Any,
                                             deals: dict[str, int]) -> None:
    client = app.test_client()
    post = client.post(f"/api/v1/deals/{deals['seller']}/posts", json={"body": "Mine"},
                       headers=api_headers("seller")).get_json()
    response = client.patch(f"/api/v1/posts/{post['id']}", json={"body": "Theirs"},
                            headers=api_headers("seller2"))
    assert response.status_code in (403, 404)
    assert login_as("seller2").post(f"/discussions/posts/{post['id']}/edit",
                                    data={"body": "Theirs"}).status_code in (403, 404)
    assert client.get(f"/api/v1/posts/{post['id']}", headers=api_headers("seller")
                      ).get_json()["body"] == "Mine"


@pytest.mark.parametrize("body", ["", "   ", "x" * 20_001])
def test_the_thread_form_shows_the_field_error(app: Any, login_as: Any, deals: dict[str, int],
                                               body: str) -> None:
    with writes_nothing(app):
        response = login_as("seller").post(f"/discussions/deals/{deals['seller']}/posts",
                                           data={"body": body})
        assert response.status_code == 422 and "field-error" in response.get_data(as_text=True)


def test_html_in_a_post_is_text(app: Any, api_headers: Any, login_as: Any,
                                deals: dict[str, int]) -> None:
    hostile = '<script>alert(1)</script> <img src=x onerror=alert(2)> [a](javascript:alert(3))'
    created = app.test_client().post(f"/api/v1/deals/{deals['seller']}/posts",
                                     json={"body": hostile}, headers=api_headers("seller"))
    assert created.status_code == 201
    html = created.get_json()["html"]
    assert "<script" not in html and "<img" not in html and 'href="javascript:' not in html
    page = login_as("seller").get(f"/discussions/deals/{deals['seller']}").get_data(as_text=True)
    assert "<script>alert(1)" not in page, page[page.index("<script>alert(1)") - 300:][:600]
    assert "<img src=x" not in page and 'href="javascript:' not in page
