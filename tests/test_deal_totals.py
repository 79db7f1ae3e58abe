"""``deal_stage_totals`` always equals a fresh GROUP BY over ``deals``.

The board and the pipeline summary read their counts and sums from that table (kept by
``conveyor.crm``'s flush listeners) instead of scanning every visible deal. A random sequence of
creates, moves, edits, deletes and rolled-back changes must leave it equal to what a GROUP BY
over the deals says. Runs on PostgreSQL too when CONVEYOR_TEST_DATABASE_URL is set.
"""
from __future__ import annotations

import re
from datetime import UTC
from decimal import Decimal
from typing import Any

from click.testing import CliRunner
from flask.cli import ScriptInfo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from conveyor import crm
from conveyor.cli import cli
from conveyor.extensions import db
from conveyor.hookspecs import hookimpl
from conveyor.models import Customer, Deal, Stage, User
from conveyor.models.deals import DealStageTotal
from conveyor.web.deals import _board_rows, open_totals

CURRENCIES = ["USD", "EUR", "RUB"]
CENTS = Decimal("0.01")


def group_by() -> dict[tuple[int, int, str], tuple[int, Decimal]]:
    """What the totals must be: computed from the deals themselves."""
    owner = func.coalesce(Deal.owner_id, 0)
    rows = db.session.execute(select(Deal.stage_id, owner, Deal.currency, func.count(),
                                     func.sum(Deal.amount))
                              .group_by(Deal.stage_id, owner, Deal.currency))
    return {(s, o, c): (n, Decimal(a).quantize(CENTS)) for s, o, c, n, a in rows}


def kept() -> dict[tuple[int, int, str], tuple[int, Decimal]]:
    """What the table says, leaving out keys that dropped back to zero."""
    t = DealStageTotal
    rows = db.session.execute(select(t.stage_id, t.owner_id, t.currency, t.count, t.amount))
    return {(s, o, c): (n, Decimal(a).quantize(CENTS)) for s, o, c, n, a in rows if n}


def people(users: dict[str, int]) -> list[User]:
    return [db.session.get(User, users[u]) for u in ("seller", "seller2", "seller3", "admin")]


def a_customer(owner: User) -> int:
    customer = crm.create_customer({"name": f"Co {owner.username}"}, owner)
    db.session.commit()
    return customer.id


amounts = st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False,
                      allow_infinity=False)
steps = st.lists(st.one_of(
    st.tuples(st.just("create"), st.integers(0, 4), st.integers(0, 20), st.sampled_from(
        CURRENCIES), amounts),
    st.tuples(st.just("move"), st.integers(0, 10_000), st.integers(0, 20)),
    st.tuples(st.just("owner"), st.integers(0, 10_000), st.integers(0, 4)),
    st.tuples(st.just("amount"), st.integers(0, 10_000), amounts, st.sampled_from(CURRENCIES)),
    st.tuples(st.just("delete"), st.integers(0, 10_000)),
    st.tuples(st.just("commit")),
    st.tuples(st.just("rollback")),
), max_size=25)


def test_totals_equal_a_fresh_group_by_after_any_sequence_of_changes(app, users):
    with app.app_context():
        staff = people(users)
        customer_id = a_customer(staff[0])
        stages = list(db.session.scalars(select(Stage).order_by(Stage.position)))

        @settings(max_examples=60, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture,
                                         HealthCheck.too_slow])
        @given(steps)
        def run(sequence: list[tuple[Any, ...]]) -> None:
            for step in sequence:
                deals = list(db.session.scalars(select(Deal).order_by(Deal.id)))
                kind, *args = step
                if kind == "create":
                    who, stage, currency, amount = args
                    owner = staff[who] if who < len(staff) else None
                    crm.create_deal({"customer_id": customer_id, "title": "T", "amount": amount,
                                     "currency": currency, "owner_id": owner and owner.id,
                                     "stage": stages[stage % len(stages)]}, staff[0])
                elif kind == "commit":
                    db.session.commit()
                elif kind == "rollback":
                    db.session.rollback()
                elif deals:
                    deal = deals[args[0] % len(deals)]
                    if kind == "move":
                        crm.move_deal(deal, stages[args[1] % len(stages)], staff[0])
                    elif kind == "owner":
                        who = args[1]
                        crm.update_deal(deal, {"owner_id": staff[who].id if who < len(staff)
                                               else None}, staff[0])
                    elif kind == "amount":
                        crm.update_deal(deal, {"amount": args[1], "currency": args[2]}, staff[0])
                    elif kind == "delete":
                        crm.delete_deal(deal, staff[0])
                db.session.flush()
                assert kept() == group_by()
            db.session.commit()
            assert kept() == group_by()

        run()


def test_one_flush_with_several_changes_to_one_deal_counts_it_once(app, users):
    with app.app_context():
        seller, seller2 = people(users)[:2]
        stages = list(db.session.scalars(select(Stage).order_by(Stage.position)))
        deal = crm.create_deal({"customer_id": a_customer(seller), "title": "T",
                                "amount": Decimal("10.00"), "currency": "USD"}, seller)
        db.session.commit()
        deal.amount = Decimal("25.50")
        deal.owner_id = seller2.id
        deal.currency = "EUR"
        crm.move_deal(deal, stages[3], seller)  # flushes all of it at once
        db.session.commit()
        assert kept() == group_by() == {(stages[3].id, seller2.id, "EUR"): (1, Decimal("25.50"))}


def test_rebuild_recomputes_the_table_from_the_deals(app, users):
    with app.app_context():
        seller = people(users)[0]
        customer_id = a_customer(seller)
        for i in range(3):
            crm.create_deal({"customer_id": customer_id, "title": f"D{i}",
                             "amount": Decimal(i + 1)}, seller)
        db.session.commit()
        expected = group_by()
        db.session.execute(delete(DealStageTotal))
        db.session.commit()
        assert kept() == {}
        assert crm.rebuild_deal_totals() == len(expected)
        db.session.commit()
        assert kept() == expected


def test_cli_rebuild_totals_command(app, users):
    with app.app_context():
        seller = people(users)[0]
        crm.create_deal({"customer_id": a_customer(seller), "title": "D",
                         "amount": Decimal("7.00")}, seller)
        db.session.commit()
        expected = group_by()
        db.session.execute(delete(DealStageTotal))
        db.session.commit()
    result = CliRunner().invoke(cli, ["deals", "rebuild-totals"],
                                obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    assert re.search(r"Rebuilt the deal totals: 1 ", result.output)
    with app.app_context():
        assert kept() == expected


def _deal(app: Any, owner: str, users: dict[str, int], amount: str = "100.00") -> int:
    with app.app_context():
        user = db.session.get(User, users[owner])
        deal = crm.create_deal({"customer_id": a_customer(user), "title": "Doomed",
                                "amount": Decimal(amount)}, user)
        db.session.commit()
        return deal.id


def test_deleting_a_deal_on_the_web_takes_it_out_of_the_totals(app, users, login_as):
    deal_id = _deal(app, "seller", users)
    client = login_as("admin")
    client.get(f"/deals/{deal_id}")
    response = client.post(f"/deals/{deal_id}/delete",
                           data={"csrf_token": _csrf(client, f"/deals/{deal_id}")})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Deal, deal_id) is None
        assert kept() == group_by() == {}


def test_deleting_a_deal_through_the_api_takes_it_out_of_the_totals(app, users, api_headers):
    from flask import Flask

    assert isinstance(app, Flask)
    deal_id = _deal(app, "seller", users)
    response = app.test_client().delete(f"/api/v1/deals/{deal_id}", headers=api_headers("admin"))
    assert response.status_code == 204
    with app.app_context():
        assert kept() == group_by() == {}


def _csrf(client: Any, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_board_totals_follow_the_record_scope(app, users):
    """A seller counts their own deals, the manager the team's, admin every deal (and ownerless
    ones): the same numbers as the GROUP BY over what each may see."""
    _deal(app, "seller", users, "10.00")
    _deal(app, "seller2", users, "20.00")
    _deal(app, "seller3", users, "40.00")
    with app.app_context():
        first = db.session.scalar(select(Stage).order_by(Stage.position)).id
        loose = crm.create_deal({"customer_id": db.session.scalar(select(Customer.id)),
                                 "title": "Nobody's", "amount": Decimal("80.00")},
                                db.session.get(User, users["admin"]))
        loose.owner_id = None
        db.session.commit()
        expect = {"seller": (1, "10.00"), "manager": (2, "30.00"), "admin": (4, "150.00")}
        for who, (count, amount) in expect.items():
            with app.test_request_context():
                got = open_totals(db.session.get(User, users[who]), [first])[first]
            assert got == {"count": count, "amounts": {"USD": Decimal(amount)}}, who


def test_the_board_reads_cards_and_totals_in_one_statement_with_the_same_numbers(
        app, users, count_queries):
    """The board's UNION ALL of cards and totals rows gives what the totals and the cards read
    apart give, for each record scope and in several currencies (the team's scope is a CTE
    both halves share)."""
    from conveyor.web.deals import _cards_statement
    from conveyor.web.listing import plain_rows

    for owner, amount in (("seller", "10.00"), ("seller2", "20.00"), ("seller3", "40.00"),
                          ("seller", "7.50")):
        _deal(app, owner, users, amount)
    with app.app_context():
        euro = db.session.scalar(select(Deal).order_by(Deal.id.desc()))
        euro.currency = "EUR"
        crm.rebuild_deal_totals()
        db.session.commit()
        stages = list(db.session.scalars(select(Stage.id).where(Stage.is_won.is_(False),
                                                                Stage.is_lost.is_(False))))
        for who in ("seller", "manager", "admin"):
            with app.test_request_context():
                user = db.session.get(User, users[who])
                apart = open_totals(user, stages)
                cards: dict[int, list[Any]] = {sid: [] for sid in stages}
                for row in plain_rows(_cards_statement(user, stages)):
                    cards[row.stage_id].append(row)
                with count_queries() as seen:
                    totals, merged = _board_rows(user, stages)
            assert len(seen) == 1, seen
            assert totals == apart and any(t["count"] for t in totals.values()), who
            assert {sid: [row[:-1] for row in rows] for sid, rows in merged.items()} == {
                sid: [tuple(row) for row in rows] for sid, rows in cards.items()}, who
            assert any(merged.values()), who
        assert sorted(totals[stages[0]]["amounts"]) == ["EUR", "USD"]


class OnlyBig:
    """A plugin narrowing deals to those of 30 or more: the totals table can't say that."""

    @hookimpl
    def record_filters(self, model, user, permission):
        return [Deal.amount >= 30] if model is Deal else []


def test_a_plugin_narrowing_deals_gets_totals_from_the_deals_themselves(make_app):
    app = make_app(extra_plugins=[("only_big", OnlyBig())])
    users = app.config["TEST_USER_IDS"]
    for owner, amount in (("seller", "10.00"), ("seller", "35.00"), ("seller3", "50.00")):
        _deal(app, owner, users, amount)
    with app.app_context():
        first = db.session.scalar(select(Stage).order_by(Stage.position)).id
        for who, (count, amount) in {"seller": (1, "35.00"), "admin": (2, "85.00")}.items():
            with app.test_request_context():
                got = open_totals(db.session.get(User, users[who]), [first])[first]
                board = _board_rows(db.session.get(User, users[who]), [first])[0][first]
            assert got == board == {"count": count, "amounts": {"USD": Decimal(amount)}}, who


def test_the_demo_company_starts_with_right_totals(make_app):
    from conveyor.demo import seed_demo

    app = make_app(seed=False)
    with app.app_context():
        assert seed_demo(app, db.session, seed=3) is not None
        assert kept() == group_by() and kept()


def test_the_benchmark_generator_fills_the_totals_of_its_bulk_load(tmp_path):
    """bench/generate.py writes deals with COPY / multi-row INSERTs, past the ORM: it fills
    deal_stage_totals itself, and must agree with the deals it wrote."""
    import os
    import sys
    from datetime import datetime
    from pathlib import Path

    from sqlalchemy import create_engine, text

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from generate import generate

    url = os.environ.get("CONVEYOR_TEST_DATABASE_URL") or f"sqlite:///{tmp_path}/gen.db"
    generate(url, 30, 400, seed=5, end=datetime(2026, 1, 1, tzinfo=UTC), reset=True)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            kept_rows = set(conn.execute(text(
                "SELECT stage_id, owner_id, currency, count, CAST(ROUND(amount * 100) AS BIGINT) "
                "FROM deal_stage_totals")))
            fresh = set(conn.execute(text(
                "SELECT stage_id, COALESCE(owner_id, 0), currency, COUNT(*), "
                "CAST(ROUND(SUM(amount) * 100) AS BIGINT) FROM deals "
                "GROUP BY stage_id, COALESCE(owner_id, 0), currency")))
    finally:
        engine.dispose()
    assert kept_rows == fresh and sum(row[3] for row in fresh) == 400
