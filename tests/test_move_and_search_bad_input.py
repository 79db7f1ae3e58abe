"""Bad input to the board's JSON move, the deal form's customer suggestions and the header
search: a 4xx (the move names the field), never a 500, no change written; what the user may
not see is neither moved nor suggested nor found."""
from __future__ import annotations

from typing import Any

import pytest

from .test_deals_kanban import history, row, seed, stage_id


@pytest.mark.parametrize(("raw", "field"), [
    ("[2]", None), ('"2"', None), ("3", None), ("{bad", None), ('{"stage_id": "x"}', "stage_id"),
    ('{"stage_id": -1}', "stage_id"), ('{"stage_id": 999999}', "stage_id"), ("{}", "stage_id"),
    ('{"stage_id": 1' + "0" * 40 + "}", "stage_id"), ('{"stage_id": 1' + "0" * 29 + "}",
                                                          "stage_id"),
    ('{"stage_id": true}', "stage_id"), ('{"stage_id": false}', "stage_id"),
    ('{"stage_id": 2.5}', "stage_id"), ('{"stage_id": 2.0}', "stage_id"),
    ('{"stage_id": 2147483648}', "stage_id"), ('{"stage_id": 0}', "stage_id"),
    ('{"stage_id": [2]}', "stage_id"), ('{"stage_id": {"id": 2}}', "stage_id"), ('{"stage_id": STAGE, "version": "x"}', "version"),
    ('{"stage_id": STAGE, "version": -1}', "version"),
])
def test_the_move_refuses_bad_bodies_and_changes_nothing(app: Any, login_as: Any, raw: str,
                                                         field: str | None) -> None:
    _customer, (deal_id,) = seed(app)
    before = row(app, deal_id), history(app, deal_id)
    target = stage_id(app, "Qualified") or 2
    response = login_as("seller").post(f"/deals/{deal_id}/move",
                                       data=raw.replace("STAGE", str(target)),
                                       content_type="application/json")
    assert response.status_code == 400 and response.is_json, response.get_data(as_text=True)
    if field is not None:
        assert field in response.get_json()["errors"]
    assert (row(app, deal_id), history(app, deal_id)) == before


@pytest.mark.parametrize("url", ["/activities/new", "/documents/company", "/admin/rates/",
                                 "/deals/new", "/customers/new", "/profile/"])
@pytest.mark.parametrize("raw", ["[1, 2]", "7", '"text"'])
def test_a_json_body_that_is_not_an_object_is_a_400_on_any_form(make_app: Any, url: str,
                                                                raw: str) -> None:
    """Flask-WTF took such a body as the form's data and failed (TypeError): a 500."""
    from conveyor.testing import client_as

    app = make_app(plugins=["activities", "documents"])
    response = client_as(app, "admin", csrf=True).post(url, data=raw,
                                                       content_type="application/json")
    assert response.status_code == 400


def test_another_teams_deal_is_not_moved(app: Any, login_as: Any) -> None:
    _customer, (deal_id,) = seed(app, owner="seller3")
    before = row(app, deal_id)
    response = login_as("seller").post(f"/deals/{deal_id}/move",
                                       json={"stage_id": stage_id(app, "Qualified") or 2})
    assert response.status_code == 404 and row(app, deal_id) == before


@pytest.mark.parametrize("query", ["", "%00", "<script>alert(1)</script>", "x" * 5000, "%25",
                                   "_", "'", "😀", "a&limit=-1", "a&limit=99999999999999999999"])
@pytest.mark.parametrize("url", ["/deals/customer-suggestions?q=", "/search/?q=",
                                 "/search/suggest?q="])
def test_suggestions_and_search_take_any_text(app: Any, login_as: Any, url: str,
                                              query: str) -> None:
    seed(app, name="Acme")
    response = login_as("seller").get(url + query)
    assert response.status_code in (200, 400, 422)
    if response.mimetype == "text/html":
        assert "<script>alert(1)</script>" not in response.get_data(as_text=True)


def test_suggestions_and_search_keep_to_the_record_rules(app: Any, login_as: Any,
                                                         api_headers: Any) -> None:
    seed(app, owner="seller3", name="Zanzibar Trading")
    assert "Zanzibar Trading" in login_as("seller3").get("/search/?q=Zanzibar").get_data(
        as_text=True)  # it is there to be found
    browser = login_as("seller")
    for url in ("/deals/customer-suggestions?q=Zanzibar", "/search/suggest?q=Zanzibar",
                "/search/?q=Zanzibar"):
        assert "Zanzibar Trading" not in browser.get(url).get_data(as_text=True)
    found = app.test_client().get("/api/v1/search?q=Zanzibar", headers=api_headers("seller"))
    assert found.status_code == 200
    assert not [hit for group in found.get_json()["groups"] for hit in group["hits"]]


@pytest.mark.parametrize("query", ["limit=-1", "limit=99999999999999999999", "kind=zzz",
                                   "page=-1", "offset=x"])
def test_the_search_api_refuses_bad_parameters(app: Any, api_headers: Any, query: str) -> None:
    response = app.test_client().get(f"/api/v1/search?q=a&{query}",
                                     headers=api_headers("seller"))
    assert response.status_code == 422 and response.get_json()["errors"]
