"""Bad input to the activities' API, forms and calendar is a 4xx naming the field, never a 500,
and writes nothing; another seller's activity, customer or deal is a 404, never its data."""
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

from .conftest import _make_activity

GOOD = {"kind": "call", "title": "Call back", "due_at": "2030-01-10T09:00:00Z"}
HUGE = 10 ** 30


@pytest.mark.parametrize(("change", "field"), [
    ({"kind": "meeting-with-aliens"}, "kind"), ({"kind": ""}, "kind"), ({"kind": 7}, "kind"),
    ({"title": ""}, "title"), ({"title": "x" * 201}, "title"), ({"title": None}, "title"),
    ({"title": ["a"]}, "title"), ({"due_at": "2030-01-10T09:00:00"}, "due_at"),  # no zone
    ({"due_at": "9999-12-31T23:59:59Z"}, "due_at"), ({"due_at": "2030-02-30T09:00:00Z"},
                                                      "due_at"),
    ({"due_at": "tomorrow"}, "due_at"), ({"due_at": 1893456000}, "due_at"),
    ({"duration_minutes": -1}, "duration_minutes"), ({"duration_minutes": HUGE},
                                                     "duration_minutes"),
    ({"duration_minutes": "half an hour"}, "duration_minutes"),
    ({"reminder_minutes": -5}, "reminder_minutes"), ({"progress": 101}, "progress"),
    ({"customer_id": 0}, "customer_id"), ({"customer_id": HUGE}, "customer_id"),
    ({"customer_id": 999_999}, "customer_id"), ({"deal_id": 999_999}, "deal_id"),
    ({"deal_id": "1; drop table activities"}, "deal_id"), ({"assignee_id": 999_999},
                                                           "assignee_id"),
    ({"status": "maybe"}, "status"), ({"visit_kind": "<script>"}, "visit_kind"),
    ({"notes": "x" * 5001}, "notes"), ({"colour": "red"}, "colour"),
])
def test_the_api_names_the_field_and_writes_nothing(app: Any, api_headers: Any,
                                                      change: dict[str, Any], field: str) -> None:
    with writes_nothing(app):
        assert_field_refused(app.test_client().post(
            "/api/v1/activities/", json={**GOOD, **change}, headers=api_headers("seller")), field)


@pytest.mark.parametrize(("raw", "content_type"), NOT_JSON_OBJECTS)
def test_the_api_refuses_what_is_not_a_json_object(app: Any, api_headers: Any, raw: str,
                                                    content_type: str) -> None:
    with writes_nothing(app):
        assert_not_a_json_object_refused(app.test_client().post(
            "/api/v1/activities/", data=raw, content_type=content_type,
            headers=api_headers("seller")))


def test_records_of_another_team_are_neither_linked_nor_shown(app: Any, api_headers: Any,
                                                              login_as: Any,
                                                              records: dict[str, int]) -> None:
    client = app.test_client()
    theirs = _make_activity(app, "seller3")
    before = row_counts(app)
    for body, field in (({**GOOD, "customer_id": records["seller3_customer"]}, "customer_id"),
                        ({**GOOD, "deal_id": records["seller3_deal"]}, "deal_id")):
        assert_field_refused(client.post("/api/v1/activities/", json=body,
                                         headers=api_headers("seller")), field)
    headers = api_headers("seller")
    assert client.get(f"/api/v1/activities/{theirs}", headers=headers).status_code == 404
    assert client.patch(f"/api/v1/activities/{theirs}", json={"title": "Mine now"},
                        headers=headers).status_code == 404
    assert client.post(f"/api/v1/activities/{theirs}/done", json={},
                       headers=headers).status_code == 404
    browser = login_as("seller")
    for url in (f"/activities/{theirs}/edit", f"/activities/{theirs}/done",
                f"/activities/{theirs}/cancel", f"/activities/{theirs}/reschedule"):
        response = browser.post(url, data={"title": "Mine now", "how": "tomorrow"})
        assert response.status_code in (403, 404), url
    # The form's heading names the linked records: not another team's, whatever the address.
    page = browser.get(f"/activities/new?customer_id={records['seller3_customer']}"
                       f"&deal_id={records['seller3_deal']}").get_data(as_text=True)
    assert "Customer of seller3" not in page and "Deal of seller3" not in page
    assert row_counts(app) == before


@pytest.mark.parametrize(("field", "value"), [
    ("customer_id", "99999999999999999999"), ("deal_id", "-99999999999999999999"),
    ("duration_minutes", "99999999999999999999"), ("progress", "-1"),
    ("reminder_minutes", "many"), ("kind", "<script>alert(1)</script>"),
    ("due_at", "9999-12-31T23:59"), ("due_at", "2030-02-30T09:00"), ("title", ""),
    ("title", "x" * 201), ("assignee_id", "99999999999999999999"),
])
def test_the_form_shows_a_field_error_and_writes_nothing(app: Any, login_as: Any, field: str,
                                                         value: str) -> None:
    form = {"kind": "call", "title": "Call back", "due_at": "2030-01-10T09:00",
            "duration_minutes": "30", field: value}
    for url in ("/activities/new", f"/activities/{_make_activity(app, 'seller')}/edit"):
        with writes_nothing(app):
            response = login_as("seller").post(url, data=form)
            page = response.get_data(as_text=True)
            assert response.status_code == 400, (url, field, value)
            assert "field-error" in page and "<script>alert(1)</script>" not in page


def test_a_field_the_form_does_not_show_cannot_refuse_it(app: Any, login_as: Any) -> None:
    """Without the leads plugin the lead field is not on the form: a stray value is ignored,
    not a 400 with no message on the page."""
    response = login_as("seller").post("/activities/new", data={
        "kind": "call", "title": "Call back", "due_at": "2030-01-10T09:00", "lead_id": "1e9"})
    assert response.status_code == 302


def test_a_series_needs_a_sensible_interval(app: Any, login_as: Any) -> None:
    with writes_nothing(app):
        for interval in ("0", "-1", "366", "99999999999999999999", "weekly"):
            response = login_as("seller").post("/activities/new", data={
                "kind": "call", "title": "Stand-up", "due_at": "2030-01-10T09:00",
                "frequency": "weeks", "interval": interval})
            assert response.status_code == 400 and "field-error" in response.get_data(
                as_text=True)


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2030-02-30", "today", "1" * 50])
@pytest.mark.parametrize("view", ["week", "month"])
def test_the_calendar_refuses_a_day_it_cannot_show(app: Any, login_as: Any, day: str,
                                                   view: str) -> None:
    response = login_as("seller").get(f"/activities/calendar?view={view}&date={day}")
    assert response.status_code == 400


@pytest.mark.parametrize("query", [
    "after_id=1&after_due=9999-12-31T23:59:59", "after_id=1&after_due=yesterday",
    "after_id=99999999999999999999&after_due=2030-01-01T00:00:00%2B00:00", "when=<script>",
    "customer_id=-1", "deal_id=99999999999999999999"])
def test_the_list_filters_never_fail(app: Any, login_as: Any, query: str) -> None:
    response = login_as("seller").get(f"/activities/?{query}")
    assert response.status_code in (200, 400)
    assert "<script>" not in response.get_data(as_text=True).split("<main", 1)[-1]
