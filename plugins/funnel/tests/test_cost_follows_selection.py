"""The work behind one seller's figures for a month does not grow with other sellers' history.

Each figure is computed twice for the same seller and month, with other sellers' (and nobody's)
old history — deals all of whose history lies years before the month — and with that old history
doubled. What the statements read must be exactly the same: on SQLite the virtual
machine instructions the statements execute (``set_progress_handler``; a row read costs a few
instructions, an index probe is one), on PostgreSQL the rows the plan's table and index scans
read (EXPLAIN ANALYZE: rows returned or filtered out, × loops), with sequential, bitmap and
incremental-sort plans discouraged: on tables of a few hundred rows the planner rightly reads
them whole (or whole in key order), which says nothing about a million. A company-wide figure over the whole time, computed the same way,
does grow — the check sees the added history.

Runs on SQLite, and on PostgreSQL when CONVEYOR_TEST_DATABASE_URL is set.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import event, text

from conveyor import db
from conveyor.plugins.funnel import dwell as dwell_mod
from conveyor.plugins.funnel.five import five_numbers
from conveyor.plugins.funnel.metrics import conversion, funnel, outcomes
from conveyor.plugins.funnel.periods import Period, current
from conveyor.plugins.funnel.plan import plan
from conveyor.plugins.funnel.sqlparts import load_pipeline
from conveyor.plugins.funnel.testdata import generate


TABLE_SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"}


def _rows_read(node: dict[str, Any]) -> int:
    """Rows the plan's scans of tables and indexes read: returned or removed by a filter."""
    own = 0
    if node.get("Node Type") in TABLE_SCANS:
        read = sum(int(node.get(key, 0)) for key in (
            "Actual Rows", "Rows Removed by Filter", "Rows Removed by Index Recheck"))
        own = read * int(node.get("Actual Loops", 1))
    return own + sum(_rows_read(child) for child in node.get("Plans", ()))


def work_of(fn: Callable[[], Any]) -> int:
    """What the statements ``fn`` runs read: SQLite VM instructions, or PostgreSQL plan rows."""
    conn = db.session.connection()
    raw = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        steps = [0]

        def count() -> int:
            steps[0] += 1
            return 0

        raw.set_progress_handler(count, 1)
        try:
            fn()
        finally:
            raw.set_progress_handler(None, 1)
        return steps[0]
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    total = 0
    cursor = raw.cursor()
    # A few hundred rows fit in a page or two: PostgreSQL rightly reads such tables whole. Asked
    # to avoid that, it shows the plan it takes at the sizes the benchmark measures.
    cursor.execute("SET LOCAL enable_seqscan = off")
    cursor.execute("SET LOCAL enable_bitmapscan = off")
    cursor.execute("SET LOCAL enable_incremental_sort = off")  # nor walk a small table in key order
    for statement, params in seen:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
        plan_json = cursor.fetchone()[0]
        plan_json = json.loads(plan_json) if isinstance(plan_json, str) else plan_json
        total += _rows_read(plan_json[0]["Plan"])
    return total


def figures(pipe: Any, period: Period, owners: list[int] | None, now: Any
            ) -> dict[str, Callable[[], Any]]:
    return {
        "funnel": lambda: funnel(pipe, period, owners),
        "conversion": lambda: conversion(pipe, period, owners),
        "outcomes": lambda: outcomes(pipe, period, owners),
        "dwell": lambda: dwell_mod.dwell(pipe, period, owners),
        "stalled": lambda: dwell_mod.stalled(pipe, owners, now=now),
        "five numbers": lambda: five_numbers(pipe, period, owners, now=now),
        "plan": lambda: plan(period, owners or [], []),
    }


def add_old_history(world: Any, users: dict[str, int], seed: int) -> Any:
    """As many deals again as the world has, for the other sellers and nobody, all of whose
    history lies between 900 and 500 days before the world's now."""
    others = [users["seller2"], users["seller3"], users["manager"], None]
    return generate(db.session, world.pipeline, others, deals=len(world.deals), seed=seed,
                    now=world.now - timedelta(days=500), days_back=400)


def analyze() -> None:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))


def test_one_sellers_month_reads_the_same_when_others_old_history_doubles(ctx, world, users):
    pipe = load_pipeline()
    seller = [users["seller"]]
    # The stalled thresholds are everyone's p90 of the last year by definition, computed once
    # per process for funnel.threshold_cache_seconds: kept warm here, as they are when serving.
    ctx.app.extensions["conveyor"].settings["funnel.threshold_cache_seconds"] = 3600
    dwell_mod.thresholds(pipe)
    this_month = current("month", world.now.date())
    months = [this_month, this_month.previous()]
    everything = Period(world.now.date() - timedelta(days=1200),
                        world.now.date() + timedelta(days=1))
    old = add_old_history(world, users, seed=11)  # other sellers' old history ...
    assert max(h["at"] for h in old.history) < months[-1].start_dt - timedelta(days=300)
    analyze()
    before = {(name, m.start): work_of(fn) for m in months
              for name, fn in figures(pipe, m, seller, world.now).items()}
    company_before = work_of(lambda: funnel(pipe, everything, None))

    more = add_old_history(world, users, seed=13)  # ... doubled
    assert len(more.history) > 0.8 * len(old.history)
    # No second ANALYZE: PostgreSQL scales its row estimates by the tables' grown size, but new
    # statistics of a few hundred rows would let it swap between equivalent index conditions.
    after = {(name, m.start): work_of(fn) for m in months
             for name, fn in figures(pipe, m, seller, world.now).items()}
    assert all(v > 0 for v in before.values())
    assert after == before
    assert work_of(lambda: funnel(pipe, everything, None)) > company_before


def test_state_at_a_past_moment_reads_only_deals_moved_since(ctx, world, users):
    """Five numbers for a month that is over: the open deals at its end come from the summary
    of deals by stage and owner and the deals moved since; a seller's figures read no more
    when other sellers' deals that have not moved since are added."""
    pipe = load_pipeline()
    seller = [users["seller"]]
    month = current("month", world.now.date()).previous()
    run = lambda: five_numbers(pipe, month, seller, now=world.now)  # noqa: E731
    first = run()
    add_old_history(world, users, seed=11)
    analyze()
    before = work_of(run)
    add_old_history(world, users, seed=12)
    assert work_of(run) == before
    again = run()
    assert {o: vars(f) for o, f in again.current.items()} == \
        {o: vars(f) for o, f in first.current.items()}
    assert {o: vars(f) for o, f in again.before.items()} == \
        {o: vars(f) for o, f in first.before.items()}
