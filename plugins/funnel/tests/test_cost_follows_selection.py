"""The work behind one seller's figures for a month does not grow with other sellers' history.

Each figure is computed twice for the same seller and month: before and after as many deals
again as the company has, for the other sellers (and nobody), all of whose history lies years
before the month. What the statements read must be exactly the same: on SQLite the virtual
machine instructions the statements execute (``set_progress_handler``; a row read costs a few
instructions, an index probe is one), on PostgreSQL the rows every plan node produced (EXPLAIN
ANALYZE, actual rows × loops). A company-wide figure over the whole time, computed the same way,
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


def _plan_rows(node: dict[str, Any]) -> int:
    own = int(node.get("Actual Rows", 0)) * int(node.get("Actual Loops", 1))
    return own + sum(_plan_rows(child) for child in node.get("Plans", ()))


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
    for statement, params in seen:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
        plan_json = cursor.fetchone()[0]
        plan_json = json.loads(plan_json) if isinstance(plan_json, str) else plan_json
        total += _plan_rows(plan_json[0]["Plan"])
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
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))
    before = {(name, m.start): work_of(fn) for m in months
              for name, fn in figures(pipe, m, seller, world.now).items()}
    company_before = work_of(lambda: funnel(pipe, everything, None))

    others = [users["seller2"], users["seller3"], users["manager"], None]
    old = generate(db.session, pipe, others, deals=len(world.deals), seed=11,
                   now=world.now - timedelta(days=500), days_back=400)
    assert len(old.history) > 0.5 * len(world.history)
    assert max(h["at"] for h in old.history) < months[-1].start_dt - timedelta(days=300)
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))

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
    before = work_of(run)
    generate(db.session, pipe, [users["seller2"], users["seller3"]], deals=200, seed=12,
             now=world.now - timedelta(days=400), days_back=300)
    assert work_of(run) == before
    again = run()
    assert {o: vars(f) for o, f in again.current.items()} == \
        {o: vars(f) for o, f in first.current.items()}
    assert {o: vars(f) for o, f in again.before.items()} == \
        {o: vars(f) for o, f in first.before.items()}
