"""A bounded mixed load against gunicorn -w 4 on PostgreSQL: throughput and latency per page
(issue 18, goal 6).

    .venv/bin/python bench/bench_concurrency.py --scale 0.1            # throwaway PostgreSQL
    .venv/bin/python bench/bench_concurrency.py --scale 0.1 --sqlite   # the cached SQLite file
    .venv/bin/python bench/bench_concurrency.py --url URL              # a database you give

The bench app with every plugin of ``config/defaults.toml`` is served by gunicorn (``-w 4``, sync
workers) on 127.0.0.1. ``--clients`` (16) threads each send one request at a time for
``--seconds`` (60): a closed loop, so at most 16 requests are in flight ("bounded"), each on a new
connection (the sync worker closes it). Each request is drawn at random (seeded): 80 % reads —
the core pages (deals list, board, deal and customer cards, customers list, home), the REST
API's deals list, and the analytics (funnel, five numbers, relationships report) — and 20 %
writes: a deal created through the API and through the web form (CSRF token and all), a stage
move through the API and a call logged through the API. Client *i* is seller *i* (their own
deals, cards, and analytics of their own month: what a seller opens), signed in by session
cookie for pages and with their own bearer token for the API; calls are logged with the
telemarketer's token.

Reported per page: requests, requests/s, p50/p95/p99 ms and p99/p50; an error is any answer
other than the one the request should get (200, 201 or the form's 302) or a failed connection.
Goal: 0 errors, and no page whose p99 exceeds 10× its p50. Results:
``bench/results/concurrency[-sqlite][-s<scale>].md|json`` with the load average before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    bench_database,
    database_label,
    default_plugins,
    make_bench_app,
    served,
    throwaway_postgres,
    write_results,
)

PLUGINS = default_plugins()
WORKERS = 4
TAIL_GOAL = 10.0  # p99 / p50 at most
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "0")) or None
HEADERS = ["page", "kind", "share %", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms",
           "p99/p50", "errors", "pass"]

# (label, kind, weight, expected status); reads add up to 80, writes to 20.
MIX: list[tuple[str, str, int, int]] = [
    ("deals list", "read", 12, 200),
    ("pipeline board", "read", 10, 200),
    ("deal card", "read", 10, 200),
    ("customer card", "read", 8, 200),
    ("customers list", "read", 8, 200),
    ("home", "read", 6, 200),
    ("API: deals list", "read", 6, 200),
    ("funnel", "read", 8, 200),
    ("five numbers", "read", 6, 200),
    ("relationships report", "read", 6, 200),
    ("create a deal (API)", "write", 6, 201),
    ("create a deal (web form)", "write", 4, 302),
    ("move a stage (API)", "write", 6, 200),
    ("log a call (API)", "write", 4, 201),
]
PATHS = {"deals list": "/deals/", "pipeline board": "/deals/board", "customers list":
         "/customers/", "home": "/", "API: deals list": "/api/v1/deals", "funnel": "/funnel/",
         "five numbers": "/funnel/five", "relationships report": "/relationships/"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def prepare(app: Any, info: dict[str, Any], clients: int) -> list[dict[str, Any]]:
    """Per client: the seller, a token, one of their deals and customers, a deal to move."""
    from sqlalchemy import select

    from conveyor import crm
    from conveyor.extensions import db
    from conveyor.models import ApiToken, Customer, Deal, Stage, User

    sellers = sorted(v for k, v in info["users"].items() if k.startswith("seller"))
    out: list[dict[str, Any]] = []
    with app.app_context():
        caller = db.session.get(User, info["users"]["telemarketer"])
        call_token, call_secret = ApiToken.issue(caller)
        db.session.add(call_token)
        stages = list(db.session.scalars(select(Stage.id).where(
            Stage.is_won.is_(False), Stage.is_lost.is_(False)).order_by(Stage.position)))
        for i in range(clients):
            user = db.session.get(User, sellers[i % len(sellers)])
            token, secret = ApiToken.issue(user, name=f"bench-concurrency-{i}")
            db.session.add(token)
            deal = db.session.scalar(select(Deal).where(Deal.owner_id == user.id)
                                     .order_by(Deal.id.desc()).limit(1))
            customer = db.session.scalar(select(Customer.id).where(Customer.owner_id == user.id)
                                         .order_by(Customer.id).limit(1))
            moving = crm.create_deal({"customer_id": customer, "title": f"Moved by {i}"}, user)
            db.session.flush()
            out.append({"user": user.id, "secret": secret, "deal": deal.id,
                        "customer": deal.customer_id, "own_customer": customer,
                        "moving": moving.id, "stages": stages[1:3], "call": call_secret})
        db.session.commit()
        db.session.remove()
    return out


def client_loop(server: Any, app: Any, me: dict[str, Any], seed: int, until: float,
                samples: dict[str, list[float]], errors: dict[str, list[str]],
                lock: threading.Lock, warm_rounds: int = 0) -> None:
    """One simulated user: requests one after another until ``until``; with ``warm_rounds``,
    first every page that many times (a warm-up: nothing is timed past ``until``)."""
    rng = random.Random(seed)
    browser = server.client(app, me["user"])
    anon = server.client(app, None)
    token = ""
    for _attempt in range(3):  # the form's CSRF token (a loaded machine may time one out)
        try:
            form = browser("/deals/new").body.decode()
        except OSError:
            continue
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
        token = csrf.group(1) if csrf else ""
        break
    api_headers = {"Authorization": f"Bearer {me['secret']}",
                   "Content-Type": "application/json"}
    step = [0]

    def api(path: str, body: dict[str, Any], secret: str | None = None) -> Any:
        headers = dict(api_headers)
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        return anon(path, headers, "POST", json.dumps(body).encode())

    def request(label: str) -> Any:
        step[0] += 1
        if label in PATHS:
            return browser(PATHS[label])
        if label == "deal card":
            return browser(f"/deals/{me['deal']}")
        if label == "customer card":
            return browser(f"/customers/{me['customer']}")
        if label == "create a deal (API)":
            return api("/api/v1/deals", {"customer_id": me["own_customer"],
                                         "title": f"Load {seed}-{step[0]}", "amount": "100.00"})
        if label == "create a deal (web form)":
            return browser("/deals/new", {"Content-Type": "application/x-www-form-urlencoded"},
                           "POST", urlencode({"csrf_token": token, "title": f"Form {step[0]}",
                                              "customer_id": me["own_customer"],
                                              "amount": "50.00", "currency": "USD",
                                              "owner_id": str(me["user"])}).encode())
        if label == "move a stage (API)":
            return api(f"/api/v1/deals/{me['moving']}/stage",
                       {"stage_id": me["stages"][step[0] % 2]})
        if label == "log a call (API)":
            return api("/api/v1/calls/", {"name": "Load", "phone": "+1 555 0100",
                                          "result": "no_answer"}, me["call"])
        raise KeyError(label)

    labels = [m[0] for m in MIX]
    weights = [m[2] for m in MIX]
    expected = {m[0]: m[3] for m in MIX}
    warmup = [label for _ in range(warm_rounds) for label in labels]
    while warmup or time.monotonic() < until:
        label = warmup.pop() if warmup else rng.choices(labels, weights)[0]
        start = time.perf_counter()
        try:
            status = request(label).status_code
            problem = "" if status == expected[label] else f"HTTP {status}"
        except Exception as exc:  # noqa: BLE001 - a failed request is an error to report
            problem = f"{type(exc).__name__}: {exc}"
        elapsed = (time.perf_counter() - start) * 1000
        with lock:
            samples[label].append(elapsed)
            if problem:
                errors[label].append(problem)


def run(url: str, info: dict[str, Any], scale: float, clients: int, seconds: float,
        name: str, seed: int) -> bool:
    app = make_bench_app(url, list(PLUGINS))
    people = prepare(app, info, clients)
    samples: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)
    lock = threading.Lock()
    load_before = os.getloadavg()
    with served(url, PLUGINS, workers=WORKERS) as server:
        # Warm-up, untimed: every page and write a few times from 8 clients, so each of the
        # workers has compiled its templates and statements before the clock runs.
        warm = [threading.Thread(target=client_loop, args=(
            server, app, people[i], 10_000 + i, 0.0, defaultdict(list), defaultdict(list),
            lock, 3)) for i in range(min(clients, 8))]
        for t in warm:
            t.start()
        for t in warm:
            t.join()
        started = time.monotonic()
        until = started + seconds
        threads = [threading.Thread(target=client_loop, args=(
            server, app, people[i], seed + i, until, samples, errors, lock))
            for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    load_after = os.getloadavg()
    total = sum(len(v) for v in samples.values())
    rows: list[list[Any]] = []
    ok = True
    for label, kind, weight, _status in MIX:
        values = samples.get(label, [])
        if not values:
            rows.append([label, kind, weight, 0, "", "", "", "", "", "", "NO"])
            ok = False
            continue
        p50, p95, p99 = (percentile(values, q) for q in (0.5, 0.95, 0.99))
        n_errors = len(errors.get(label, []))
        passed = n_errors == 0 and p99 <= TAIL_GOAL * p50
        ok = ok and passed
        rows.append([label, kind, weight, len(values), f"{len(values) / elapsed:.1f}",
                     f"{p50:.1f}", f"{p95:.1f}", f"{p99:.1f}", f"{p99 / p50:.1f}", n_errors,
                     "yes" if passed else "NO"])
    every = [ms for values in samples.values() for ms in values]
    all_errors = sum(len(v) for v in errors.values())
    rows.append(["all requests", "", 100, total, f"{total / elapsed:.1f}",
                 f"{percentile(every, 0.5):.1f}", f"{percentile(every, 0.95):.1f}",
                 f"{percentile(every, 0.99):.1f}",
                 f"{percentile(every, 0.99) / percentile(every, 0.5):.1f}", all_errors,
                 "yes" if ok else "NO"])
    reads = sum(len(samples[m[0]]) for m in MIX if m[1] == "read")
    meta = {"database": database_label(url), "scale": scale, "plugins": " ".join(PLUGINS),
            "deals": info["counts"].get("deals"),
            "server": f"gunicorn -w {WORKERS} (sync workers) on 127.0.0.1",
            "clients": f"{clients} threads in a closed loop (one request in flight each), "
                       f"a new connection per request; client i = seller i",
            "duration_s": round(elapsed, 1), "throughput_rps": round(total / elapsed, 1),
            "reads_share": f"{100 * reads / max(total, 1):.1f} %",
            "errors": all_errors,
            "goal": f"0 errors; p99 ≤ {TAIL_GOAL:g}× p50 on every page",
            "load_avg_before": [round(x, 2) for x in load_before],
            "load_avg_after": [round(x, 2) for x in load_after],
            "seed": seed}
    extra = {label: errs[:20] for label, errs in errors.items() if errs}
    path = write_results(name, meta, HEADERS, rows, extra_json={
        "errors": extra, "samples_ms": {k: [round(x, 2) for x in v] for k, v in samples.items()}},
        extra_md=("\n## Errors (first of each page)\n\n" + "\n".join(
            f"- {label}: {errs[0]} ({len(errs)}×)" for label, errs in errors.items() if errs)
            + "\n") if extra else "")
    print(f"\nwritten: {path}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--sqlite", action="store_true", help="the cached SQLite database")
    parser.add_argument("--url", help="a database to fill and use")
    args = parser.parse_args()
    suffix = "" if args.scale == 1 else f"-s{args.scale:g}"
    runner: Callable[[str, dict[str, Any], str], bool] = lambda url, info, name: run(  # noqa: E731
        url, info, args.scale, args.clients, args.seconds, name, args.seed)
    if args.sqlite:
        url, info = bench_database(args.scale, plugins=PLUGINS, seed=args.seed)
        ok = runner(url, info, f"concurrency-sqlite{suffix}")
    elif args.url:
        url, info = bench_database(args.scale, url=args.url, plugins=PLUGINS, seed=args.seed)
        ok = runner(url, info, f"concurrency{suffix}")
    else:
        with throwaway_postgres(port=PG_PORT) as pg:
            url, info = bench_database(args.scale, url=pg, plugins=PLUGINS, seed=args.seed)
            ok = runner(url, info, f"concurrency{suffix}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
