"""The funnel's summaries kept with every change equal the ones rebuilt from scratch.

Deals are created, moved forward and back, won, lost, reopened, re-assigned, re-priced,
changed to another currency and deleted through the core's write operations; after each batch
the summaries kept in those transactions must equal ``rebuild()``'s from deals and history.
Runs on SQLite, and on PostgreSQL when CONVEYOR_TEST_DATABASE_URL is set."""
from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from conveyor import db
from conveyor.crm import create_deal, delete_deal, move_deal, update_deal
from conveyor.models import Customer, Deal, Stage
from conveyor.plugins.funnel.durations import U
from conveyor.plugins.funnel.summaries import C, M, R, rebuild
from conveyor.testing import query_counter


def snapshot() -> dict[str, set[tuple[Any, ...]]]:
    out = {}
    for table, values in ((C, ("count", "amount", "margin")), (R, ("count",)),
                          (M, ("count", "amount")), (U, ("count", "seconds"))):
        rows = set()
        for row in db.session.execute(select(table)):
            m = row._mapping
            if all(not m[v] for v in values):
                continue  # a key whose deals all moved on: zero, same as absent
            rows.add(tuple(str(m[c.name]) if c.name in ("day", "start", "month") else
                           (Decimal(m[c.name]) if c.name in ("amount", "margin") else m[c.name])
                           for c in table.columns))
        out[table.name] = rows
    return out


def kept_equals_rebuilt() -> None:
    db.session.flush()
    kept = snapshot()
    rebuild(db.session.connection())
    rebuilt = snapshot()
    for name in kept:
        assert kept[name] == rebuilt[name], (name, kept[name] ^ rebuilt[name])


def test_kept_with_every_write_as_rebuilt(ctx, world, users):
    rng = random.Random(3)
    stages = list(db.session.scalars(select(Stage).order_by(Stage.position)))
    customer = db.session.scalar(select(Customer))
    owners = [users["seller"], users["seller2"], users["manager"]]
    for round_ in range(4):
        deals = list(db.session.scalars(select(Deal).order_by(Deal.id)))
        for deal in rng.sample(deals, 25):
            stage = rng.choice([s for s in stages if s.id != deal.stage_id])
            move_deal(deal, stage, None, lost_reason=rng.choice(["", "Price", "Other"]))
        for deal in rng.sample(deals, 10):
            update_deal(deal, {"amount": Decimal(rng.randrange(100, 99999)) / 100,
                               "owner_id": rng.choice(owners + [None]),
                               "currency": rng.choice(["USD", "EUR"]),
                               "margin": Decimal(rng.randrange(0, 999))}, None)
        for _ in range(5):
            create_deal({"title": f"new {round_}", "customer_id": customer.id,
                         "amount": Decimal("123.45"), "owner_id": rng.choice(owners),
                         "stage": rng.choice(stages)}, None)
        for deal in rng.sample(deals, 3):
            delete_deal(deal, None)
        db.session.commit()
        kept_equals_rebuilt()
        db.session.commit()


def _statements_of_move(app, deal, target):
    with query_counter(app) as statements:
        move_deal(deal, target, None)
        db.session.flush()
    return [s for s in statements if "funnel_" in s or
            ("stage_history" in s and s.lstrip().upper().startswith("SELECT"))]


def test_a_stage_move_costs_a_few_statements(app, ctx, world, users):
    """A move between open stages: one read of the deal's history, one upsert each of reached,
    the stage moves and the durations (the stay that ended). Winning the deal adds one of the
    closed totals; its cycle goes in the same durations upsert as the stay (a move is one
    flush: the UPDATE and its history row together)."""
    deal = db.session.scalar(select(Deal).where(Deal.closed_at.is_(None)).order_by(Deal.id))
    open_target = db.session.scalar(select(Stage).where(
        Stage.id != deal.stage_id, Stage.is_won.is_(False), Stage.is_lost.is_(False))
        .order_by(Stage.position.desc()))
    ours = _statements_of_move(app, deal, open_target)
    assert len(ours) <= 4, ours
    assert sum("funnel_durations" in s for s in ours) == 1
    won = db.session.scalar(select(Stage).where(Stage.is_won.is_(True)))
    ours = _statements_of_move(app, deal, won)
    assert len(ours) <= 5, ours
    assert sum("funnel_durations" in s for s in ours) == 1
    kept_equals_rebuilt()


def test_rebuild_command(app, world):
    result = app.test_cli_runner().invoke(args=["funnel", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "funnel_reached:" in result.output
    assert CliRunner  # the app's runner is click's


def test_the_core_hands_over_old_and_new_rows(app, ctx, world, users):
    """``deal_rows_flushed``: a move gives the deal's old and new values and the history row
    added; a deletion gives the old values and the history that went with the deal."""
    from conveyor import hookimpl

    seen: list[tuple[list[Any], list[dict], dict]] = []

    class Recorder:
        @hookimpl
        def deal_rows_flushed(self, connection, session, changes, history, removed_history):
            seen.append((list(changes), list(history), dict(removed_history)))

    pm = app.extensions["conveyor"].pm
    pm.register(Recorder(), name="deal_rows_recorder")
    try:
        deal = db.session.scalar(select(Deal).where(Deal.closed_at.is_(None)).order_by(Deal.id))
        won = db.session.scalar(select(Stage).where(Stage.is_won.is_(True)))
        before = deal.stage_id
        move_deal(deal, won, None)
        db.session.flush()
        changes = [c for chs, _h, _r in seen for c in chs if c.deal_id == deal.id]
        assert changes[0].old["stage_id"] == before and changes[0].old["closed_at"] is None
        assert changes[0].new["stage_id"] == won.id and changes[0].new["closed_at"] is not None
        added = [h for _c, hs, _r in seen for h in hs if h["deal_id"] == deal.id]
        assert [(h["from_stage_id"], h["to_stage_id"]) for h in added] == [(before, won.id)]
        seen.clear()
        delete_deal(deal, None)
        db.session.flush()
        gone = [c for chs, _h, _r in seen for c in chs if c.deal_id == deal.id]
        assert gone and gone[0].new is None and gone[0].old["stage_id"] == won.id
        removed = seen[0][2][deal.id]
        assert removed[-1]["to_stage_id"] == won.id
    finally:
        pm.unregister(name="deal_rows_recorder")


def test_whole_seconds_drop_the_fraction_in_sql_as_in_python(ctx):
    """SQLite rounds a timestamp's fraction to milliseconds: 10.9996 s must still count as 10
    in the rebuilt histograms, as the kept ones count it."""
    from datetime import UTC, datetime

    from sqlalchemy import DateTime, bindparam

    from conveyor.plugins.funnel.durations import seconds_sql, whole_seconds

    at = datetime(2026, 3, 1, 12, 0, 10, 999600, tzinfo=UTC)
    value = bindparam("at", at.replace(tzinfo=None), type_=DateTime())
    got = db.session.scalar(select(seconds_sql(db.engine.dialect.name, value)))
    assert got == whole_seconds(at) == int(at.timestamp()) // 1


def test_a_new_deal_reads_no_history(app, ctx, world, users):
    """A deal goes in with its first history row in one flush: the summaries take that row
    as the deal's whole history (no SELECT of stage_history), one upsert each of reached and
    the stage moves, and stay equal to the rebuilt ones."""
    customer = db.session.scalar(select(Customer))
    with query_counter(app) as statements:
        create_deal({"title": "fresh", "customer_id": customer.id, "amount": Decimal("5"),
                     "owner_id": users["seller"]}, None)
        db.session.flush()
    reads = [s for s in statements if "stage_history" in s
             and s.lstrip().upper().startswith("SELECT")]
    assert reads == [], reads
    ours = [s for s in statements if "funnel_" in s]
    assert sum("funnel_reached" in s for s in ours) == 1, ours
    assert sum("funnel_stage_moves" in s for s in ours) == 1, ours
    kept_equals_rebuilt()


def test_a_row_dated_before_the_last_one_reorders_the_stays(ctx, world, users):
    """History rows written out of order (an import dating a move in the past): the stays
    the new row splits are taken out and put back, the others left alone — as rebuilt."""
    from datetime import timedelta

    from conveyor.models import StageHistory

    deal = db.session.scalar(select(Deal).where(Deal.closed_at.is_(None)).order_by(Deal.id))
    rows = list(db.session.scalars(select(StageHistory).where(StageHistory.deal_id == deal.id)
                                   .order_by(StageHistory.at, StageHistory.id)))
    assert rows
    stage = db.session.scalar(select(Stage).where(Stage.is_won.is_(False),
                                                  Stage.is_lost.is_(False)))
    db.session.add(StageHistory(deal_id=deal.id, from_stage_id=rows[0].to_stage_id,
                                to_stage_id=stage.id, at=rows[0].at + timedelta(minutes=7)))
    db.session.flush()
    kept_equals_rebuilt()


def test_a_move_reads_a_condensed_history(app, ctx, world, users):
    """A deal with history over several months, moved back and forth (into stages it was in
    before, so "reached" takes the earlier months as the previous ones): each move reads one
    condensed statement (latest row per stage and month, and the last row), not the whole
    history, and the summaries stay equal to the rebuilt ones."""
    from sqlalchemy import func

    from conveyor.models import StageHistory

    month = func.strftime("%Y-%m", StageHistory.at)
    deal_id = db.session.scalar(
        select(StageHistory.deal_id).join(Deal, Deal.id == StageHistory.deal_id)
        .where(Deal.closed_at.is_(None)).group_by(StageHistory.deal_id)
        .having(func.count(func.distinct(month)) > 1).order_by(StageHistory.deal_id)) \
        if db.engine.dialect.name == "sqlite" else db.session.scalar(
            select(Deal.id).where(Deal.closed_at.is_(None)).order_by(Deal.id))
    deal = db.session.get(Deal, deal_id)
    been = list(db.session.scalars(select(StageHistory.to_stage_id).where(
        StageHistory.deal_id == deal.id)))
    open_stages = list(db.session.scalars(select(Stage).where(
        Stage.is_won.is_(False), Stage.is_lost.is_(False)).order_by(Stage.position)))
    targets = [s for s in open_stages if s.id in been and s.id != deal.stage_id] or open_stages
    reads = []
    for i in range(6):
        target = targets[i % len(targets)]
        if target.id == deal.stage_id:
            target = next(s for s in open_stages if s.id != deal.stage_id)
        with query_counter(app) as statements:
            move_deal(deal, target, None)
            db.session.flush()
        reads.append([s for s in statements if "stage_history" in s
                      and s.lstrip().upper().startswith("SELECT")])
        kept_equals_rebuilt()
    assert all(len(r) == 1 and "GROUP BY" in r[0].upper() for r in reads), reads
    lost = db.session.scalar(select(Stage).where(Stage.is_lost.is_(True)))
    move_deal(deal, lost, None, lost_reason="Price")
    kept_equals_rebuilt()
