"""Bad input to every documents endpoint — the API, the document page's forms, our company's
and a customer's legal details — is a 4xx naming the field, never a 500, and writes nothing; a
document of a deal the user may not see is a 404."""
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

HUGE = 10 ** 30


def a_document(client: Any, api_headers: Any, deal_id: int, owner: str = "seller") -> int:
    response = client.post(f"/api/v1/deals/{deal_id}/documents", headers=api_headers(owner),
                           json={"kind": "invoice"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


LINE = {"name": "Licence", "quantity": "1", "price": "10.00", "vat_rate": "20"}


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "letter"}, "kind"), ({"kind": None}, "kind"), ({"kind": ["invoice"]}, "kind"),
    ({"kind": "invoice", "language": "xx"}, "language"),
    ({"kind": "invoice", "language": "<script>"}, "language"),
    ({"kind": "invoice", "template_id": -1}, "template_id"),
    ({"kind": "invoice", "template_id": HUGE}, "template_id"),
    ({"kind": "invoice", "lines": "one"}, "lines"),
    ({"kind": "invoice", "lines": [{**LINE, "quantity": "-1"}]}, "lines"),
    ({"kind": "invoice", "lines": [{**LINE, "quantity": "0"}]}, "lines"),
    ({"kind": "invoice", "lines": [{**LINE, "quantity": "0.000"}]}, "lines"),
    ({"kind": "invoice", "lines": [{**LINE, "price": "NaN"}]}, "lines"),
    ({"kind": "invoice", "lines": [{**LINE, "price": "1e400"}]}, "lines"),
    ({"kind": "invoice", "lines": [{**LINE, "vat_rate": "120"}]}, "lines"),
    ({"kind": "invoice", "lines": [{**LINE, "name": ""}]}, "lines"),
    ({"kind": "invoice", "lines": [{**LINE, "name": "x" * 100_000}]}, "lines"),
    ({"kind": "invoice", "lines": [LINE] * 101}, "lines"),
    ({"kind": "invoice", "flavour": "vanilla"}, "flavour"),
])
def test_creating_names_the_field_and_writes_nothing(app: Any, client: Any, api_headers: Any,
                                                     deal_of: Any, body: dict[str, Any],
                                                     field: str) -> None:
    deal_id = deal_of("seller")
    with writes_nothing(app):
        assert_field_refused(client.post(f"/api/v1/deals/{deal_id}/documents", json=body,
                                         headers=api_headers("seller")), field)


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("PUT", "lines", {"lines": []}, "lines"),
    ("PUT", "lines", {"lines": [{**LINE, "quantity": "abc"}]}, "lines"),
    ("PUT", "lines", {"lines": [{**LINE, "quantity": "0"}]}, "quantity"),
    ("PUT", "lines", {"lines": [{**LINE, "price": "-0.01"}]}, "lines"),
    ("PUT", "lines", {"lines": [{**LINE, "quantity": "1000000000", "price": "99999999999"}]},
     "lines"),
    ("PUT", "lines", {"lines": None}, "lines"),
    ("POST", "send", {"to": "not an address"}, "to"), ("POST", "send", {"to": ""}, "to"),
    ("POST", "send", {"to": "a@b.co" + "m" * 300}, "to"), ("POST", "send", {}, "to"),
    ("POST", "status", {"action": "burn"}, "action"), ("POST", "status", {}, "action"),
    ("POST", "status", {"action": "cancel", "note": "x" * 2001}, "note"),
])
def test_changing_names_the_field_and_writes_nothing(app: Any, client: Any, api_headers: Any,
                                                     deal_of: Any, method: str, path: str,
                                                     body: dict[str, Any], field: str) -> None:
    document_id = a_document(client, api_headers, deal_of("seller"))
    with writes_nothing(app):
        response = client.open(f"/api/v1/documents/{document_id}/{path}", method=method,
                               json=body, headers=api_headers("seller"))
        assert response.status_code == 422, response.get_json()
        # a line's field is named inside "lines": {"lines": {"0": {"quantity": [...]}}}
        assert field in str(response.get_json()["errors"]["json"])


@pytest.mark.parametrize(("raw", "content_type"), NOT_JSON_OBJECTS)
def test_a_body_that_is_not_a_json_object_is_refused(app: Any, client: Any, api_headers: Any,
                                                     deal_of: Any, raw: str,
                                                     content_type: str) -> None:
    deal_id = deal_of("seller")
    with writes_nothing(app):
        assert_not_a_json_object_refused(client.post(
            f"/api/v1/deals/{deal_id}/documents", data=raw, content_type=content_type,
            headers=api_headers("seller")))


def test_another_teams_document_is_a_404_everywhere(app: Any, client: Any, api_headers: Any,
                                                    login_as: Any, deal_of: Any) -> None:
    theirs = a_document(client, api_headers, deal_of("seller3"), "seller3")
    their_deal = deal_of("seller3")
    before = row_counts(app)
    headers = api_headers("seller")
    assert client.get(f"/api/v1/documents/{theirs}", headers=headers).status_code == 404
    assert client.put(f"/api/v1/documents/{theirs}/lines", json={"lines": [LINE]},
                      headers=headers).status_code == 404
    assert client.post(f"/api/v1/documents/{theirs}/send", json={"to": "x@example.com"},
                       headers=headers).status_code == 404
    assert client.post(f"/api/v1/documents/{theirs}/status", json={"action": "cancel"},
                       headers=headers).status_code == 404
    assert client.post(f"/api/v1/deals/{their_deal}/documents", json={"kind": "invoice"},
                       headers=headers).status_code == 404
    assert client.get(f"/api/v1/deals/{their_deal}/documents", headers=headers
                      ).status_code == 404
    browser = login_as("seller")
    assert browser.get(f"/documents/{theirs}").status_code == 404
    for action in ("finalize", "cancel", "render", "lines", "send", "revision"):
        assert browser.post(f"/documents/{theirs}/{action}", data={"to": "x@example.com"}
                            ).status_code == 404, action
    assert browser.post(f"/documents/deal/{their_deal}/new", data={"kind": "invoice"}
                        ).status_code == 404
    assert row_counts(app) == before


@pytest.mark.parametrize("final", [True, False])
@pytest.mark.parametrize("to", ["not an address", "a@b", "<script>@x.y", "a b@c.de", ""])
def test_the_send_form_refuses_a_bad_address(app: Any, client: Any, api_headers: Any,
                                             login_as: Any, deal_of: Any, to: str,
                                             final: bool) -> None:
    """Was a 500 (WTForms' Email() needs the email_validator package, not installed), then a
    302 with a flash: now the page again, 422, the message at the field (on a draft, where the
    send form is not shown, above the page)."""
    document_id = a_document(client, api_headers, deal_of("seller"))
    if final:
        assert client.post(f"/api/v1/documents/{document_id}/status", json={
            "action": "finalize"}, headers=api_headers("seller")).status_code == 200
    browser = login_as("seller")
    with writes_nothing(app):
        response = browser.post(f"/documents/{document_id}/send", data={"to": to})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter an e-mail address." in page or "This field is required." in page
    assert "<script>@x.y" not in page
    if final:
        form = page[page.index(f'action="/documents/{document_id}/send"'):]
        form = form[:form.index("</form>")]
        assert "field-error" in form and ("Enter an e-mail address." in form
                                          or "This field is required." in form)


@pytest.mark.parametrize(("field", "value"), [
    ("email", "not an address"), ("email", "x" * 300), ("name", "x" * 301), ("kpp", "1" * 10),
    ("tax_id", "9" * 41), ("bank_account", "1" * 100)])
def test_our_company_form_shows_field_errors(app: Any, login_as: Any, field: str,
                                             value: str) -> None:
    browser = login_as("admin")
    assert browser.get("/documents/company").status_code == 200  # the row exists from here on
    before = row_counts(app)
    response = browser.post("/documents/company", data={"name": "Conveyor Ltd", field: value})
    assert response.status_code == 422 and "field-error" in response.get_data(as_text=True)
    assert row_counts(app) == before
    good = browser.post("/documents/company", data={"name": "Conveyor Ltd",
                                                    "email": "billing@conveyor.test"})
    assert good.status_code == 302


@pytest.mark.parametrize(("body", "field"), [
    ({"country": "RU", "inn": "123"}, "inn"), ({"country": "RU", "kpp": "12345678X"}, "kpp"),
    ({"country": "CN", "uscc": "short"}, "uscc"), ({"country": "FR"}, "country"),
    ({"legal_name": "x" * 301}, "legal_name"), ({"address": ["street"]}, "address"),
    ({"bank_account": HUGE}, "bank_account"), ({"owner": "me"}, "owner")])
def test_legal_details_name_the_field(app: Any, client: Any, api_headers: Any, deal_of: Any,
                                      body: dict[str, Any], field: str) -> None:
    deal_of("seller")
    before = row_counts(app)
    response = client.put("/api/v1/customers/1/legal", json=body, headers=api_headers("admin"))
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]["json"]
    assert row_counts(app) == before
