"""Deals without a next step: the summary kept with every change agrees with the brute-force
query, a rebuild restores it, its cost follows what is shown, and what it adds to deal writes.

Runs on SQLite, and on PostgreSQL when CONVEYOR_TEST_DATABASE_URL is set.
"""
from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import exists, func, select

from conveyor import (
    create_customer,
    create_deal,
    db,
    delete_deal,
    move_deal,
    update_deal,
)
from conveyor.models import Customer, Deal, Stage, User
from conveyor.plugins.activities.models import Activity, DealSteps
from conveyor.plugins.activities.next_steps import deals_without_next_step, rebuild
from conveyor.plugins.activities.recurrence import create_series, stop_series, update_series
from conveyor.plugins.activities.services import (
    complete,
    create_activity,
    reschedule,
    set_status,
    update_activity,
)
from conveyor.testing import statement_work

SELLERS = ("seller", "seller2", "seller3")


def summary() -> dict[int, tuple[int | None, int]]:
    return {r.deal_id: (r.owner_id, r.planned) for r in db.session.execute(
        select(DealSteps.deal_id, DealSteps.owner_id, DealSteps.planned))}


def brute_force() -> dict[int, tuple[int | None, int]]:
    """Every open deal (in a stage neither won nor lost) with its planned activities counted,
    straight from the tables."""
    open_stages = select(Stage.id).where(Stage.is_won.is_(False), Stage.is_lost.is_(False))
    planned = (select(func.count()).where(Activity.deal_id == Deal.id,
                                          Activity.status == "planned")
               .correlate(Deal).scalar_subquery())
    return {r.id: (r.owner_id, r.n) for r in db.session.execute(
        select(Deal.id, Deal.owner_id, planned.label("n")).where(
            Deal.stage_id.in_(open_stages)))}


def old_query(user: User, limit: int) -> list[int]:
    """What the widget showed before the summary: the owner's open deals probed one by one."""
    open_stages = select(Stage.id).where(Stage.is_won.is_(False), Stage.is_lost.is_(False))
    lacking = ~exists().where(Activity.deal_id == Deal.id, Activity.status == "planned")
    return list(db.session.scalars(select(Deal.id).join(Customer, Customer.id == Deal.customer_id)
                                   .where(Deal.owner_id == user.id,
                                          Deal.stage_id.in_(open_stages), lacking)
                                   .order_by(Deal.id).limit(limit)))


def check(users: dict[str, int]) -> None:
    assert summary() == brute_force()
    for name in SELLERS:
        user = db.session.get(User, users[name])
        rows, total = deals_without_next_step(user, own=True, limit=5)
        assert [r.id for r in rows] == old_query(user, 5)
        assert total == len(old_query(user, 10_000))


class World:
    """Random changes to deals and activities, through the services the screens use."""

    def __init__(self, app: Any, users: dict[str, int], seed: int) -> None:
        self.app, self.users, self.rng = app, users, random.Random(seed)
        self.people = {name: db.session.get(User, users[name]) for name in SELLERS}
        stages = list(db.session.scalars(select(Stage).order_by(Stage.position)))
        self.open = [s for s in stages if not s.is_closed]
        self.won = [s for s in stages if s.is_won]
        self.lost = [s for s in stages if s.is_lost]
        self.customers = {name: create_customer({"name": f"C {name}"}, user).id
                          for name, user in self.people.items()}
        self.series: list[int] = []

    def someone(self) -> User:
        return self.people[self.rng.choice(SELLERS)]

    def deal(self) -> Deal | None:
        ids = list(db.session.scalars(select(Deal.id)))
        return db.session.get(Deal, self.rng.choice(ids)) if ids else None

    def activity(self, *statuses: str) -> Activity | None:
        ids = list(db.session.scalars(select(Activity.id).where(Activity.status.in_(statuses))))
        return db.session.get(Activity, self.rng.choice(ids)) if ids else None

    def due(self) -> datetime:
        return datetime(2031, 1, 1, 9, tzinfo=UTC) + timedelta(
            days=self.rng.randint(-400, 400), minutes=self.rng.randint(0, 600))

    # -- the changes -------------------------------------------------------------------------

    def new_deal(self) -> None:
        by = self.someone()
        stage = self.rng.choice(self.open + self.open + self.won + self.lost)
        create_deal({"title": "D", "customer_id": self.customers[by.username],
                     "stage_id": stage.id}, by)

    def move(self) -> None:
        deal = self.deal()
        if deal is None:
            return
        stage = self.rng.choice(self.open + self.won + self.lost)
        move_deal(deal, db.session.get(Stage, stage.id), self.someone(),
                  lost_reason="price" if stage.is_lost else "")

    def new_owner(self) -> None:
        deal = self.deal()
        if deal is not None:
            update_deal(deal, {"owner_id": self.someone().id}, self.someone())

    def drop_deal(self) -> None:
        deal = self.deal()
        if deal is not None:
            delete_deal(deal, self.someone())

    def new_activity(self) -> None:
        deal = self.deal() if self.rng.random() < 0.8 else None
        create_activity({"kind": self.rng.choice(["call", "visit", "todo"]), "title": "T",
                         "due_at": self.due(), "deal_id": deal.id if deal else None},
                        by=_admin(self.users))

    def done(self) -> None:
        activity = self.activity("planned")
        if activity is not None:
            complete(activity, by=_admin(self.users), result="ok")

    def cancel(self) -> None:
        activity = self.activity("planned")
        if activity is not None:
            set_status(activity, "cancelled", by=_admin(self.users))

    def reopen(self) -> None:
        activity = self.activity("done", "cancelled")
        if activity is not None:
            set_status(activity, "planned", by=_admin(self.users))

    def move_activity(self) -> None:
        activity = self.activity("planned", "done")
        if activity is not None:
            reschedule(activity, self.rng.choice(["tomorrow", "monday"]), by=_admin(self.users))

    def other_deal(self) -> None:
        activity = self.activity("planned", "done", "cancelled")
        if activity is None:
            return
        deal = self.deal() if self.rng.random() < 0.7 else None
        update_activity(activity, {"deal_id": deal.id if deal else None, "customer_id": None},
                        by=_admin(self.users))

    def edit_status_and_deal(self) -> None:
        """Status and deal changed in one update (the edit form)."""
        activity = self.activity("planned", "done", "cancelled")
        deal = self.deal()
        if activity is None or deal is None:
            return
        update_activity(activity, {"deal_id": deal.id, "customer_id": None,
                                   "status": self.rng.choice(["planned", "done", "cancelled"])},
                        by=_admin(self.users))

    def delete_activity(self) -> None:
        activity = self.activity("planned", "done", "cancelled")
        if activity is not None:
            if self.rng.random() < 0.5:
                db.session.expire(activity)  # its status and deal read from the row
            db.session.delete(activity)
            db.session.flush()

    def new_series(self) -> None:
        deal = self.deal()
        if deal is None:
            return
        start = date(2030, 12, 1) + timedelta(days=self.rng.randint(0, 60))
        series = create_series({"frequency": "weeks", "interval": 1, "start_date": start,
                                "local_time": time(9), "until": start + timedelta(days=60),
                                "kind": "call", "title": "Weekly", "deal_id": deal.id},
                               by=_admin(self.users))
        self.series.append(series.id)

    def edit_series(self) -> None:
        from conveyor.plugins.activities.models import Series

        if not self.series:
            return
        series = db.session.get(Series, self.rng.choice(self.series))
        deal = self.deal()
        data = {"frequency": "days", "interval": self.rng.randint(2, 9),
                "start_date": series.start_date, "local_time": time(10), "until": series.until,
                "kind": "call", "title": "Every few days", "deal_id": deal.id if deal else None}
        update_series(series, data, by=_admin(self.users), now=datetime(2030, 12, 20,
                                                                      tzinfo=UTC))

    def end_series(self) -> None:
        from conveyor.plugins.activities.models import Series

        if self.series:
            stop_series(db.session.get(Series, self.series.pop()),
                        now=datetime(2030, 12, 20, tzinfo=UTC))

    def reopen_with_a_step(self) -> None:
        """A closed deal gets a planned activity and is reopened in the same flush."""
        deal = db.session.scalar(select(Deal).where(Deal.closed_at.is_not(None)).limit(1))
        if deal is None:
            deal = self.deal()
            if deal is None:
                return
            move_deal(deal, db.session.get(Stage, self.won[0].id), self.someone())
        with db.session.no_autoflush:  # the activity's INSERT and the deal's UPDATE: one flush
            db.session.add(Activity(kind="call", title="Back", due_at=self.due(),
                                    status="planned", assignee_id=self.someone().id,
                                    deal_id=deal.id, result=""))
            move_deal(deal, db.session.get(Stage, self.open[0].id), self.someone())

    def steps(self) -> list[Any]:
        return [self.new_deal, self.new_deal, self.move, self.move, self.new_owner,
                self.drop_deal, self.new_activity, self.new_activity, self.new_activity,
                self.done, self.cancel, self.reopen, self.move_activity, self.other_deal,
                self.edit_status_and_deal, self.delete_activity, self.new_series,
                self.edit_series, self.end_series, self.reopen_with_a_step]


def _admin(users: dict[str, int]) -> User:
    return db.session.get(User, users["admin"])


def test_the_summary_agrees_with_the_brute_force_query_after_random_changes(app, users):
    with app.test_request_context():
        world = World(app, users, seed=7)
        for _ in range(6):
            world.new_deal()
        db.session.commit()
        check(users)
        steps = world.steps()
        for i in range(240):
            step = world.rng.choice(steps)
            step()
            if world.rng.random() < 0.15:  # a change that is given up leaves nothing behind
                db.session.rollback()
                world.series = [s for s in world.series if _series_exists(s)]
            else:
                db.session.commit()
            check(users)
        assert db.session.scalar(select(func.count()).select_from(DealSteps)) > 3
        assert any(planned == 0 for _o, planned in summary().values())
        assert any(planned > 1 for _o, planned in summary().values())


def _series_exists(series_id: int) -> bool:
    from conveyor.plugins.activities.models import Series

    return db.session.get(Series, series_id) is not None


def test_rebuild_command_restores_the_summary(app, users, make_activity, records):
    make_activity("seller", deal_id=records["seller_deal"])
    with app.app_context():
        expected = summary()
        assert expected[records["seller_deal"]][1] == 1
        db.session.execute(DealSteps.__table__.delete())
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["activities", "rebuild-next-steps"])
    assert result.exit_code == 0, result.output
    assert "3 open deals" in result.output
    with app.app_context():
        assert summary() == expected == brute_force()
        assert rebuild(db.session.connection()) == 3


def _seller_with_deals(app: Any, users: dict[str, int], n: int, lacking: int) -> None:
    """``n`` more open deals of seller with a next step each, and ``lacking`` without."""
    with app.test_request_context():
        seller = db.session.get(User, users["seller"])
        customer = create_customer({"name": f"Busy {n}"}, seller)
        for i in range(n + lacking):
            deal = create_deal({"title": f"Deal {n}-{i}", "customer_id": customer.id}, seller)
            if i < n:
                create_activity({"kind": "call", "title": "Next", "deal_id": deal.id,
                                 "due_at": datetime(2031, 1, 1, 9, tzinfo=UTC)}, by=seller)
        db.session.commit()


def test_what_the_widget_reads_follows_the_deals_shown_not_the_open_deals(app, users):
    """The seller's deals without a next step read as much with 20 or 200 open deals that have
    one (the old query probed the activities once for each open deal)."""
    _seller_with_deals(app, users, 20, lacking=3)
    with app.test_request_context():
        seller = db.session.get(User, users["seller"])
        before = statement_work(lambda: deals_without_next_step(seller, own=True, limit=8))
        rows, total = deals_without_next_step(seller, own=True, limit=8)
        assert total == 3 and len(rows) == 3
    _seller_with_deals(app, users, 180, lacking=0)
    with app.test_request_context():
        seller = db.session.get(User, users["seller"])
        after = statement_work(lambda: deals_without_next_step(seller, own=True, limit=8))
        old = statement_work(lambda: old_query(seller, 9))
        assert deals_without_next_step(seller, own=True, limit=8)[1] == 3
        dialect = db.engine.dialect.name
    if dialect == "sqlite":
        assert after == before
    else:
        assert after <= before
    assert old > 5 * after  # the brute force grows with the open deals


def test_the_team_sees_its_members_deals_and_their_count(app, users, records, login_as):
    with app.test_request_context():
        manager = db.session.get(User, users["manager"])
        rows, total = deals_without_next_step(manager, own=False, limit=8)
        assert {r.id for r in rows} == {records["seller_deal"], records["seller2_deal"]}
        assert total == 2
        admin = db.session.get(User, users["admin"])
        assert deals_without_next_step(admin, own=False, limit=2)[1] == 3
    html = login_as("manager").get("/").get_data(as_text=True)
    assert 'id="team-no-next-step-count">(2)' in html


def test_my_day_takes_the_same_statements_with_many_deals_without_a_next_step(
        app, users, login_as, count_queries):
    client = login_as("seller")
    client.get("/")

    def statements() -> int:
        with count_queries() as queries:
            assert client.get("/").status_code == 200
        return len(queries)

    _seller_with_deals(app, users, 0, lacking=1)
    few = statements()
    _seller_with_deals(app, users, 5, lacking=30)
    html = client.get("/").get_data(as_text=True)
    assert statements() == few
    assert 'id="my-day-no-next-step-count">(31)' in html
    assert "And more: plan the next step of these first." in html


def test_what_deal_writes_add(app, users, records, count_queries):
    """One statement for a deal created or closed or reopened or given a new owner; none for a
    move between open stages; none for a deletion (the row goes with the deal)."""
    def summary_writes(fn: Any) -> int:
        with app.test_request_context():
            with count_queries() as queries:
                fn()
                db.session.flush()
            db.session.commit()
        return sum(1 for q in queries if "activities_deal_steps" in q)

    def deal() -> Deal:
        return db.session.get(Deal, records["seller_deal"])

    def stage(pick: Any) -> Stage:
        return next(s for s in db.session.scalars(select(Stage).order_by(Stage.position))
                    if pick(s))

    def seller() -> User:
        return db.session.get(User, users["seller"])

    assert summary_writes(lambda: create_deal(
        {"title": "New", "customer_id": records["seller_customer"]}, seller())) == 1
    assert summary_writes(lambda: move_deal(deal(), stage(
        lambda s: not s.is_closed and s.id != deal().stage_id), seller())) == 0
    assert summary_writes(lambda: update_deal(deal(), {"owner_id": users["seller2"]},
                                              seller())) == 1
    assert summary_writes(lambda: move_deal(deal(), stage(lambda s: s.is_won), seller())) == 1
    assert summary_writes(lambda: move_deal(deal(), stage(lambda s: not s.is_closed),
                                            seller())) == 1
    assert summary_writes(lambda: delete_deal(deal(), seller())) == 0
    with app.app_context():
        assert summary() == brute_force()
        assert records["seller_deal"] not in summary()


def test_activity_writes_add_one_statement_per_flush(app, users, records, count_queries):
    def summary_writes(fn: Any) -> int:
        with app.test_request_context():
            with count_queries() as queries:
                fn(db.session.get(User, users["seller"]))
                db.session.flush()
            db.session.commit()
        return sum(1 for q in queries if "activities_deal_steps" in q)

    due = datetime(2031, 1, 1, 9, tzinfo=UTC)
    assert summary_writes(lambda by: create_activity(
        {"kind": "call", "title": "A", "due_at": due}, by=by)) == 0  # no deal: nothing
    assert summary_writes(lambda by: create_activity(
        {"kind": "call", "title": "A", "due_at": due, "deal_id": records["seller_deal"]},
        by=by)) == 1
    # A series' occurrences are made in one flush: one statement for all of them.
    assert summary_writes(lambda by: create_series(
        {"frequency": "days", "interval": 1, "start_date": date(2030, 12, 1),
         "until": date(2030, 12, 3), "local_time": time(9), "kind": "call", "title": "Daily",
         "deal_id": records["seller_deal"]}, by=by)) == 1
    assert summary_writes(lambda by: complete(db.session.scalar(select(Activity).where(
        Activity.deal_id == records["seller_deal"]).limit(1)), by=by)) == 1
    assert summary_writes(lambda by: reschedule(db.session.scalar(select(Activity).where(
        Activity.deal_id == records["seller_deal"], Activity.status == "planned").limit(1)),
        "tomorrow", by=by)) == 0
    with app.app_context():
        assert summary()[records["seller_deal"]] == (users["seller"], 3)
        assert summary() == brute_force()
