"""The web screens: My day, the cards' panels, one-click done and reschedule, the list and form,
the manager's home, the stage move with its next step."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conveyor.testing import client_as, csrf_of


def _today_at(hour: int, zone: str = "UTC") -> datetime:
    local = datetime.now(ZoneInfo(zone)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


def test_my_day_shows_overdue_in_red_todays_tasks_and_deals_without_a_next_step(
        app, login_as, records, make_activity):
    make_activity("seller", title="Overdue call", due_at=_today_at(9) - timedelta(days=2))
    make_activity("seller", kind="visit", title="Visit today", due_at=_today_at(23, "UTC"),
                  deal_id=records["seller_deal"])
    make_activity("seller", title="Next week", due_at=_today_at(9) + timedelta(days=7))
    make_activity("seller2", title="Not mine", due_at=_today_at(10))
    page = login_as("seller").get("/").get_data(as_text=True)
    assert 'id="widget-activities-my-day"' in page
    overdue = page.split('id="my-day-overdue"')[1].split("</ul>")[0]
    assert "Overdue call" in overdue and 'class="tag lost overdue"' in overdue
    today = page.split('id="my-day-today"')[1].split("</ul>")[0]
    assert "Visit today" in today
    assert "Next week" not in page and "Not mine" not in page
    assert "Visits today: 0 held of 8 (1 planned)" in page  # the seller's daily standard
    # The seller's only deal has its next step: none listed without one.
    assert "Every open deal has its next step." in page


def test_deals_without_a_next_step_on_the_sellers_and_the_managers_home(app, login_as, records):
    seller_home = login_as("seller").get("/").get_data(as_text=True)
    section = seller_home.split('id="my-day-no-next-step"')[1].split("</ul>")[0]
    assert "Deal of seller" in section and "Deal of seller2" not in section
    manager_home = login_as("manager").get("/").get_data(as_text=True)
    team = manager_home.split('id="team-no-next-step"')[1].split("</ul>")[0]
    assert "Deal of seller<" in team.replace("</a>", "<") and "Deal of seller2" in team
    assert "Deal of seller3" not in team  # another team
    assert 'id="team-visits"' in manager_home


def test_one_click_done_from_my_day(app, login_as, make_activity, api_headers):
    activity = make_activity("seller", title="Call the buyer", due_at=_today_at(23))
    client = login_as("seller")
    token = csrf_of(client.get("/").get_data(as_text=True))
    response = client.post(f"/activities/{activity}/done",
                           data={"csrf_token": token, "next": "/"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/")
    got = app.test_client().get(f"/api/v1/activities/{activity}",
                                headers=api_headers("seller")).json
    assert got["status"] == "done"


def test_forms_without_the_csrf_token_are_refused(app, login_as, make_activity, api_headers):
    activity = make_activity("seller", title="Call the buyer", due_at=_today_at(23))
    client = client_as(app, "seller")  # login_as's clients send the token; this one does not
    assert client.post(f"/activities/{activity}/reschedule",
                       data={"how": "tomorrow"}).status_code in (302, 303, 400)
    assert client.post(f"/activities/{activity}/done", data={}).status_code in (303, 400)
    assert client.post("/activities/new", data={"kind": "call", "title": "x",
                                                "due_at": "2030-01-01T09:00"}).status_code == 400
    got = app.test_client().get(f"/api/v1/activities/{activity}",
                                headers=api_headers("seller")).json
    assert got["status"] == "planned"
    assert got["due_at"] == make_due(_today_at(23))


def make_due(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@pytest.mark.parametrize("how, days", [("tomorrow", 1), ("monday", None), ("date", None)])
def test_reschedule_keeps_the_local_time_of_day(app, login_as, make_activity, set_user,
                                                 api_headers, how, days):
    set_user("seller", timezone="Europe/Berlin")
    due = datetime(2030, 3, 29, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # a Friday, before DST
    activity = make_activity("seller", title="Weekly call", due_at=due)
    client = login_as("seller")
    token = csrf_of(client.get("/activities/?status=planned&when=").get_data(as_text=True))
    data = {"csrf_token": token, "how": how}
    if how == "date":
        data["on"] = "2030-04-10"
    assert client.post(f"/activities/{activity}/reschedule", data=data).status_code == 303
    got = app.test_client().get(f"/api/v1/activities/{activity}",
                                headers=api_headers("seller")).json["due_at"]
    expected = {"tomorrow": "2030-03-30T09:00:00+01:00",
                "monday": "2030-04-01T09:00:00+02:00",  # after the change: still 09:00 local
                "date": "2030-04-10T09:00:00+02:00"}[how]
    assert got == expected


def test_the_deal_card_has_the_next_step_panel_with_a_quick_add_form(app, login_as, records,
                                                                      api_headers):
    client = login_as("seller")
    card = client.get(f"/deals/{records['seller_deal']}").get_data(as_text=True)
    assert 'id="panel-activities-deal-next-step"' in card
    assert "No next step planned." in card
    token = csrf_of(card.split('id="panel-activities-deal-next-step"')[1])
    response = client.post("/activities/quick", data={
        "csrf_token": token, "kind": "meeting", "title": "Present the offer",
        "due_at": "2030-02-02T11:00", "deal_id": records["seller_deal"],
        "next": f"/deals/{records['seller_deal']}"})
    assert response.status_code == 303
    card = client.get(f"/deals/{records['seller_deal']}").get_data(as_text=True)
    panel = card.split('id="panel-activities-deal-next-step"')[1].split("</section>")[0]
    assert "Present the offer" in panel
    items = app.test_client().get(f"/api/v1/activities/?deal_id={records['seller_deal']}",
                                  headers=api_headers("seller")).json["items"]
    assert items[0]["customer_id"] == records["seller_customer"]


def test_the_customer_card_lists_its_next_steps(app, login_as, records, make_activity):
    make_activity("seller", title="Visit the warehouse", kind="visit",
                  customer_id=records["seller_customer"])
    card = login_as("seller").get(f"/customers/{records['seller_customer']}").get_data(
        as_text=True)
    panel = card.split('id="panel-activities-customer-next-step"')[1].split("</section>")[0]
    assert "Visit the warehouse" in panel


def test_a_quick_add_on_someone_elses_deal_is_refused(app, login_as, records, api_headers):
    client = login_as("seller")
    token = csrf_of(client.get(f"/deals/{records['seller_deal']}").get_data(as_text=True))
    client.post("/activities/quick", data={
        "csrf_token": token, "kind": "call", "title": "Sneak", "due_at": "2030-02-02T11:00",
        "deal_id": records["seller2_deal"]})
    assert app.test_client().get("/api/v1/activities/", headers=api_headers("admin")
                                 ).json["items"] == []


def test_the_form_shows_field_errors_and_keeps_nothing(app, login_as, api_headers):
    client = login_as("seller")
    token = csrf_of(client.get("/activities/new").get_data(as_text=True))
    response = client.post("/activities/new", data={
        "csrf_token": token, "kind": "call", "title": "", "due_at": "not a date",
        "interval": 1})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert page.count('class="field-error"') >= 2
    assert app.test_client().get("/api/v1/activities/", headers=api_headers("seller")
                                 ).json["items"] == []


def test_the_list_and_the_edit_form_respect_record_rules(app, login_as, make_activity):
    mine = make_activity("seller", title="Mine")
    theirs = make_activity("seller3", title="Theirs")
    client = login_as("seller")
    page = client.get("/activities/?assignee=all&status=any").get_data(as_text=True)
    assert "Mine" in page and "Theirs" not in page
    assert client.get(f"/activities/{mine}/edit").status_code == 200
    assert client.get(f"/activities/{theirs}/edit").status_code == 404


def test_editing_closes_an_activity_with_its_result(app, login_as, make_activity, api_headers):
    activity = make_activity("seller", title="Negotiate", kind="meeting")
    client = login_as("seller")
    page = client.get(f"/activities/{activity}/edit").get_data(as_text=True)
    response = client.post(f"/activities/{activity}/edit", data={
        "csrf_token": csrf_of(page), "kind": "meeting", "title": "Negotiate",
        "due_at": "2030-01-10T09:00", "status": "done", "result": "Agreed on price",
        "duration_minutes": 60, "reminder_minutes": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    got = app.test_client().get(f"/api/v1/activities/{activity}",
                                headers=api_headers("seller")).json
    assert (got["status"], got["result"]) == ("done", "Agreed on price")


def test_a_stage_move_asks_for_the_next_step_in_the_same_form(make_app, records_factory):
    app = make_app(plugins=["activities"], config={"activities": {"ask_next_step_at": "20"}})
    records = records_factory(app)
    client = client_as(app, "seller")
    card = client.get(f"/deals/{records['seller_deal']}").get_data(as_text=True)
    assert 'id="move-with-step"' in card
    form = card.split('id="move-with-step"')[1]
    stage_id = int(form.split('<option value="')[1].split('"')[0])
    response = client.post(f"/activities/deals/{records['seller_deal']}/move", data={
        "csrf_token": csrf_of(card), "stage_id": stage_id, "kind": "call",
        "title": "Call about the proposal", "due_at": "2030-02-02T10:00"})
    assert response.status_code == 303
    card = client.get(f"/deals/{records['seller_deal']}").get_data(as_text=True)
    assert "Call about the proposal" in card
    assert "20%" in card.split('id="current-stage"')[1].split("</span>")[0] or \
        "Proposal" in card.split('id="current-stage"')[1].split("</span>")[0]
    # Without the next step, nothing moves and nothing is planned.
    response = client.post(f"/activities/deals/{records['seller_deal']}/move", data={
        "csrf_token": csrf_of(card), "stage_id": stage_id, "kind": "call", "title": "",
        "due_at": "2030-02-02T10:00"})
    assert response.status_code == 303


def test_the_screens_fit_a_phone_and_carry_no_inline_script(app, login_as, records,
                                                           make_activity):
    make_activity("seller", title="Call", due_at=_today_at(12))
    client = login_as("seller")
    for url in ("/", "/activities/", "/activities/new", "/activities/calendar",
                "/activities/calendar?view=month", f"/deals/{records['seller_deal']}",
                "/activities/feed"):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert "<script>" not in html and " onclick=" not in html and " onsubmit=" not in html

