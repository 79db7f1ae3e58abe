"""The calendar's week and month views (language, zone, first day of week) and the iCalendar
feed at a secret, renewable address."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime

from icalendar import Calendar

from conveyor import db
from conveyor.testing import client_as, csrf_of


def test_the_first_day_of_week_follows_the_locale():
    from conveyor.plugins.activities.calendar_views import calendar_range, week_start

    wednesday = date(2030, 1, 9)
    assert week_start(wednesday, "ru") == date(2030, 1, 7)  # Monday
    assert week_start(wednesday, "zh_Hans") == date(2030, 1, 7)
    assert week_start(wednesday, "en_US") == date(2030, 1, 6)  # Sunday
    first, last = calendar_range("month", wednesday, "ru")
    assert first == date(2029, 12, 31) and last == date(2030, 2, 4)
    assert (last - first).days % 7 == 0


def test_the_week_view_shows_my_activities_on_their_local_day_in_my_language(
        app, make_activity, set_user):
    set_user("seller", timezone="Asia/Shanghai", locale="zh_Hans")
    # 20:00 UTC on Tuesday is 04:00 on Wednesday in Beijing.
    make_activity("seller", title="Early call", due_at=datetime(2030, 1, 8, 20, tzinfo=UTC))
    make_activity("seller2", title="Not mine", due_at=datetime(2030, 1, 8, 9, tzinfo=UTC))
    html = client_as(app, "seller").get("/activities/calendar?date=2030-01-09").get_data(
        as_text=True)
    day = html.split('data-date="2030-01-09"')[1].split('<div class="day')[0]
    assert "04:00 Early call" in day
    assert "Not mine" not in html
    assert ">周一<" in html  # weekday names in Chinese, Monday first
    assert html.index(">周一<") < html.index(">周日<")
    assert "Asia/Shanghai" in html


def test_the_manager_sees_the_teams_calendar_and_a_seller_cannot(app, make_activity):
    make_activity("seller2", title="Team visit", kind="visit",
                  due_at=datetime(2030, 1, 8, 9, tzinfo=UTC))
    make_activity("seller3", title="Other team", due_at=datetime(2030, 1, 8, 9, tzinfo=UTC))
    html = client_as(app, "manager").get(
        "/activities/calendar?date=2030-01-09&who=team&view=month").get_data(as_text=True)
    assert "Team visit" in html and "Other team" not in html
    seller = client_as(app, "seller").get(
        "/activities/calendar?date=2030-01-09&who=team").get_data(as_text=True)
    assert "Team visit" not in seller


def test_a_bad_date_is_a_400(app):
    assert client_as(app, "seller").get("/activities/calendar?date=2030-13-45").status_code == 400


def test_the_feed_needs_its_secret_carries_the_zone_and_renewing_revokes_it(
        app, make_activity, set_user, users):
    from conveyor.plugins.activities.models import FeedToken

    set_user("seller", timezone="Europe/Moscow")
    make_activity("seller", title="Visit Volga Trade", kind="visit",
                  due_at=datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0))
    client = client_as(app, "seller")
    page = client.get("/activities/feed").get_data(as_text=True)
    assert "Make a feed address" in page
    made = client.post("/activities/feed", data={"csrf_token": csrf_of(page)})
    url = re.search(r'id="feed-url">([^<]+)<', made.get_data(as_text=True)).group(1)
    path = url.split("localhost", 1)[1]
    token = path.rsplit("/", 1)[1].removesuffix(".ics")
    with app.app_context():
        stored = db.session.get(FeedToken, users["seller"]).token_hash
        assert token not in stored and len(stored) == 64  # only the hash is kept
    anonymous = app.test_client()
    response = anonymous.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    cal = Calendar.from_ical(response.data)
    (event,) = [c for c in cal.walk("VEVENT")]
    assert str(event["summary"]).startswith("Visit: Visit Volga Trade")
    start = event.decoded("dtstart")
    assert start.hour == 9 and str(start.tzinfo) == "Europe/Moscow"
    assert event["dtstart"].params["TZID"] == "Europe/Moscow"
    assert [str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Moscow"]
    # Renew: the old address stops working.
    page = client.get("/activities/feed").get_data(as_text=True)
    assert "It is not shown again" in page
    client.post("/activities/feed", data={"csrf_token": csrf_of(page)})
    assert anonymous.get(path).status_code == 404
    assert anonymous.get("/activities/feed/" + "x" * 43 + ".ics").status_code == 404


def test_renewing_the_feed_needs_the_csrf_token(app, users):
    from conveyor.plugins.activities.models import FeedToken

    response = client_as(app, "seller").post("/activities/feed", data={})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(FeedToken, users["seller"]) is None


def test_the_feed_and_calendar_take_a_fixed_number_of_statements(app, make_activity,
                                                                  count_queries):
    from datetime import timedelta

    client = client_as(app, "seller")
    base = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)

    def counted(url: str) -> int:
        with count_queries() as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    make_activity("seller", title="One", due_at=base)
    counted("/activities/calendar"), counted("/")  # warm: the first request loads the roles
    few = counted("/activities/calendar"), counted("/")
    for i in range(20):
        make_activity("seller", title=f"More {i}", due_at=base + timedelta(hours=i % 9))
    many = counted("/activities/calendar"), counted("/")
    assert few == many


def test_the_feed_shows_customers_and_changes_in_a_fixed_number_of_statements(
        app, users, records, make_activity, count_queries, api_headers):
    """The customer's name is joined into the feed's one statement (none more for events with
    customers), and an edited event is written anew (each is memoized by what it shows)."""
    from datetime import timedelta

    from conveyor.models import User
    from conveyor.plugins.activities.calendar_views import renew_token

    with app.app_context():
        token = renew_token(db.session.get(User, users["seller"]))
        db.session.commit()
    base = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    first = make_activity("seller", title="Call", due_at=base)
    feed = app.test_client()

    def counted() -> tuple[int, bytes]:
        with count_queries() as queries:
            response = feed.get(f"/activities/feed/{token}.ics")
        assert response.status_code == 200
        return len(queries), response.data

    few, _body = counted()
    for i in range(6):
        make_activity("seller", title=f"Visit {i}", kind="visit",
                      customer_id=records["seller_customer"], deal_id=records["seller_deal"],
                      due_at=base + timedelta(days=i, hours=1))
    many, body = counted()
    assert many == few == 2
    summaries = [str(e["summary"]) for e in Calendar.from_ical(body).walk("VEVENT")]
    assert "Visit: Visit 3 — Customer of seller" in summaries and "Call: Call" in summaries
    patched = app.test_client().patch(f"/api/v1/activities/{first}", json={"title": "Call Ann"},
                                      headers=api_headers("seller"))
    assert patched.status_code == 200
    summaries = [str(e["summary"]) for e in Calendar.from_ical(counted()[1]).walk("VEVENT")]
    assert "Call: Call Ann" in summaries and "Call: Call" not in summaries


def test_an_overdue_event_turns_red_in_the_week_view(app, make_activity):
    """Overdue is decided when the page is asked for, not memoized with the event's link."""
    from datetime import timedelta

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    make_activity("seller", title="Soon", due_at=now + timedelta(minutes=2))
    client = client_as(app, "seller")
    html = client.get("/activities/calendar").get_data(as_text=True)
    link = re.search(r'<a class="event [^"]*"[^>]*>[^<]*Soon', html).group(0)
    assert "overdue" not in link
    with app.app_context():
        from sqlalchemy import update

        from conveyor.plugins.activities.models import Activity

        db.session.execute(update(Activity).values(due_at=now - timedelta(minutes=2)))
        db.session.commit()
    html = client.get("/activities/calendar").get_data(as_text=True)
    link = re.search(r'<a class="event [^"]*"[^>]*>[^<]*Soon', html).group(0)
    assert "overdue" in link
