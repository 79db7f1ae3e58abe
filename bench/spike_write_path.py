"""Spike (issue 18 goal 3): a deal create through Core statements vs through the ORM flush.

    .venv/bin/python bench/spike_write_path.py [--rounds 60]

In one request context (signed in as seller01, bench database at scale 0.1, every plugin on),
times in CPU ms, round-robin: the bare INSERT + commit; ``crm.create_deal`` + commit (the
ORM path, events included, as the API runs it); the same with ``emit`` switched off (the flush
alone); and a Core path writing the same rows (deal INSERT … RETURNING, stage_history,
timeline, the stage totals' upsert, ``deal_rows_flushed`` called with the arguments the flush
listener gives, the audit row) + commit, without and with a persistent ``Deal`` put into the
identity map and ``DealCreated`` emitted. Not part of the benchmark suite: a prototype to size
the design in docs/notes/write-path.md.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_writes import PLUGINS, add_bare_insert  # noqa: E402
from common import bench_database, make_bench_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--scale", type=float, default=0.1)
    args = parser.parse_args()
    url, info = bench_database(args.scale, plugins=PLUGINS)
    app = make_bench_app(url, list(PLUGINS))
    add_bare_insert(app)

    from flask import current_app
    from flask_login import login_user
    from sqlalchemy import insert, select, text
    from sqlalchemy.orm import make_transient_to_detached

    from conveyor import audit, crm
    from conveyor import events as ev
    from conveyor.deal_changes import HISTORY, TRACKED, DealRowChange
    from conveyor.extensions import db
    from conveyor.models import AuditEntry, Customer, Deal, StageHistory, TimelineEntry, User
    from conveyor.pipelines import current_pipelines
    from conveyor.types import utcnow

    deals, hist, timeline = Deal.__table__, StageHistory.__table__, TimelineEntry.__table__
    insert_deal = insert(deals).returning(deals.c.id)
    insert_hist = insert(hist).returning(hist.c.id)
    insert_timeline = insert(timeline)
    insert_audit = insert(AuditEntry.__table__)
    audit_columns = [c for c in audit._columns(Deal(title="x")) if c != "id"]

    seller_id = info["users"]["seller01"]
    counter = [0]
    STEP: dict[str, list[float]] = {}
    with app.test_request_context("/api/v1/deals", method="POST"):
        seller = db.session.get(User, seller_id)
        login_user(seller)
        customer = db.session.scalar(select(Customer.id).where(Customer.owner_id == seller_id)
                                     .order_by(Customer.id).limit(1))
        hook = current_app.extensions["conveyor"].hook
        snapshot = current_pipelines().get()
        stage = next(s for s in snapshot.stages if s.is_open)
        db.session.commit()

        def bare() -> None:
            db.session.execute(text("INSERT INTO bench_bare_insert (note) VALUES ('x')"))
            db.session.commit()

        def orm() -> None:
            counter[0] += 1
            crm.create_deal({"customer_id": customer, "title": f"Spike {counter[0]}",
                             "amount": Decimal("1000.00")}, seller)
            db.session.commit()

        def orm_no_events() -> None:
            saved = ev.emit
            ev.emit = lambda *a, **k: None  # type: ignore[assignment]
            try:
                orm()
            finally:
                ev.emit = saved  # type: ignore[assignment]

        def mark(name: str, since: float) -> float:
            now_ = time.process_time()
            STEP.setdefault(name, []).append((now_ - since) * 1000)
            return now_

        def core_rows(with_object: bool) -> Any:
            t = time.process_time()
            counter[0] += 1
            now = utcnow()
            values = {"customer_id": customer, "owner_id": seller.id,
                      "pipeline_id": snapshot.id, "stage_id": stage.id,
                      "title": f"Spike {counter[0]}", "amount": Decimal("1000.00"),
                      "margin": Decimal("0"), "currency": "USD", "expected_close": None,
                      "lost_reason": "", "created_at": now, "updated_at": now,
                      "stage_entered_at": now, "closed_at": None, "version": 1}
            conn = db.session.connection()
            t = mark("values", t)
            deal_id = conn.execute(insert_deal, values).scalar_one()
            t = mark("INSERT deals", t)
            h = {"deal_id": deal_id, "from_stage_id": None, "to_stage_id": stage.id,
                 "at": now, "by_id": seller.id}
            h["id"] = conn.execute(insert_hist, h).scalar_one()
            conn.execute(insert_timeline, {
                "kind": "deal.created", "message": values["title"], "customer_id": customer,
                "deal_id": deal_id, "by_id": seller.id, "data": {}, "at": now})
            t = mark("INSERT history+timeline", t)
            crm._apply_totals(conn, {(stage.id, seller.id, "USD"): [1, values["amount"]]})
            t = mark("stage totals", t)
            hook.deal_rows_flushed(
                connection=conn, session=db.session,
                changes=[DealRowChange(deal_id, None, {k: values[k] for k in TRACKED})],
                history=[{c: h[c] for c in HISTORY}], removed_history={})
            t = mark("deal_rows_flushed (funnel, activities)", t)
            changes = {k: [None, audit._value(k, values[k])] for k in audit_columns
                       if values.get(k) not in (None, "", [], {})}
            conn.execute(insert_audit, [audit._entry("create", "deal", deal_id,
                                                     values["title"], changes)])
            t = mark("audit", t)
            deal = None
            if with_object:  # the deal as a persistent, loaded object: no SELECT, no flush
                deal = Deal(id=deal_id, **values)
                make_transient_to_detached(deal)
                db.session.add(deal)
                mark("Deal object", t)
            return deal

        def core() -> None:
            core_rows(False)
            t = time.process_time()
            db.session.commit()
            mark("commit", t)

        def core_event() -> None:
            deal = core_rows(True)
            ev.emit(ev.DealCreated(deal=deal, by=seller))
            db.session.commit()

        cases = {"bare INSERT + commit": bare, "ORM create_deal + commit": orm,
                 "ORM, events off": orm_no_events, "Core rows + commit": core,
                 "Core rows + Deal object + DealCreated": core_event}
        samples: dict[str, list[float]] = {name: [] for name in cases}
        walls: dict[str, list[float]] = {name: [] for name in cases}
        for i in range(5 + args.rounds):
            for name, fn in cases.items():
                start, wall = time.process_time(), time.perf_counter()
                fn()
                if i >= 5:
                    samples[name].append((time.process_time() - start) * 1000)
                    walls[name].append((time.perf_counter() - wall) * 1000)
        bare_ms = statistics.median(samples["bare INSERT + commit"])
        bare_wall = statistics.median(walls["bare INSERT + commit"])
        print("| path | CPU ms | CPU vs bare | wall ms | wall vs bare |")
        print("|---|---|---|---|---|")
        for name, values in samples.items():
            med, wmed = statistics.median(values), statistics.median(walls[name])
            print(f"| {name} | {med:.2f} | {bare_ms / med:.2f} | {wmed:.2f} | "
                  f"{bare_wall / wmed:.2f} |")
        steps = {k: statistics.median(v) for k, v in STEP.items()}
        print("\nCore path steps (CPU ms, median):",
              ", ".join(f"{k} {v:.3f}" for k, v in steps.items()))


if __name__ == "__main__":
    main()
