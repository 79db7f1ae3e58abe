"""``conveyor demo``: a migrated database, one user per role, a year of pipeline history."""
from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import func, select

from conveyor import create_app, hookimpl
from conveyor.cli import demo_command
from conveyor.demo import seed_demo
from conveyor.extensions import db
from conveyor.models import Contact, Customer, Deal, Stage, StageHistory, Team, User
from conveyor.role_layers import ROLE_NAMES


@pytest.fixture
def demo_app(tmp_path: Path) -> Any:
    """Apps on fresh SQLite files, built by migrations as ``conveyor demo`` does (no create_all)."""
    made = []

    def factory(name: str = "demo", extra: list[tuple[str, Any]] = ()) -> Any:
        app = create_app(config={"database_url": f"sqlite:///{tmp_path}/{name}.db",
                                 "secret_key": "test", "ratelimit_enabled": False},
                         plugins=[], extra_plugins=list(extra),
                         instance_path=str(tmp_path / "instance"))
        made.append(app)
        return app

    yield factory
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def demo(app: Any, *args: str) -> Any:
    result = CliRunner().invoke(demo_command, ["--no-serve", *args],
                                obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    return result


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_demo_builds_the_database_and_seeds_a_company(demo_app):
    app = demo_app()
    output = demo(app).output
    assert "core: <empty> -> " in output and "password 'demo'" in output
    with app.app_context():
        users = {u.username: u for u in db.session.scalars(select(User))}
        for role in ROLE_NAMES:
            assert role in users[role].roles and users[role].check_password("demo")
        sellers = [u for u in users.values() if "seller" in u.roles]
        assert len(sellers) == 3
        team = db.session.scalar(select(Team).where(Team.name == "Sales"))
        members = {m.user.username for m in team.members}
        assert {"manager"} | {s.username for s in sellers} <= members
        assert 200 <= count(Customer) <= 500 and count(Contact) >= count(Customer)
        names = db.session.scalars(select(Customer.name)).all()
        assert len(set(names)) == len(names)
        assert any("ООО" in n for n in names) and any("有限公司" in n for n in names)
        assert any(n.endswith(("Ltd", "Inc.", "LLC", "plc", "Group")) for n in names)
        assert len(set(db.session.scalars(select(Customer.industry)))) >= 5
        assert len(set(db.session.scalars(select(Customer.region)))) >= 10
        assert app.config["CONVEYOR"]["demo"] is True


def test_demo_deals_cover_every_stage_with_a_consistent_year_of_history(demo_app):
    app = demo_app()
    demo(app)
    now = datetime.now(UTC)
    with app.app_context():
        stages = {s.id: s for s in db.session.scalars(select(Stage))}
        deals = db.session.scalars(select(Deal)).all()
        assert {d.stage_id for d in deals} == set(stages)  # every stage has deals
        walks: dict[int, list[StageHistory]] = defaultdict(list)
        for row in db.session.scalars(select(StageHistory).order_by(StageHistory.deal_id,
                                                                     StageHistory.at)):
            walks[row.deal_id].append(row)
        times = [row.at for walk in walks.values() for row in walk]
        assert min(times) >= now - timedelta(days=366) and max(times) <= now
        assert max(times) - min(times) > timedelta(days=300)
        skipped = 0
        for deal in deals:
            walk = walks[deal.id]
            assert walk[0].from_stage_id is None and walk[0].at == deal.created_at
            for before, after in zip(walk, walk[1:]):
                assert after.from_stage_id == before.to_stage_id
                old, new = stages[after.from_stage_id], stages[after.to_stage_id]
                if not new.is_closed:
                    assert new.position > old.position  # stages visited in order
                    skipped += new.position - old.position > 1
            stage = stages[deal.stage_id]
            assert walk[-1].to_stage_id == deal.stage_id
            assert deal.stage_entered_at == walk[-1].at
            assert (deal.closed_at == walk[-1].at) if stage.is_closed else deal.closed_at is None
            assert bool(deal.lost_reason) == stage.is_lost
            assert deal.margin < deal.amount
        assert skipped > 0


def test_demo_runs_twice_without_duplicating(demo_app):
    app = demo_app()
    demo(app)
    with app.app_context():
        before = (count(User), count(Customer), count(Deal), count(StageHistory))
    assert "already has data: nothing seeded" in demo(app).output
    with app.app_context():
        assert (count(User), count(Customer), count(Deal), count(StageHistory)) == before


def test_demo_reset_starts_afresh(demo_app):
    app = demo_app()
    demo(app)
    with app.app_context():
        db.session.add(Customer(name="Left over"))
        db.session.commit()
    assert "Dropped every table" in demo(app, "--reset").output
    with app.app_context():
        assert db.session.scalar(select(Customer).where(Customer.name == "Left over")) is None
        assert count(User) == 9


def snapshot(app: Any, seed: int, now: datetime) -> tuple[list[Any], list[Any], list[Any]]:
    from conveyor import migrate

    migrate.upgrade_all(app)
    with app.app_context():
        seed_demo(app, db.session, seed=seed, now=now)
        customers = db.session.execute(select(Customer.name, Customer.owner_id, Customer.tax_id)
                                       .order_by(Customer.id)).all()
        deals = db.session.execute(select(Deal.title, Deal.amount, Deal.stage_id, Deal.created_at)
                                   .order_by(Deal.id)).all()
        history = db.session.execute(select(StageHistory.deal_id, StageHistory.to_stage_id,
                                            StageHistory.at).order_by(StageHistory.id)).all()
    return customers, deals, history


def test_demo_data_is_deterministic_for_a_seed(demo_app):
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    first = snapshot(demo_app("one"), 7, now)
    assert snapshot(demo_app("two"), 7, now) == first
    assert snapshot(demo_app("three"), 8, now)[0] != first[0]


class Seeder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    @hookimpl
    def seed_demo_data(self, session, users, rng):
        self.calls.append({"users": users, "rng": rng,
                           "customers": session.scalar(select(func.count()).select_from(Customer))})
        session.add(Customer(name="Seeded by a plugin", owner_id=users["sellers"][1].id))


def test_plugins_add_their_demo_data_through_the_hook(demo_app):
    seeder = Seeder()
    app = demo_app(extra=[("seeder", seeder)])
    demo(app)
    (call,) = seeder.calls
    assert set(ROLE_NAMES) <= set(call["users"]) and len(call["users"]["sellers"]) == 3
    assert all(isinstance(call["users"][r], User) for r in ROLE_NAMES)
    assert isinstance(call["rng"], random.Random) and call["customers"] >= 200
    with app.app_context():
        assert db.session.scalar(select(Customer.owner_id).where(
            Customer.name == "Seeded by a plugin")) is not None


def test_demo_serves_the_app_with_werkzeug(demo_app, monkeypatch):
    served: dict[str, Any] = {}

    def fake_run_simple(host, port, application, **options):
        served.update(host=host, port=port, app=application, **options)

    monkeypatch.setattr("werkzeug.serving.run_simple", fake_run_simple)
    app = demo_app()
    result = CliRunner().invoke(demo_command, ["--host", "127.0.0.2", "--port", "5123"],
                                obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"], served["app"], served["threaded"]) == \
        ("127.0.0.2", 5123, app, True)
    assert "http://127.0.0.2:5123/" in result.output



def test_open_demo_deals_are_due_from_today_not_months_ago(make_app):
    from datetime import date

    from conveyor import migrate

    app = make_app(seed=False)
    migrate.wipe(app)
    migrate.upgrade_all(app)
    with app.app_context():
        seed_demo(app, db.session, customers=40)
        rows = db.session.execute(select(Deal.expected_close).where(Deal.closed_at.is_(None))).all()
    today = date.today()
    overdue = [d for (d,) in rows if d < today]
    assert rows and all(d >= today - timedelta(days=20) for (d,) in rows)
    assert len(overdue) <= len(rows) * 0.3
