"""The work behind one seller's figures for a month does not grow with other sellers' history.

Each figure is computed twice for the same seller and month, with other sellers' (and nobody's)
old history — deals all of whose history lies years before the month — and with that old history
doubled. What the statements read (``conveyor.testing.statement_work``: SQLite's virtual machine
instructions, PostgreSQL's rows read by table and index scans) must be exactly the same on
SQLite; on PostgreSQL never more (see ``same_or_less``). A
company-wide figure over the whole time, measured the same way, does grow — the measure sees the
added history.

Runs on SQLite, and on PostgreSQL when CONVEYOR_TEST_DATABASE_URL is set.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from conveyor import db
from conveyor.plugins.funnel import dwell as dwell_mod
from conveyor.plugins.funnel.five import five_numbers
from conveyor.plugins.funnel.metrics import conversion, funnel, outcomes
from conveyor.plugins.funnel.periods import Period, current
from conveyor.plugins.funnel.plan import plan
from conveyor.plugins.funnel.sqlparts import load_pipeline
from conveyor.plugins.funnel.testdata import generate
from conveyor.testing import freeze_statistics, statement_work


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


def same_or_less(after: dict[Any, int], before: dict[Any, int]) -> bool:
    """SQLite plans without statistics: exactly the same. PostgreSQL may, as the tables grow,
    move a statement from one index over the seller's own deals to another it now estimates
    cheaper ((owner, stage, id) or (owner, stage, entered)): never more."""
    if db.engine.dialect.name == "postgresql":
        return all(after[k] <= before[k] for k in before) and after.keys() == before.keys()
    return after == before


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
    freeze_statistics()
    before = {(name, m.start): statement_work(fn) for m in months
              for name, fn in figures(pipe, m, seller, world.now).items()}
    company_before = statement_work(lambda: funnel(pipe, everything, None))

    more = add_old_history(world, users, seed=13)  # ... doubled
    assert len(more.history) > 0.8 * len(old.history)
    # No second ANALYZE: PostgreSQL scales its row estimates by the tables' grown size, but new
    # statistics of a few hundred rows would let it swap between equivalent index conditions.
    after = {(name, m.start): statement_work(fn) for m in months
             for name, fn in figures(pipe, m, seller, world.now).items()}
    # Every figure reads something in one of the months (a month with nothing closed yet may
    # read no summary row at all: PostgreSQL counts rows the scans return).
    assert all(any(before[(name, m.start)] > 0 for m in months)
               for name in figures(pipe, months[0], seller, world.now)), before
    assert same_or_less(after, before), {k: (before[k], after[k]) for k in before
                                         if after[k] != before[k]}
    assert statement_work(lambda: funnel(pipe, everything, None)) > company_before


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
    freeze_statistics()
    before = statement_work(run)
    add_old_history(world, users, seed=12)
    assert same_or_less({0: statement_work(run)}, {0: before})
    again = run()
    assert {o: vars(f) for o, f in again.current.items()} == \
        {o: vars(f) for o, f in first.current.items()}
    assert {o: vars(f) for o, f in again.before.items()} == \
        {o: vars(f) for o, f in first.before.items()}
