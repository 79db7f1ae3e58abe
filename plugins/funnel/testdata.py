"""Random deals with consistent stage histories, written straight as rows (seeded, fast).

Used by the plugin's tests (which recompute every figure by brute force over the same rows)
and by ``bench/bench_funnel.py`` when the shared generator is not there. Not used at runtime.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from conveyor.crm import rebuild_deal_totals
from conveyor.models import Customer, Deal, StageHistory

from .sqlparts import PipelineInfo
from .summaries import rebuild

LOST_REASONS = ["", "Price", "Competitor", "No budget", "No decision"]


@dataclass
class World:
    """The generated rows, as plain dicts, for brute-force checks."""

    pipeline: PipelineInfo
    now: datetime
    deals: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


def _path(rng: random.Random, pipe: PipelineInfo, created: datetime, now: datetime,
          ) -> list[tuple[int, datetime]]:
    forward = pipe.funnel_stages
    open_ = pipe.open_stages
    lost = [s for s in pipe.stages if s.is_lost]
    i = rng.choice([0, 0, 0, 1, 2])
    stage = forward[i]
    at = created
    rows = [(stage.id, at)]
    while True:
        at = at + timedelta(seconds=rng.randrange(3600, 40 * 86400))
        if at >= now or rng.random() < 0.12:
            break
        roll = rng.random()
        if stage.is_won or stage.is_lost:
            if roll > 0.1:
                break
            stage = rng.choice(open_)  # reopened
        elif roll < 0.14 and lost:
            stage = rng.choice(lost)
        elif roll < 0.2 and i > 0:
            i -= 1
            stage = forward[i]
        else:
            i = min(len(forward) - 1, i + rng.choice([1, 1, 1, 2, 3]))
            stage = forward[i]
        if stage.id == rows[-1][0]:
            continue
        i = forward.index(stage) if stage in forward else i
        rows.append((stage.id, at))
    return rows


def generate(session: Any, pipe: PipelineInfo, owners: list[int | None], deals: int,
             seed: int = 1, now: datetime | None = None, days_back: int = 400,
             currencies: tuple[str, ...] = ("USD",)) -> World:
    """``deals`` deals of ``pipe`` spread over ``owners`` with histories in the last
    ``days_back`` days, in ``currencies`` (picked at random); returns the rows written."""
    from conveyor.types import utcnow

    rng = random.Random(seed)
    now = (now or utcnow()).replace(microsecond=0)
    world = World(pipe, now)
    customers = []
    for n in range(3):
        customer = Customer(name=f"Customer {seed}-{n}", owner_id=owners[0])
        session.add(customer)
        session.flush()
        customers.append(customer.id)
    paths = []
    stage_of = {s.id: s for s in pipe.stages}
    for n in range(deals):
        created = now - timedelta(seconds=rng.randrange(60, days_back * 86400))
        path = _path(rng, pipe, created, now)
        last_stage, last_at = path[-1]
        closed = not stage_of[last_stage].is_open
        amount = Decimal(rng.randrange(100, 5_000_000)) / 100
        deal = {"customer_id": rng.choice(customers),
                "owner_id": rng.choice(owners), "pipeline_id": pipe.id, "stage_id": last_stage,
                "title": f"Deal {n}", "amount": amount,
                "margin": (amount * Decimal(rng.randrange(5, 40)) / 100).quantize(Decimal("0.01")),
                "currency": currencies[0] if len(currencies) == 1 else rng.choice(currencies),
                "lost_reason": rng.choice(LOST_REASONS)
                if stage_of[last_stage].is_lost else "",
                "created_at": created, "updated_at": last_at, "stage_entered_at": last_at,
                "closed_at": last_at if closed else None, "version": 1}
        world.deals.append(deal)
        paths.append(path)
    ids = list(session.scalars(insert(Deal).returning(Deal.id, sort_by_parameter_order=True),
                               world.deals))
    for deal, deal_id, path in zip(world.deals, ids, paths):
        deal["id"] = deal_id
        previous = None
        for stage_id, at in path:
            world.history.append({"deal_id": deal_id, "from_stage_id": previous,
                                  "to_stage_id": stage_id, "at": at, "by_id": None})
            previous = stage_id
    session.execute(insert(StageHistory), world.history)
    rebuild_deal_totals(session)  # rows written straight: the summary the app keeps, rebuilt
    rebuild(session.connection())  # and the funnel's own
    session.commit()
    return world
