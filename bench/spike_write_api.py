"""Spike (issue 18 goal 3): the real ``POST /api/v1/deals`` with ``crm.create_deal`` swapped
for a Core-statement prototype, against the bare INSERT endpoint, CPU ms in-process.

    .venv/bin/python bench/spike_write_api.py [--rounds 60]

Round-robin through the Flask test client (bearer token, as bench_writes): the bare INSERT,
the API create as it is, and the API create with the prototype. The prototype writes the rows
the ORM flush writes (checked statement by statement in docs/notes/write-path.md), calls
``deal_rows_flushed`` as the flush listener does, writes the audit row, puts a persistent
``Deal`` in the identity map (no SELECT) and emits ``DealCreated``. ``--keep-potential``
also lets the relationships plugin skip its type statement for any customer whose stored type
already has a win (a new open deal can only move "cold").
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


CORE_INSERTED = "spike_core_inserted"


def _forget_core_inserted(session: Any, previous_transaction: Any) -> None:
    """Rolled back: expunge the deals the Core path put in the session (they never existed)."""
    if session.in_transaction() and previous_transaction is not None \
            and previous_transaction.nested:
        return  # a SAVEPOINT rolled back: the spike keeps it simple and forgets nothing
    for deal in session.info.pop(CORE_INSERTED, []):
        if deal in session:
            session.expunge(deal)


def _committed(session: Any) -> None:
    session.info.pop(CORE_INSERTED, None)


def install_listeners() -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    if not event.contains(Session, "after_soft_rollback", _forget_core_inserted):
        event.listen(Session, "after_soft_rollback", _forget_core_inserted)
        event.listen(Session, "after_commit", _committed)


def core_create_deal(data: dict[str, Any], by: Any) -> Any:
    """What ``crm.create_deal`` writes, as Core statements (default pipeline, open stage)."""
    from flask import current_app
    from sqlalchemy import insert
    from sqlalchemy.orm import make_transient_to_detached

    from conveyor import audit, crm, stage_gates
    from conveyor import events as ev
    from conveyor.deal_changes import HISTORY, TRACKED, DealRowChange
    from conveyor.extensions import db
    from conveyor.models import AuditEntry, Deal, StageHistory, TimelineEntry
    from conveyor.pipelines import current_pipelines
    from conveyor.types import utcnow

    from conveyor.models import Stage

    install_listeners()
    data = dict(data)
    stage: Any = data.pop("stage", None)
    stage_id = data.pop("stage_id", None)
    if stage is None and stage_id:
        stage = next((s for s in current_pipelines().all_stages() if s.id == stage_id),
                     None) or db.session.get(Stage, stage_id)
    if stage is None:
        snapshot = current_pipelines().get()
        if snapshot is None or not any(s.is_open for s in snapshot.stages):
            pipeline = crm.default_pipeline()
            stage = crm.first_stage(pipeline)
        else:
            stage = next(s for s in snapshot.stages if s.is_open)
    now = utcnow()
    by_id = getattr(by, "id", None)
    values = {"customer_id": data["customer_id"], "owner_id": data.get("owner_id", by_id),
              "pipeline_id": stage.pipeline_id, "stage_id": stage.id, "title": data["title"],
              "amount": Decimal(data.get("amount", 0)), "margin": Decimal(data.get("margin", 0)),
              "currency": data.get("currency",
                                   current_app.config["CONVEYOR"]["default_currency"]),
              "expected_close": data.get("expected_close"), "lost_reason": "",
              "created_at": now, "updated_at": now, "stage_entered_at": now,
              "closed_at": now if stage.is_closed else None, "version": 1}
    deal = Deal(**values)
    if isinstance(stage, Stage):
        deal.stage = stage
    stage_gates.check_move(deal, None, stage.id, by)
    deals, hist = Deal.__table__, StageHistory.__table__
    conn = db.session.connection()
    deal_id = conn.execute(insert(deals).returning(deals.c.id), values).scalar_one()
    h = {"deal_id": deal_id, "from_stage_id": None, "to_stage_id": stage.id, "at": now,
         "by_id": by_id}
    h["id"] = conn.execute(insert(hist).returning(hist.c.id), h).scalar_one()
    conn.execute(insert(TimelineEntry.__table__), {
        "kind": "deal.created", "message": values["title"], "customer_id": values["customer_id"],
        "deal_id": deal_id, "by_id": by_id, "data": {}, "at": now})
    crm._apply_totals(conn, {(stage.id, values["owner_id"] or 0, values["currency"]):
                             [1, values["amount"]]})
    current_app.extensions["conveyor"].hook.deal_rows_flushed(
        connection=conn, session=db.session,
        changes=[DealRowChange(deal_id, None, {k: values[k] for k in TRACKED})],
        history=[{c: h[c] for c in HISTORY}], removed_history={})
    changes = {k: [None, audit._value(k, values[k])] for k in audit._columns(deal)
               if k != "id" and values.get(k) not in (None, "", [], {})}
    conn.execute(insert(AuditEntry.__table__),
                 [audit._entry("create", "deal", deal_id, values["title"], changes)])
    deal.id = deal_id
    make_transient_to_detached(deal)
    db.session.add(deal)  # persistent and loaded: later reads need no SELECT, nothing to flush
    # The ORM forgets the objects *it* inserted when the transaction rolls back; this one it
    # did not insert: without this, a rolled-back create leaves a ghost deal in the identity
    # map (and SQLite, reusing the id, then refuses the next create's object).
    db.session.info.setdefault(CORE_INSERTED, []).append(deal)
    ev.emit(ev.DealCreated(deal=deal, by=by))
    return deal


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--keep-potential", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the prototype")
    args = parser.parse_args()
    url, info = bench_database(0.1, plugins=PLUGINS)
    app = make_bench_app(url, list(PLUGINS))
    add_bare_insert(app)
    from sqlalchemy import select

    from conveyor import crm
    from conveyor.extensions import db
    from conveyor.models import ApiToken, Customer, User

    if args.keep_potential:
        from conveyor.plugins.relationships import services
        services.KEPT_BY_AN_OPEN_DEAL = frozenset({"potential", "current", "regular", "lapsed"})
    seller_id = info["users"]["seller01"]
    with app.app_context():
        token, secret = ApiToken.issue(db.session.get(User, seller_id))
        db.session.add(token)
        customer = db.session.scalar(select(Customer.id).where(Customer.owner_id == seller_id)
                                     .order_by(Customer.id).limit(1))
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    api = {"Authorization": f"Bearer {secret}"}
    orm_create = crm.create_deal
    n = [0]

    def post() -> None:
        n[0] += 1
        response = client.post("/api/v1/deals", headers=api, json={
            "customer_id": customer, "title": f"Spike {n[0]}", "amount": "1000.00"})
        assert response.status_code == 201, response.get_data(as_text=True)
        response.close()

    def with_core() -> None:
        crm.create_deal = core_create_deal
        try:
            post()
        finally:
            crm.create_deal = orm_create

    if "--profile" in sys.argv[1:]:
        import cProfile
        import pstats
        for _ in range(5):
            with_core()
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(50):
            with_core()
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(60)
        return
    cases = {"bare INSERT (POST /_bench/insert)": lambda: client.post("/_bench/insert").close(),
             "API create, ORM (today)": post, "API create, Core prototype": with_core}
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(5 + args.rounds):
        for name, fn in cases.items():
            start = time.process_time()
            fn()
            if i >= 5:
                samples[name].append((time.process_time() - start) * 1000)
    bare = statistics.median(samples["bare INSERT (POST /_bench/insert)"])
    print("| request | CPU ms | CPU ratio |")
    print("|---|---|---|")
    for name, values in samples.items():
        med = statistics.median(values)
        print(f"| {name} | {med:.2f} | {bare / med:.2f} |")


if __name__ == "__main__":
    main()
