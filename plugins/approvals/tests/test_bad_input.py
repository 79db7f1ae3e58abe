"""Bad input to approvals — asking, deciding, withdrawing, through the API and the pages — is a
4xx naming the field, never a 500, and writes nothing; a request about a record the user may
not see is a 404, never its title."""
from __future__ import annotations

from typing import Any

import pytest
from conveyor.testing import (
    NOT_JSON_OBJECTS,
    assert_field_refused,
    assert_not_a_json_object_refused,
    row_counts,
    writes_nothing,
)

from .conftest import make_deal


def a_request(app: Any, memos: Any, client: Any, headers: Any, owner: str = "seller") -> int:
    memo = memos.add(make_deal(app, owner), b"v1")
    response = client.post("/api/v1/approvals", json={"resource": "memo", "record_id": memo.id},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


@pytest.mark.parametrize(("body", "field"), [
    ({"record_id": 1}, "resource"), ({"resource": "", "record_id": 1}, "resource"),
    ({"resource": "nothing", "record_id": 1}, "resource"),
    ({"resource": "<script>", "record_id": 1}, "resource"),
    ({"resource": "x" * 61, "record_id": 1}, "resource"), ({"resource": 5, "record_id": 1},
                                                           "resource"),
    ({"resource": "memo"}, "record_id"), ({"resource": "memo", "record_id": 0}, "record_id"),
    ({"resource": "memo", "record_id": -3}, "record_id"),
    ({"resource": "memo", "record_id": 10 ** 30}, "record_id"),
    ({"resource": "memo", "record_id": "one"}, "record_id"),
    ({"resource": "memo", "record_id": 999_999}, "record_id"),
    ({"resource": "memo", "record_id": 1, "note": "x" * 2001}, "note"),
    ({"resource": "memo", "record_id": 1, "approver": {"rule": "anyone"}}, "approver"),
    ({"resource": "memo", "record_id": 1, "approver": {"rule": "role"}}, "approver"),
    ({"resource": "memo", "record_id": 1, "approver": {"rule": "user", "user_id": -1}},
     "approver"),
    ({"resource": "memo", "record_id": 1, "approver": "the lawyer"}, "approver"),
    ({"resource": "memo", "record_id": 1, "status": "approved"}, "status"),
])
def test_asking_names_the_field_and_writes_nothing(app: Any, memos: Any, client: Any,
                                                   api_headers: Any, body: dict[str, Any],
                                                   field: str) -> None:
    memos.add(make_deal(app), b"v1")
    with writes_nothing(app):
        response = client.post("/api/v1/approvals", json=body, headers=api_headers("seller"))
        assert response.status_code in (404, 422), response.get_json()
        if response.status_code == 422:
            assert_field_refused(response, field)


@pytest.mark.parametrize(("action", "body", "field"), [
    ("request-changes", {}, "comment"), ("request-changes", {"comment": ""}, "comment"),
    ("request-changes", {"comment": "x" * 2001}, "comment"),
    ("approve", {"comment": ["fine"]}, "comment"), ("approve", {"verdict": "yes"}, "verdict"),
    ("approve", {"comment": "x" * 2001}, "comment"),
])
def test_deciding_names_the_field_and_writes_nothing(app: Any, memos: Any, client: Any,
                                                     api_headers: Any, action: str,
                                                     body: dict[str, Any], field: str) -> None:
    request_id = a_request(app, memos, client, api_headers("seller"))
    headers = api_headers("lawyer")
    with writes_nothing(app):
        assert_field_refused(client.post(f"/api/v1/approvals/{request_id}/{action}", json=body,
                                         headers=headers), field)


@pytest.mark.parametrize(("raw", "content_type"), NOT_JSON_OBJECTS)
def test_a_body_that_is_not_a_json_object_is_refused(app: Any, client: Any, api_headers: Any,
                                                     raw: str, content_type: str) -> None:
    headers = api_headers("seller")
    with writes_nothing(app):
        assert_not_a_json_object_refused(client.post(
            "/api/v1/approvals", data=raw, content_type=content_type, headers=headers))


def test_who_may_not_decide_gets_a_refusal_not_a_decision(app: Any, memos: Any, client: Any,
                                                          api_headers: Any,
                                                          login_as: Any) -> None:
    request_id = a_request(app, memos, client, api_headers("seller3"), owner="seller3")
    before = row_counts(app)
    for who in ("seller", "seller2", "marketer"):  # not the approver, not the requester
        for action in ("approve", "request-changes", "withdraw"):
            response = client.post(f"/api/v1/approvals/{request_id}/{action}",
                                   json={"comment": "x"}, headers=api_headers(who))
            assert response.status_code in (403, 404), (who, action, response.status_code)
            page = login_as(who).post(f"/approvals/{request_id}/{action}",
                                      data={"comment": "x"})
            assert page.status_code in (403, 404), (who, action, page.status_code)
    assert row_counts(app) == before
    queue = client.get("/api/v1/approvals?status=pending", headers=api_headers("seller"))
    assert queue.status_code == 200 and all(
        row["id"] != request_id for row in queue.get_json()["items"])


@pytest.mark.parametrize("query", ["status=maybe", "page_size=0", "page_size=100000",
                                   "page_size=-1", "after=abc", "mine=perhaps"])
def test_the_queue_refuses_bad_filters(app: Any, client: Any, api_headers: Any,
                                       query: str) -> None:
    response = client.get(f"/api/v1/approvals?{query}", headers=api_headers("lawyer"))
    assert response.status_code == 422 and response.get_json()["errors"]


@pytest.mark.parametrize(("url", "form"), [
    ("/approvals/request/nothing/1", {"note": "x"}),
    ("/approvals/request/memo/999999", {"note": "x"}),
    ("/approvals/request/memo/1", {"note": "x" * 2001}),
])
def test_the_request_form_never_fails(app: Any, memos: Any, login_as: Any, url: str,
                                      form: dict[str, str]) -> None:
    memos.add(make_deal(app), b"v1")
    browser = login_as("seller")
    with writes_nothing(app):
        assert browser.post(url, data=form).status_code in (400, 404, 422)
