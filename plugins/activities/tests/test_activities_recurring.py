"""Recurring tasks: rules, daylight saving (a 09:00 Europe/Berlin task stays 09:00 local) and an
editable series."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from conveyor import db
from conveyor.models import User
from conveyor.testing import client_as, csrf_of

BERLIN = ZoneInfo("Europe/Berlin")


def _series(app, username, **data):
    from conveyor.plugins.activities.recurrence import create_series

    with app.app_context():
        user = db.session.get(User, app.config["TEST_USER_IDS"][username])
        series = create_series({"kind": "meeting", "title": "Pipeline review",
                                "local_time": time(9, 0), "interval": 1, "until": None,
                                **data}, by=user)
        db.session.commit()
        return series.id


def _occurrences(app, series_id):
    from conveyor.plugins.activities.models import Activity

    with app.app_context():
        return list(db.session.execute(select(Activity.due_at, Activity.status).where(
            Activity.series_id == series_id).order_by(Activity.due_at)))


def test_a_weekly_nine_oclock_berlin_task_stays_at_nine_across_both_dst_changes(make_app):
    app = make_app(plugins=["activities"], config={"activities": {"series_horizon_days": 400}})
    with app.app_context():
        db.session.get(User, app.config["TEST_USER_IDS"]["seller"]).timezone = "Europe/Berlin"
        db.session.commit()
    series = _series(app, "seller", frequency="weeks", start_date=date(2030, 3, 18),
                     until=date(2030, 11, 4))
    rows = _occurrences(app, series)
    local = {due.astimezone(BERLIN).time() for due, _status in rows}
    assert local == {time(9, 0)}
    utc_hours = {due.date(): due.hour for due, _status in rows}
    assert utc_hours[date(2030, 3, 25)] == 8  # CET, UTC+1
    assert utc_hours[date(2030, 4, 1)] == 7  # CEST, UTC+2 after 31 March
    assert utc_hours[date(2030, 10, 28)] == 8  # CET again after 27 October
    assert len(rows) == 34


def test_rules_every_n_days_weekdays_and_monthly_on_the_same_day(app):
    from conveyor.plugins.activities.models import Series
    from conveyor.plugins.activities.recurrence import local_dates

    def dates(frequency, interval, start, end):
        series = Series(frequency=frequency, interval=interval, start_date=start, until=None)
        return list(local_dates(series, start, end))

    assert dates("days", 3, date(2030, 1, 1), date(2030, 1, 11)) == [
        date(2030, 1, 1), date(2030, 1, 4), date(2030, 1, 7), date(2030, 1, 10)]
    assert [d.weekday() for d in dates("weekdays", 1, date(2030, 1, 4), date(2030, 1, 12))] == [
        4, 0, 1, 2, 3, 4]
    assert dates("monthly", 1, date(2030, 1, 31), date(2030, 5, 1)) == [
        date(2030, 1, 31), date(2030, 2, 28), date(2030, 3, 31), date(2030, 4, 30)]
    assert dates("weeks", 2, date(2030, 1, 7), date(2030, 2, 5)) == [
        date(2030, 1, 7), date(2030, 1, 21), date(2030, 2, 4)]


def test_editing_the_series_changes_the_coming_occurrences_and_keeps_the_held_ones(
        app, set_user, api_headers):
    from conveyor.plugins.activities.models import Activity, Series
    from conveyor.plugins.activities.recurrence import update_series

    set_user("seller", timezone="Europe/Berlin")
    today = datetime.now(BERLIN).date()
    series_id = _series(app, "seller", frequency="days", start_date=today - timedelta(days=3),
                        until=today + timedelta(days=5))
    rows = _occurrences(app, series_id)
    assert len(rows) == 9
    past = [due for due, _ in rows if due < datetime.now(UTC)]
    client, headers = app.test_client(), api_headers("seller")
    with app.app_context():
        held = db.session.scalar(select(Activity.id).where(
            Activity.series_id == series_id).order_by(Activity.due_at))
    client.post(f"/api/v1/activities/{held}/done", headers=headers, json={"result": "ok"})
    with app.app_context():
        series = db.session.get(Series, series_id)
        user = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        update_series(series, {"kind": "meeting", "title": "Review at ten",
                               "frequency": "days", "interval": 1,
                               "start_date": series.start_date, "until": series.until,
                               "local_time": time(10, 0)}, by=user)
        db.session.commit()
    rows = _occurrences(app, series_id)
    assert len(rows) == 9  # one a day still, none doubled
    future = [due for due, status in rows if due > datetime.now(UTC)]
    assert future and all(due.astimezone(BERLIN).time() == time(10, 0) for due in future)
    kept = [due for due, _ in rows if due in past]
    assert len(kept) == len(past)  # the past ones stay as they were
    assert _occurrences(app, series_id)[0][1] == "done"


def test_a_series_is_made_and_edited_through_the_web_form(app, set_user):
    set_user("seller", timezone="Europe/Berlin")
    client = client_as(app, "seller")
    page = client.get("/activities/new").get_data(as_text=True)
    token = csrf_of(page)
    start = (datetime.now(BERLIN).date() + timedelta(days=1)).isoformat()
    response = client.post("/activities/new", data={
        "csrf_token": token, "kind": "call", "title": "Daily stand-up call",
        "due_at": f"{start}T09:00", "frequency": "weekdays", "interval": 1,
        "until": "", "reminder_minutes": "", "duration_minutes": 15})
    assert response.status_code == 302, response.get_data(as_text=True)
    from conveyor.plugins.activities.models import Activity, Series

    with app.app_context():
        series = db.session.scalar(select(Series))
        count = db.session.scalar(select(db.func.count()).select_from(Activity))
        assert series.frequency == "weekdays" and series.timezone == "Europe/Berlin"
        assert 55 <= count <= 70  # 90 days of weekdays
        first = db.session.scalar(select(Activity.id).order_by(Activity.due_at))
    edit = client.get(f"/activities/{first}/edit").get_data(as_text=True)
    assert f"/activities/series/{series.id}/edit" in edit
    form = client.get(f"/activities/series/{series.id}/edit").get_data(as_text=True)
    response = client.post(f"/activities/series/{series.id}/edit", data={
        "csrf_token": csrf_of(form),
        "kind": "call", "title": "Stand-up", "start_date": start, "local_time": "08:30",
        "frequency": "weeks", "interval": 1, "until": "", "duration_minutes": 15,
        "assignee_id": app.config["TEST_USER_IDS"]["seller"], "reminder_minutes": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        rows = list(db.session.scalars(select(Activity).order_by(Activity.due_at)))
        assert 12 <= len(rows) <= 15
        assert {r.title for r in rows} == {"Stand-up"}
        assert {r.due_at.astimezone(BERLIN).time() for r in rows} == {time(8, 30)}
    stop = client.get(f"/activities/series/{series.id}/edit").get_data(as_text=True)
    client.post(f"/activities/series/{series.id}/stop", data={
        "csrf_token": csrf_of(stop)})
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Activity)) == 0


def test_another_sellers_series_is_not_found(app):
    series = _series(app, "seller3", frequency="days", start_date=date(2030, 1, 1))
    client = client_as(app, "seller")
    assert client.get(f"/activities/series/{series}/edit").status_code == 404


def test_the_extend_job_makes_occurrences_up_to_the_horizon(make_app):
    from conveyor.plugins.activities.models import Activity, Series
    from conveyor.plugins.activities.recurrence import extend_all

    app = make_app(plugins=["activities"], config={"activities": {"series_horizon_days": 10}})
    series_id = _series(app, "seller", frequency="days", start_date=date(2030, 1, 1))
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Activity)) == 11
        db.session.get(Series, series_id).generated_until = date(2030, 1, 5)
        db.session.execute(db.delete(Activity).where(Activity.due_at >= datetime(
            2030, 1, 6, tzinfo=UTC)))
        assert extend_all() == 6
        db.session.commit()
        assert extend_all() == 0
