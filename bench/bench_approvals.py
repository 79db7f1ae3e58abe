"""Approvals and stage gates (issue 12, "Speed").

    python bench/bench_approvals.py                 # SQLite files in a temporary folder
    python bench/bench_approvals.py --rounds 3 --batch 10 --pending 2000   # a quick run

SQLite only for now: the four apps of the move benchmark each need their own database.

1. **A stage move with the gate hook registered vs without: ≥ 0.8×.** Four apps, each on its own
   database with the test company (``conveyor.testing.seed_test_data``) and the same deals, move
   deals forward from 40 % to 60 % through ``POST /api/v1/deals/{id}/stage`` (the API's whole
   path: token, scope, ``move_deal``, history, timeline, totals, commit), in-process through
   Flask's test client: the core alone; with the approvals plugin (its gates declared, none
   switched on for the stages moved over); with ``approvals.approved:deal`` switched on for 60 %
   and every deal's terms approved (the gate is asked and reads the latest request and the
   deal's discount); with ``approvals.discount`` switched on (asked, no discount). Rounds are
   round-robin over the four apps, a batch of moves each; the figure is the median time per move
   and the ratio core / app (moves per second relative to the core's).
2. **The lawyer's queue at 10k pending approvals within 3× the bare route.** 10,000 requests
   waiting for "any lawyer", 5,000 waiting for managers and 5,000 decided; the lawyer's queue
   page (``/approvals/``) and ``GET /api/v1/approvals?status=pending`` are timed against
   ``/_bench/bare/<id>`` (one primary-key SELECT, ``common.add_bare_route``) in the same rounds.

Writes ``bench/results/approvals.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import add_bare_route, client_for, database_label, measure, table, write_results  # noqa: E402,I001

MOVE_GOAL = 0.8
QUEUE_GOAL = 3.0


def build_app(url: str, plugins: list[str]) -> Any:
    from conveyor.app import create_app
    from conveyor.schema import create_tables, drop_tables
    from conveyor.testing import seed_test_data

    app = create_app(config={"database_url": url, "secret_key": "bench", "plugins": plugins,
                             "ratelimit_enabled": False}, plugins=plugins,
                     instance_path=tempfile.mkdtemp(prefix="bench-approvals-"))
    if not url.startswith("sqlite"):
        drop_tables(app)
    create_tables(app)
    app.config["TEST_USER_IDS"] = seed_test_data(app)
    add_bare_route(app)
    return app


def seed_deals(app: Any, count: int, gate: str | None) -> list[int]:
    """``count`` deals of the seller at 40 %; with ``gate`` switched on for 60 % (and, for the
    approval gate, every deal's terms approved by the manager)."""
    from conveyor import crm
    from conveyor.extensions import db
    from conveyor.models import Stage, User

    with app.app_context():
        seller = db.session.get(User, app.config["TEST_USER_IDS"]["seller"])
        manager = db.session.get(User, app.config["TEST_USER_IDS"]["manager"])
        stages = {s.percent: s for s in db.session.query(Stage).filter(Stage.is_won.is_(False))}
        customer = crm.create_customer({"name": "Bench Ltd"}, seller)
        deals = [crm.create_deal({"customer_id": customer.id, "title": f"Deal {i}",
                                  "amount": Decimal("1000.00"), "stage": stages[40]}, seller)
                 for i in range(count)]
        db.session.commit()
        if gate:
            stages[60].gates = [gate]
            if gate == "approvals.approved:deal":
                from conveyor.plugins.approvals import services

                for deal in deals:
                    request = services.request_approval("deal", deal, seller)
                    services.approve(request, manager)
            db.session.commit()
        return [d.id for d in deals]


def bench_moves(url_for_app: Any, rounds: int, batch: int) -> tuple[list[list[Any]], dict]:
    from conveyor.testing import token_headers

    configs = [
        ("core alone (no gate declared)", [], None),
        ("approvals on, no gate on the way", ["approvals"], None),
        ("approvals on, approvals.approved:deal on 60 % (asked, passes)", ["approvals"],
         "approvals.approved:deal"),
        ("approvals on, approvals.discount on 60 % (asked, passes)", ["approvals"],
         "approvals.discount"),
    ]
    runs = []
    for i, (name, plugins, gate) in enumerate(configs):
        app = build_app(url_for_app(i), plugins)
        with app.app_context():
            to_stage = None
        ids = seed_deals(app, (rounds + 1) * batch, gate)
        from conveyor.extensions import db
        from conveyor.models import Stage

        with app.app_context():
            to_stage = db.session.query(Stage.id).filter(Stage.percent == 60).scalar()
        runs.append({"name": name, "app": app, "ids": ids, "stage": to_stage,
                     "client": app.test_client(),
                     "headers": token_headers(app, "seller"), "samples": []})
    for r in range(rounds + 1):  # the first round warms up
        for run in runs:
            chunk = run["ids"][r * batch:(r + 1) * batch]
            start = time.perf_counter()
            for deal_id in chunk:
                resp = run["client"].post(f"/api/v1/deals/{deal_id}/stage",
                                          json={"stage_id": run["stage"]},
                                          headers=run["headers"])
                assert resp.status_code == 200, (run["name"], resp.status_code, resp.json)
            if r:
                run["samples"].append((time.perf_counter() - start) * 1000 / len(chunk))
    base = statistics.median(runs[0]["samples"])
    rows = []
    for run in runs:
        med = statistics.median(run["samples"])
        ratio = base / med
        rows.append([run["name"], f"{med:.2f}", f"{ratio:.2f}",
                     "—" if run is runs[0] else ("yes" if ratio >= MOVE_GOAL else "NO")])
    raw = {run["name"]: run["samples"] for run in runs}
    for run in runs:
        with run["app"].app_context():
            db.session.remove()
            db.engine.dispose()
    return rows, raw


def seed_queue(app: Any, pending: int) -> None:
    """``pending`` requests for any lawyer, half as many for managers, half as many decided."""
    from sqlalchemy import insert

    from conveyor.extensions import db
    from conveyor.plugins.approvals.models import ApprovalRequest
    from conveyor.types import utcnow

    ids = app.config["TEST_USER_IDS"]
    sellers = [ids["seller"], ids["seller2"], ids["seller3"]]
    now = utcnow()
    rows = []
    for i in range(pending * 2):
        kind = "lawyer" if i < pending else ("manager" if i % 2 else "done")
        rows.append({"resource": "bench", "record_id": i + 1, "deal_id": None,
                     "version": f"{i:064x}", "title": f"Contract {i + 1}", "url": "",
                     "note": "", "requested_by_id": sellers[i % 3],
                     "rule": "role", "approver_role": "manager" if kind == "manager" else "lawyer",
                     "approver_id": None,
                     "status": "approved" if kind == "done" else "pending",
                     "created_at": now, "submitted_at": now,
                     "decided_at": now if kind == "done" else None,
                     "decided_by_id": ids["lawyer"] if kind == "done" else None,
                     "escalated_at": None})
    with app.app_context():
        for start in range(0, len(rows), 2000):
            db.session.execute(insert(ApprovalRequest), rows[start:start + 2000])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE approvals_request")
        else:
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()


def bench_queue(url: str, pending: int, rounds: int) -> tuple[list[list[Any]], dict]:
    """Over HTTP (gunicorn, one sync worker: what the goal is judged on, as in bench_core) and
    in-process (the app's own work alone, the stricter figure), in the same rounds."""
    from common import served

    from conveyor.testing import token_headers

    app = build_app(url, ["approvals"])
    deal_id = seed_deals(app, 1, None)[0]
    seed_queue(app, pending)
    lawyer_id = app.config["TEST_USER_IDS"]["lawyer"]
    lawyer = client_for(app, lawyer_id)
    headers = token_headers(app, "lawyer")
    api = app.test_client()
    pages = {
        "bare route (one primary-key SELECT)": (f"/_bench/bare/{deal_id}", None),
        "lawyer's queue page /approvals/": ("/approvals/", None),
        "GET /api/v1/approvals?status=pending": ("/api/v1/approvals?status=pending", headers),
        "lawyer's home (queue, approved this week, sent back)": ("/", None),
    }
    with served(url, ["approvals"]) as server:
        http = server.client(app, lawyer_id)
        cases: dict[str, Any] = {}
        for name, (path, extra) in pages.items():
            cases[("http", name)] = (lambda p=path, e=extra: http(p, e))
            client = api if extra or path.startswith("/_bench") else lawyer
            cases[("in-process", name)] = (lambda c=client, p=path, e=extra: c.get(
                p, headers=e or {}))
        timings = measure(cases, rounds=rounds, warmup=5)
    for key, timing in timings.items():
        assert timing.status == 200, (key, timing.status)
    rows = []
    for name in pages:
        row = [name]
        for mode in ("http", "in-process"):
            base = timings[(mode, "bare route (one primary-key SELECT)")].median
            timing = timings[(mode, name)]
            ratio = timing.median / base
            row += [f"{timing.median:.2f}", f"{ratio:.2f}"]
        http_ratio = float(row[2])
        row.append("—" if name.startswith("bare") else ("yes" if http_ratio <= QUEUE_GOAL
                                                        else "NO"))
        rows.append(row)
    return rows, {f"{m} {n}": t.samples_ms for (m, n), t in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--queue-rounds", type=int, default=60)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-approvals-db-"))

    def url_for_app(i: int) -> str:
        return f"sqlite:///{folder}/moves-{i}.db"

    move_rows, move_raw = bench_moves(url_for_app, args.rounds, args.batch)
    move_headers = ["stage move (API, in-process)", "ms per move (median)",
                    "moves/s vs core", f"≥ {MOVE_GOAL}×"]
    print(table(move_headers, move_rows))
    queue_rows, queue_raw = bench_queue(f"sqlite:///{folder}/queue.db",
                                        args.pending, args.queue_rounds)
    queue_headers = ["page (as the lawyer)", "HTTP median ms", "HTTP × bare",
                     "in-process median ms", "in-process × bare", f"HTTP ≤ {QUEUE_GOAL}×"]
    print(table(queue_headers, queue_rows))
    label = database_label("sqlite://")
    name = "approvals"
    extra = ("## The lawyer's queue at "
             f"{args.pending:,} pending approvals\n\n" + table(queue_headers, queue_rows) + "\n\n"
             "Each stage-move figure is the median over rounds of a batch's mean time per move; "
             "the apps take turns round by round, so load from other processes on the shared "
             "machine hits each alike. The queue reads one index range per approver rule "
             "(UNION ALL, each with its LIMIT), so its cost does not depend on how many requests "
             "wait.")
    write_results(name, {"database": label, "rounds": args.rounds,
                         "moves per round and app": args.batch,
                         "pending approvals": args.pending, "queue rounds": args.queue_rounds},
                  move_headers, move_rows, extra_md=extra,
                  extra_json={"queue": {"columns": queue_headers, "rows": queue_rows},
                              "samples": {"moves": move_raw, "queue": queue_raw}})


if __name__ == "__main__":
    main()
