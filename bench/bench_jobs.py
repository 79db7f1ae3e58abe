"""Jobs over the outbox on RQ (issue 10, "Speed"), on PostgreSQL and Redis.

    python bench/bench_jobs.py                 # a throwaway PostgreSQL 15 and Redis
    python bench/bench_jobs.py --url URL       # an existing PostgreSQL database (wiped!)
    python bench/bench_jobs.py --jobs 500      # a quick run

1. A write request that adds an outbox row: ``POST /api/v1/customers`` in an app where a plugin
   implements ``track_event`` (the transaction's events become an outbox row, pushed to Redis
   after the commit) against the same request in an app where none does (no row). Interleaved,
   ``--rounds`` each, medians. Goal: without / with >= 0.8 (the outbox costs <= 25 %).
2. Delivery throughput: ``--jobs`` jobs, each one notification written, run by ``--workers``
   ``conveyor worker`` processes: a loop queueing them through the outbox (rows committed 100
   per transaction and pushed after each commit; the worker claims, runs, marks done) against a
   bare loop enqueuing the same work straight into RQ (the worker runs it and commits). Jobs per
   second from the first enqueue to the last job done. Goal: outbox / bare >= 0.5. Also
   reported: the outbox loop committing each row on its own (the producer then waits on one
   commit per job, as N requests would).
3. Delay from commit to a job's start, p50 and p99, with jobs queued one at a time (20 ms
   apart) to idle workers: the outbox row's ``created_at`` (just before the commit) to its
   ``started_at`` (the worker's claim).

Everything shares this machine's cores. Writes ``bench/results/jobs.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from common import database_label, measure, throwaway_postgres, write_results  # noqa: E402

WORKER = BENCH / "jobs_worker.py"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]


def build(url: str, redis_url: str, track: bool) -> Any:
    from jobs_plugin import Plugin, Tracker

    from conveyor import create_app

    extra = [("bench", Plugin())] + ([("tracker", Tracker())] if track else [])
    return create_app(config={"database_url": url, "redis_url": redis_url, "secret_key": "bench",
                              "ratelimit_enabled": False, "plugins": []},
                      plugins=[], extra_plugins=extra,
                      instance_path=str(BENCH / "data" / "instance"))


def prepare(url: str, redis_url: str) -> tuple[Any, Any]:
    from conveyor.schema import create_tables, drop_tables
    from conveyor.testing import seed_test_data

    with_row, without = build(url, redis_url, True), build(url, redis_url, False)
    drop_tables(with_row)
    create_tables(with_row)
    users = seed_test_data(with_row)
    with_row.config["TEST_USER_IDS"] = users
    return with_row, without


def write_requests(with_row: Any, without: Any, rounds: int) -> dict[str, Any]:
    from conveyor.testing import token_headers

    headers = token_headers(with_row, "seller")
    clients = {"with": with_row.test_client(), "without": without.test_client()}
    counter = iter(range(10**9))

    def post(name: str) -> Any:
        return lambda: clients[name].post("/api/v1/customers", headers=headers,
                                          json={"name": f"Bench {next(counter)}"})

    timings = measure({"without outbox row": post("without"), "with outbox row": post("with")},
                      rounds=rounds, warmup=20)
    assert all(t.status == 201 for t in timings.values())
    return {name: t.median for name, t in timings.items()}


def start_workers(n: int, url: str, redis_url: str) -> list[subprocess.Popen]:
    env = {**os.environ, "BENCH_APP_URL": url, "BENCH_REDIS_URL": redis_url,
           "PYTHONPATH": f"{BENCH}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    procs = [subprocess.Popen([sys.executable, str(WORKER), f"bench-{i}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for i in range(n)]
    return procs


def wait_workers(app: Any, n: int) -> None:
    backend = app.extensions["conveyor_jobs_backend"]
    end = time.monotonic() + 60
    while len(backend.workers()) < n:
        if time.monotonic() > end:
            raise RuntimeError("workers did not start")
        time.sleep(0.2)


def count(app: Any, prefix: str) -> int:
    from sqlalchemy import func, select

    from conveyor.extensions import db
    from conveyor.models import Notification

    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Notification)
                              .where(Notification.message.like(prefix + " %")))
        db.session.rollback()
    return int(n or 0)


def wait_count(app: Any, prefix: str, n: int, timeout: float = 600) -> float:
    end = time.monotonic() + timeout
    while count(app, prefix) < n:
        if time.monotonic() > end:
            raise RuntimeError(f"{prefix}: {count(app, prefix)} of {n} done")
        time.sleep(0.05)
    return time.perf_counter()


def throughput(app: Any, jobs: int) -> dict[str, float]:
    from conveyor import enqueue
    from conveyor.extensions import db

    backend = app.extensions["conveyor_jobs_backend"]
    start = time.perf_counter()
    for n in range(jobs):
        backend.queue.enqueue("jobs_plugin.bare_touch", n, result_ttl=60)
    bare = jobs / (wait_count(app, "bare", jobs) - start)
    rates = {"bare": bare}
    done = 0
    for name, per_commit in (("outbox", 100), ("outbox, a commit per job", 1)):
        start = time.perf_counter()
        with app.app_context():
            for n in range(done, done + jobs):
                enqueue("bench.touch", n=n)
                if (n + 1) % per_commit == 0:
                    db.session.commit()
            db.session.commit()
        done += jobs
        rates[name] = jobs / (wait_count(app, "outbox", done) - start)
    return rates


def delays(app: Any, jobs: int) -> list[float]:
    from sqlalchemy import select

    from conveyor import enqueue
    from conveyor.extensions import db
    from conveyor.models import OutboxMessage

    ids = []
    with app.app_context():
        for n in range(jobs):
            ids.append(enqueue("bench.touch", n=10**6 + n))
            db.session.commit()
            time.sleep(0.02)
    end = time.monotonic() + 120
    with app.app_context():
        while True:
            rows = db.session.execute(select(OutboxMessage.created_at, OutboxMessage.started_at)
                                      .where(OutboxMessage.id.in_(ids),
                                             OutboxMessage.status == "done")).all()
            db.session.rollback()
            if len(rows) == len(ids) or time.monotonic() > end:
                break
            time.sleep(0.1)
    return [(r.started_at - r.created_at).total_seconds() * 1000 for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="PostgreSQL URL (wiped); a throwaway server by default")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--delay-jobs", type=int, default=300)
    args = parser.parse_args()
    from conveyor.testing import RedisServer

    with ExitStack() as stack:
        url = args.url or stack.enter_context(throwaway_postgres("jobs"))
        redis = RedisServer().start()
        stack.callback(redis.stop)
        with_row, without = prepare(url, redis.url)
        medians = write_requests(with_row, without, args.rounds)
        with_row.extensions["conveyor_jobs_backend"].redis.flushdb()  # part 1's rows: unqueued
        from sqlalchemy import delete

        from conveyor.extensions import db
        from conveyor.models import OutboxMessage

        with with_row.app_context():
            db.session.execute(delete(OutboxMessage))
            db.session.commit()
        workers = start_workers(args.workers, url, redis.url)

        def stop_workers() -> None:
            for proc in workers:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)

        stack.callback(stop_workers)
        wait_workers(with_row, args.workers)
        rates = throughput(with_row, args.jobs)
        delay_ms = delays(with_row, args.delay_jobs)
        label = database_label(url)

    ratio_write = medians["without outbox row"] / medians["with outbox row"]
    ratio_rate = rates["outbox"] / rates["bare"]
    rows = [
        ["write request (POST /api/v1/customers), median ms", "without row: "
         f"{medians['without outbox row']:.2f}", f"with row: {medians['with outbox row']:.2f}",
         f"{ratio_write:.2f}×", ">= 0.8×", "yes" if ratio_write >= 0.8 else "NO"],
        [f"delivery throughput, jobs/s ({args.jobs} jobs, {args.workers} workers; outbox "
         "rows committed 100 per transaction)",
         f"bare RQ: {rates['bare']:.0f}", f"outbox: {rates['outbox']:.0f}",
         f"{ratio_rate:.2f}×", ">= 0.5×", "yes" if ratio_rate >= 0.5 else "NO"],
        ["the same, each outbox row in its own transaction (a request each)",
         f"bare RQ: {rates['bare']:.0f}", f"outbox: {rates['outbox, a commit per job']:.0f}",
         f"{rates['outbox, a commit per job'] / rates['bare']:.2f}×", "(reported)", ""],
        [f"commit → job start, ms ({len(delay_ms)} jobs, one at a time)",
         f"p50: {statistics.median(delay_ms):.1f}", f"p99: {percentile(delay_ms, 0.99):.1f}",
         "", "reported", ""],
    ]
    path = write_results("jobs", {"database": label, "redis": "redis-server (Debian), local",
                                  "workers": args.workers, "jobs": args.jobs,
                                  "rounds": args.rounds},
                         ["measure", "reference", "measured", "ratio", "goal", "met"], rows,
                         extra_json={"medians_ms": medians, "rates": rates,
                                     "delay_ms": {"p50": statistics.median(delay_ms),
                                                  "p99": percentile(delay_ms, 0.99),
                                                  "max": max(delay_ms)}})
    print(path.read_text())


if __name__ == "__main__":
    main()
