"""The REST API: fields, filters, record rules, bad input and time zones."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conveyor.testing import client_as, csrf_of, token_headers


def test_creating_an_activity_returns_every_field_with_the_due_time_in_the_users_zone(
        app, api_headers, users, records, set_user):
    set_user("seller", timezone="Europe/Moscow")
    response = app.test_client().post("/api/v1/activities/", headers=api_headers("seller"), json={
        "kind": "visit", "title": "Visit the plant", "due_at": "2030-03-04T09:00:00+03:00",
        "deal_id": records["seller_deal"]})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["due_at"] == "2030-03-04T09:00:00+03:00"
    assert body["assignee_id"] == users["seller"]
    assert body["status"] == "planned"
    assert body["deal_id"] == records["seller_deal"]
    assert body["customer_id"] == records["seller_customer"]  # the deal's customer
    assert body["visit_kind"] == "FSI"  # no visit held at this customer yet
    assert {"id", "kind", "title"} <= set(body)


def test_a_task_due_at_nine_in_moscow_is_two_in_the_afternoon_in_beijing_for_a_colleague(
        app, api_headers, users, set_user):
    set_user("seller", timezone="Europe/Moscow")
    set_user("seller2", timezone="Asia/Shanghai")
    # Typed on the web form by the Moscow seller, for the colleague in Beijing.
    client = app.test_client()
    web = client_as(app, "seller")
    page = web.get("/activities/new")
    assert page.status_code == 200
    token = csrf_of(page.get_data(as_text=True))
    response = web.post("/activities/new", data={
        "csrf_token": token, "kind": "call", "title": "Call the Shanghai office",
        "due_at": "2030-03-04T09:00", "assignee_id": users["seller2"], "duration_minutes": 30,
        "reminder_minutes": "", "frequency": "", "interval": 1})
    assert response.status_code == 302, response.get_data(as_text=True)
    got = client.get("/api/v1/activities/?assignee=me",
                     headers=api_headers("seller2")).json["items"]
    assert [a["due_at"] for a in got] == ["2030-03-04T14:00:00+08:00"]
    mine = client.get("/api/v1/activities/", headers=api_headers("seller")).json["items"]
    assert [a["due_at"] for a in mine] == ["2030-03-04T09:00:00+03:00"]  # the creator sees it


def test_a_seller_never_sees_another_sellers_activities(app, api_headers, records, make_activity):
    other = make_activity("seller2", title="Secret of seller2",
                          deal_id=records["seller2_deal"])
    client = app.test_client()
    listed = client.get("/api/v1/activities/", headers=api_headers("seller")).json["items"]
    assert listed == []
    assert client.get(f"/api/v1/activities/{other}",
                      headers=api_headers("seller")).status_code == 404
    assert client.patch(f"/api/v1/activities/{other}", headers=api_headers("seller"),
                        json={"title": "mine now"}).status_code == 404
    assert client.post(f"/api/v1/activities/{other}/done", headers=api_headers("seller"),
                       json={}).status_code == 404


def test_the_manager_sees_the_teams_activities_but_not_another_teams(
        app, api_headers, records, make_activity):
    north = make_activity("seller2", title="North task")
    make_activity("seller3", title="South task")
    listed = app.test_client().get("/api/v1/activities/",
                                   headers=api_headers("manager")).json["items"]
    assert [a["id"] for a in listed] == [north]
    everything = app.test_client().get("/api/v1/activities/",
                                       headers=api_headers("admin")).json["items"]
    assert len(everything) == 2


def test_a_seller_may_hand_a_task_to_the_teams_assistant_but_not_to_another_team(
        app, api_headers, users, records):
    client = app.test_client()
    given = client.post("/api/v1/activities/", headers=api_headers("seller"), json={
        "kind": "todo", "title": "Prepare the invoice", "due_at": "2030-03-04T09:00:00Z",
        "assignee_id": users["assistant"], "deal_id": records["seller_deal"]})
    assert given.status_code == 201
    assert given.json["assignee_id"] == users["assistant"]
    theirs = client.get("/api/v1/activities/?assignee=me",
                        headers=api_headers("assistant")).json["items"]
    assert [a["title"] for a in theirs] == ["Prepare the invoice"]
    refused = client.post("/api/v1/activities/", headers=api_headers("seller"), json={
        "kind": "todo", "title": "x", "due_at": "2030-03-04T09:00:00Z",
        "assignee_id": users["seller3"]})
    assert refused.status_code == 422
    assert "assignee_id" in refused.json["errors"]["json"]


def test_filters_assignee_status_deal_customer_kind_and_due_before(
        app, api_headers, records, make_activity):
    early = make_activity("seller", kind="visit", title="Visit",
                          deal_id=records["seller_deal"],
                          due_at=datetime(2030, 1, 1, 9, tzinfo=UTC))
    late = make_activity("seller", kind="call", title="Call",
                         customer_id=records["seller_customer"],
                         due_at=datetime(2030, 2, 1, 9, tzinfo=UTC))
    client, headers = app.test_client(), api_headers("seller")
    client.post(f"/api/v1/activities/{late}/done", headers=headers, json={"result": "ok"})

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/activities/?{query}", headers=headers)
        assert response.status_code == 200, response.json
        return sorted(a["id"] for a in response.json["items"])

    assert ids("assignee=me") == sorted([early, late])
    assert ids("status=done") == [late]
    assert ids("status=planned") == [early]
    assert ids(f"deal_id={records['seller_deal']}") == [early]
    assert ids(f"customer_id={records['seller_customer']}") == sorted([early, late])
    assert ids("kind=visit") == [early]
    assert ids("due_before=2030-01-15T00:00:00%2B00:00") == [early]


def test_patch_reschedules_and_done_records_the_result_and_progress(
        app, api_headers, make_activity):
    activity = make_activity("seller", kind="visit", title="Visit")
    client, headers = app.test_client(), api_headers("seller")
    moved = client.patch(f"/api/v1/activities/{activity}", headers=headers,
                         json={"due_at": "2030-05-05T10:30:00+02:00"})
    assert moved.status_code == 200
    assert moved.json["due_at"] == "2030-05-05T08:30:00+00:00"
    done = client.post(f"/api/v1/activities/{activity}/done", headers=headers,
                       json={"result": "Signed the protocol", "progress": 40})
    assert done.status_code == 200
    assert done.json["status"] == "done"
    assert done.json["result"] == "Signed the protocol"
    assert done.json["progress"] == 40


def test_bad_input_is_refused_field_by_field_and_writes_nothing(app, api_headers, records):
    client, headers = app.test_client(), api_headers("seller")
    cases = [
        ({"kind": "party", "title": "x", "due_at": "2030-01-01T09:00:00Z"}, "kind"),
        ({"kind": "call", "title": "", "due_at": "2030-01-01T09:00:00Z"}, "title"),
        ({"kind": "call", "title": "x", "due_at": "2030-01-01T09:00:00"}, "due_at"),
        ({"kind": "call", "title": "x", "due_at": "2030-01-01T09:00:00Z",
          "deal_id": records["seller2_deal"]}, "deal_id"),
        ({"kind": "visit", "title": "x", "due_at": "2030-01-01T09:00:00Z",
          "visit_kind": "XYZ"}, "visit_kind"),
        ({"kind": "visit", "title": "x", "due_at": "2030-01-01T09:00:00Z",
          "progress": 140}, "progress"),
        ({"kind": "call", "title": "x", "due_at": "2030-01-01T09:00:00Z",
          "lead_id": 5}, "lead_id"),  # the leads plugin is off
        ({"kind": "call", "title": "x", "due_at": "2030-01-01T09:00:00Z",
          "deal_id": 99999999999}, "deal_id"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/activities/", headers=headers, json=body)
        assert response.status_code == 422, (body, response.json)
        assert field in response.json["errors"]["json"], (field, response.json)
    assert client.get("/api/v1/activities/", headers=headers).json["items"] == []
    assert client.get("/api/v1/activities/?assignee=nobody",
                      headers=headers).status_code == 422
    assert client.get("/api/v1/activities/?due_before=tomorrow",
                      headers=headers).status_code == 422


def test_a_kind_an_admin_added_is_accepted(make_app):
    app = make_app(plugins=["activities"], config={"activities": {"extra_kinds": "Demo, delivery"}})
    response = app.test_client().post(
        "/api/v1/activities/", headers=token_headers(app, "seller"), json={
        "kind": "delivery", "title": "Deliver the server", "due_at": "2030-01-01T09:00:00Z"})
    assert response.status_code == 201, response.json
    assert response.json["visit_kind"] is None


def test_a_lead_may_be_linked_only_when_the_leads_plugin_is_on(make_app):
    app = make_app(plugins=["leads", "activities"])
    from conveyor import db
    from conveyor.models import User
    from conveyor.plugins.leads.services import create_lead

    with app.app_context():
        seller = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        lead = create_lead({"company": "Volga Trade"}, source="manual", by=seller)
        lead.owner_id = seller.id
        db.session.commit()
        lead_id = lead.id
    response = app.test_client().post(
        "/api/v1/activities/", headers=token_headers(app, "seller"), json={
        "kind": "call", "title": "Qualify", "due_at": "2030-01-01T09:00:00Z",
        "lead_id": lead_id})
    assert response.status_code == 201, response.json
    assert response.json["lead_id"] == lead_id
    hidden = app.test_client().post(
        "/api/v1/activities/", headers=token_headers(app, "seller3"), json={
        "kind": "call", "title": "Qualify", "due_at": "2030-01-01T09:00:00Z",
        "lead_id": lead_id})
    assert hidden.status_code == 422


def test_the_api_needs_the_permission(app, api_headers):
    response = app.test_client().get("/api/v1/activities/", headers=api_headers("marketer"))
    assert response.status_code == 403
    assert app.test_client().get("/api/v1/activities/").status_code == 401


def test_due_time_of_a_planned_task_sets_its_reminder_and_done_clears_it(
        app, records, make_activity):
    from conveyor import db
    from conveyor.plugins.activities.models import Activity

    soon = datetime.now(UTC) + timedelta(hours=2)
    activity_id = make_activity("seller", due_at=soon, reminder_minutes=30)
    with app.app_context():
        activity = db.session.get(Activity, activity_id)
        assert activity.remind_at == activity.due_at - timedelta(minutes=30)
        past = make_activity("seller", due_at=datetime(2020, 1, 1, tzinfo=UTC))
        assert db.session.get(Activity, past).remind_at is None
