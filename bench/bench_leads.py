"""Web-to-lead under load and the lead processor's speed (issue 3, "Reliability" and "Speed").

    python bench/bench_leads.py                       # a throwaway PostgreSQL 15 (stack-notes.md)
    python bench/bench_leads.py --url URL             # an existing PostgreSQL database (wiped!)
    python bench/bench_leads.py --posts 200 --rows 5000   # a quick run

1. Capture throughput. Two gunicorn processes (``-w 2``, sync workers, the same flags for both)
   serve, in turn, ``POST /public/leads/website`` of the real app (plugin ``leads``: form lookup,
   validation, dedupe against leads, contacts and customers, the round-robin rule, the insert, the
   assignment row, and after the response the seller's notification) and a bare Flask endpoint that
   inserts one row into one table. Each gets ``--posts`` concurrent posts (``--concurrency`` client
   threads on 127.0.0.1), alternating, ``--rounds`` times; each capture mode's server (and the
   worker, for ``external``; one ``conveyor worker`` on Redis for ``job``) is up only for its
   own measurement. Goal: capture / bare >= 0.5.
   Every measured lead is counted: stored, assigned, exactly one assignment row each.
2. The lead processor: a ``--rows`` CSV file in Windows-1251 (1 % bad rows) is checked and staged
   in batches, imported in one transaction, and assigned by the rules; rows/s per phase. Meanwhile
   the capture endpoint keeps taking posts: their latency is compared with the idle latency, to
   show the import does not block other users.

The database, the server and the client share this machine's cores, as in the CI test. Writes
``bench/results/leads.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, nullcontext
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

GOAL = 0.5
ORIGIN = "https://shop.example.com"
SELLERS = ("seller", "seller2", "seller3")


# --- the bare reference endpoint (loaded by gunicorn from this file) ---------------------------


def bare_app() -> Any:
    """A plain Flask app: parse the JSON post, insert one row, commit, answer JSON."""
    from flask import Flask, jsonify, request
    from sqlalchemy import create_engine, text

    engine = create_engine(os.environ["BENCH_BARE_URL"], pool_size=5)
    app = Flask("bare")

    @app.post("/bare/leads")
    def capture() -> Any:
        data = request.get_json(silent=True) or {}
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO bench_bare (email, name, created_at) "
                              "VALUES (:email, :name, now())"),
                         {"email": str(data.get("email", ""))[:254],
                          "name": str(data.get("name", ""))[:200]})
        return jsonify(ok=True)

    return app


# --- set-up -------------------------------------------------------------------------------------


def prepare(url: str, customers: int) -> Any:
    """The app on a fresh database (migrations, users, a rule, the form, known customers)."""
    from sqlalchemy import insert, text

    from conveyor import db, migrate
    from conveyor.app import create_app
    from conveyor.models import Contact, Customer
    from conveyor.plugins.leads.models import LeadForm, LeadRule, LeadRuleSeller
    from conveyor.testing import seed_test_data

    instance = Path(tempfile.mkdtemp(prefix="leads-bench-"))
    app = create_app(config={"database_url": url, "secret_key": "bench", "plugins": ["leads"]},
                     plugins=["leads"], instance_path=str(instance))
    migrate.wipe(app)
    migrate.upgrade_all(app)
    users = seed_test_data(app)
    with app.app_context():
        rng = random.Random(3)
        db.session.execute(insert(Customer), [
            {"name": f"Known Company {i}", "tax_id": str(7700000000 + i),
             "owner_id": users[rng.choice(SELLERS)]} for i in range(customers)])
        ids = [cid for (cid,) in db.session.execute(text("SELECT id FROM customers ORDER BY id"))]
        db.session.execute(insert(Contact), [
            {"customer_id": cid, "name": f"Contact {cid}", "email": f"contact{cid}@known.example",
             "phone": f"+7 495 {cid % 1000:03d}-{cid % 100:02d}-{(cid // 100) % 100:02d}"}
            for cid in ids])
        rule = LeadRule(name="Website round robin", rr_cursor=0, strategy="round_robin",
                        sellers=[LeadRuleSeller(user_id=users[u]) for u in SELLERS])
        db.session.add(rule)
        db.session.flush()
        db.session.add(LeadForm(key="website", name="Website", source="website",
                                fields=[{"name": "company"}, {"name": "name"},
                                        {"name": "email", "required": True}, {"name": "phone"}],
                                allowed_origins=[ORIGIN], rule_id=rule.id))
        db.session.execute(text("CREATE TABLE bench_bare (id serial PRIMARY KEY, email text, "
                                "name text, created_at timestamptz)"))
        db.session.commit()
    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn -w 2 on a free loopback port; the same flags for both apps."""

    def __init__(self, target: str, env: dict[str, str], chdir: Path | None = None) -> None:
        self.port = free_port()
        cmd = [sys.executable, "-m", "gunicorn", "--no-control-socket", "-w", "2",
               "-b", f"127.0.0.1:{self.port}", "--log-level", "warning", "--backlog", "2048"]
        if chdir:
            cmd += ["--chdir", str(chdir)]
        self.proc = subprocess.Popen([*cmd, target], env={**os.environ, **env},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stderr.read().decode()[-3000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    time.sleep(1.0)  # both workers booted
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc: Any) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.proc.stderr.close()


def post(port: int, path: str, body: dict[str, str]) -> tuple[int, float]:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json",
                                                      "Origin": ORIGIN})
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - start
    finally:
        conn.close()


def load(port: int, path: str, tag: str, n: int, concurrency: int) -> dict[str, Any]:
    """``n`` posts, ``concurrency`` at a time; throughput and latency."""
    bodies = [{"email": f"{tag}-{i}@visitors.example", "name": f"Visitor {i}",
               "company": f"Visitor Company {tag} {i}"} for i in range(n)]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda b: post(port, path, b), bodies))
    elapsed = time.perf_counter() - start
    latencies = sorted(t for _, t in results)
    return {"posts": n, "ok": sum(1 for s, _ in results if s == 200), "seconds": elapsed,
            "per_second": n / elapsed, "p50_ms": 1000 * statistics.median(latencies),
            "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))]}


def lead_counts(app: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from conveyor import db
    from conveyor.plugins.leads.models import Lead, LeadAssignment

    with app.app_context():
        per_lead = db.session.execute(select(LeadAssignment.lead_id, func.count())
                                      .group_by(LeadAssignment.lead_id)).all()
        out = {
            "stored": db.session.scalar(select(func.count()).select_from(Lead)),
            "assigned": db.session.scalar(select(func.count()).select_from(Lead)
                                          .where(Lead.owner_id.isnot(None))),
            "assignment_rows": sum(c for _, c in per_lead),
            "assigned_more_than_once": sum(1 for _, c in per_lead if c > 1),
        }
        db.session.remove()
    return out


# --- the lead processor ---------------------------------------------------------------------------


def make_csv(rows: int, seed: int = 11) -> bytes:
    rng = random.Random(seed)
    cities = ["Москва", "Казань", "Новосибирск", "Екатеринбург", "Самара"]
    lines = ["Компания;Контактное лицо;Email;Телефон;Отрасль;Регион"]
    for i in range(rows):
        email = f"import{i}@firm{i % 997}.example" if rng.random() > 0.01 else "not-an-email"
        lines.append(f"ООО «Фирма {i}»;Иван Петров {i};{email};"
                     f"+7 9{rng.randint(10, 99)} {rng.randint(100, 999)}-{rng.randint(10, 99)}-"
                     f"{rng.randint(10, 99)};Розница;{rng.choice(cities)}")
    return ("\n".join(lines) + "\n").encode("cp1251")


def bench_import(app: Any, rows: int, capture_port: int | None) -> dict[str, Any]:
    """Stage, import and assign ``rows`` rows; posts keep arriving at the capture server."""
    from conveyor import db
    from conveyor.plugins.leads.importer import import_rows, stage_import
    from conveyor.plugins.leads.models import LeadImport

    raw = make_csv(rows)
    marks: dict[str, float] = {}

    def progress(job: LeadImport) -> None:
        if job.status == "importing" and job.imported and "committed" not in marks:
            marks["committed"] = time.perf_counter()

    during: dict[str, Any] = {}
    stop = threading.Event()

    def background_posts() -> None:
        latencies, i = [], 0
        while not stop.is_set() and i < 2000:
            status, seconds = post(capture_port, "/public/leads/website",
                                   {"email": f"during-{i}@visitors.example", "name": "During"})
            latencies.append((status, seconds))
            i += 1
            time.sleep(0.02)
        ok = sorted(t for s, t in latencies if s == 200)
        during.update(posts=len(latencies), ok=len(ok),
                      p50_ms=1000 * statistics.median(ok) if ok else None,
                      p95_ms=1000 * ok[int(0.95 * (len(ok) - 1))] if ok else None)

    poster = threading.Thread(target=background_posts) if capture_port else None
    with app.app_context():
        job = LeadImport(source="bench import", filename="bench.csv", owner_mode="rules")
        db.session.add(job)
        db.session.commit()
        job_id = job.id
        if poster:
            poster.start()
        t0 = time.perf_counter()
        stage_import(job_id, raw, "auto", progress)
        t1 = time.perf_counter()
        db.session.get(LeadImport, job_id).status = "importing"
        db.session.commit()
        import_rows(job_id, progress)
        t2 = time.perf_counter()
        stop.set()
        if poster:
            poster.join()
        job = db.session.get(LeadImport, job_id)
        result = {"rows": rows, "bytes": len(raw), "encoding": job.encoding,
                  "valid": job.valid_rows, "errors": job.error_rows, "imported": job.imported,
                  "assigned": job.assigned, "stage_s": t1 - t0,
                  "import_txn_s": marks.get("committed", t2) - t1,
                  "assign_s": t2 - marks.get("committed", t2), "total_s": t2 - t0,
                  "during_import": during}
        db.session.remove()
    return result


# --- main ----------------------------------------------------------------------------------------


def wait_processed(app: Any, timeout: float = 300) -> float:
    """Seconds until every stored capture has been finished by the intake."""
    from sqlalchemy import func, select

    from conveyor import db
    from conveyor.plugins.leads.models import Lead

    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        with app.app_context():
            left = db.session.scalar(select(func.count()).select_from(Lead)
                                     .where(Lead.processed_at.is_(None)))
            db.session.remove()
        if not left:
            return time.perf_counter() - start
        time.sleep(0.1)
    raise RuntimeError(f"{left} captures still unfinished after {timeout} s")


class Worker:
    """``conveyor leads intake --watch``: the intake as its own process (leads.intake=external);
    or, with ``command=("worker",)``, the core's RQ job worker (leads.intake=job)."""

    def __init__(self, env: dict[str, str], command: tuple[str, ...] = ("leads", "intake",
                                                                         "--watch")) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="leads-bench-worker-", suffix=".log",
                                               delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from conveyor.cli import main; main()", *command],
            env={**os.environ, **env}, stdout=self.log, stderr=self.log)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:  # measured already: note it, keep its log
            self.proc.kill()
            self.proc.wait(30)
            print(f"warning: {self.proc.args[3:]} did not stop within 30 s of SIGTERM; "
                  f"killed (log: {self.log.name})", flush=True)
            return
        self.log.close()
        os.unlink(self.log.name)


@contextmanager
def capture_server(mode: str, env: dict[str, str]) -> Iterator[Server]:
    """The app taking captures with ``leads.intake = mode`` (and, for ``external``, its worker),
    up only for its own measurement: an idle server of the other mode would otherwise run its
    intake on this one's captures (the thread mode's intake also wakes every few seconds)."""
    with ExitStack() as stack:
        if mode == "job":  # the web processes hand each second's job to Redis
            env = {**env, "CONVEYOR_REDIS_URL": env["BENCH_REDIS_URL"]}
        server = stack.enter_context(
            Server("conveyor.app:create_app()", {**env, "CONVEYOR_LEADS_INTAKE": mode}))
        if mode == "external":
            stack.enter_context(Worker(env))
        elif mode == "job":
            stack.enter_context(Worker(env, ("worker", "--name", f"bench-{os.getpid()}")))
        yield server


@contextmanager
def throwaway_redis() -> Iterator[str]:
    """A private redis-server on a free loopback port, no persistence; stopped on exit."""
    port = free_port()
    folder = tempfile.mkdtemp(prefix="leads-bench-redis-")
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", folder],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


MODES = {"thread": "capture, intake thread in the web processes",
         "external": "capture, intake in a worker process",
         "job": "capture, intake as a job (RQ worker on Redis)"}


def run(url: str, args: argparse.Namespace, redis_url: str) -> None:
    from common import database_label, write_results

    modes = {m: MODES[m] for m in args.modes.split(",")}

    app = prepare(url, args.customers)
    env = {"BENCH_REDIS_URL": redis_url, "CONVEYOR_DATABASE_URL": url, "CONVEYOR_PLUGINS": "leads",
           "CONVEYOR_SECRET_KEY": "bench", "CONVEYOR_LEADS_PUBLIC_RATE_LIMIT": "",
           "CONVEYOR_INSTANCE_PATH": tempfile.mkdtemp(prefix="leads-bench-srv-"),
           "BENCH_BARE_URL": url}
    path = "/public/leads/website"
    rounds: list[dict[str, Any]] = []
    stored = assigned = 0
    with Server("bench_leads:bare_app()", env, chdir=HERE) as bare:
        load(bare.port, "/bare/leads", "warm-b", 50, 8)
        for r in range(args.rounds):
            row: dict[str, Any] = {"round": r + 1,
                                   "bare": load(bare.port, "/bare/leads", f"b{r}", args.posts,
                                                args.concurrency)}
            for mode in modes:
                print(f"round {r + 1}: {mode} …", flush=True)
                with capture_server(mode, env) as server:
                    load(server.port, path, f"warm-{mode}{r}", 50, 8)
                    wait_processed(app)
                    before = lead_counts(app)
                    row[mode] = load(server.port, path, f"{mode}{r}", args.posts,
                                     args.concurrency)
                    row[mode]["finished_after_s"] = wait_processed(app)
                    after = lead_counts(app)
                stored += after["stored"] - before["stored"]
                assigned += after["assigned"] - before["assigned"]
            rounds.append(row)
            print(f"round {r + 1}: bare {row['bare']['per_second']:.0f}/s, " + ", ".join(
                f"{m} {row[m]['per_second']:.0f}/s" for m in modes))
    counts = lead_counts(app)
    with capture_server("thread", env) as threaded:
        idle = load(threaded.port, path, "idle", 200, 1)
        wait_processed(app)
        imported = bench_import(app, args.rows, threaded.port) if args.rows else None
    expected = args.posts * args.rounds * len(modes)
    bare_rate = statistics.mean(r["bare"]["per_second"] for r in rounds)
    ratios = {m: statistics.mean(r[m]["per_second"] for r in rounds) / bare_rate for m in modes}
    rows = []
    for r in rounds:
        rows.append([f"round {r['round']}: bare endpoint (one INSERT), posts/s",
                     f"{r['bare']['per_second']:.0f}",
                     f"p50 {r['bare']['p50_ms']:.1f} ms, p95 {r['bare']['p95_ms']:.1f} ms"])
        for mode, label in modes.items():
            rows.append([f"round {r['round']}: {label}, posts/s",
                         f"{r[mode]['per_second']:.0f}",
                         f"p50 {r[mode]['p50_ms']:.1f} ms, p95 {r[mode]['p95_ms']:.1f} ms; all "
                         f"assigned {r[mode]['finished_after_s']:.1f} s after the last answer"])
    end_to_end = {m: statistics.mean(
        r[m]["posts"] / (r[m]["seconds"] + r[m]["finished_after_s"]) for r in rounds) / bare_rate
        for m in modes}
    for mode, label in modes.items():
        rows.append([f"ratio, {label} / bare", f"{ratios[mode]:.2f}",
                     f"goal ≥ {GOAL}: {'met' if ratios[mode] >= GOAL else 'MISSED'}; counting "
                     f"the time until all were assigned: {end_to_end[mode]:.2f}"])
    answered = sum(r[m]["ok"] for r in rounds for m in modes)
    rows += [
        ["posts answered 200", str(answered), f"of {expected}"],
        ["leads stored", str(stored), f"expected {expected}"],
        ["leads assigned", str(assigned), f"expected {expected}"],
        ["leads with more than one assignment row", str(counts["assigned_more_than_once"]),
         "expected 0"],
        ["capture latency, one client at a time", f"p50 {idle['p50_ms']:.1f} ms",
         f"p95 {idle['p95_ms']:.1f} ms"],
    ]
    if imported:
        n = imported["rows"]
        rows += [
            [f"import: check and stage {n:,} rows (cp1251)",
             f"{n / imported['stage_s']:,.0f} rows/s", f"{imported['stage_s']:.1f} s, "
             f"{imported['errors']} bad rows found"],
            ["import: the one transaction", f"{imported['valid'] / imported['import_txn_s']:,.0f} "
             "rows/s", f"{imported['import_txn_s']:.2f} s for {imported['imported']:,} leads"],
            ["import: assignment by the rules",
             f"{imported['assigned'] / imported['assign_s']:,.0f} leads/s"
             if imported["assign_s"] else "—", f"{imported['assign_s']:.1f} s"],
            ["import end to end", f"{n / imported['total_s']:,.0f} rows/s",
             f"{imported['total_s']:.1f} s"],
        ]
        during = imported["during_import"]
        if during.get("ok"):
            rows.append(["capture latency during the import", f"p50 {during['p50_ms']:.1f} ms",
                         f"p95 {during['p95_ms']:.1f} ms ({during['ok']}/{during['posts']} ok)"])
    meta = {"database": database_label(url), "server": "gunicorn -w 2 (sync), 127.0.0.1",
            "posts per round and endpoint": args.posts, "rounds": args.rounds,
            "client threads": args.concurrency, "known customers and contacts": args.customers,
            "csv rows": args.rows}
    note = ("All four servers ran with the same gunicorn settings in the same run, in turn; "
            "the client, the servers, the intake, PostgreSQL and Redis share the machine's cores. "
            "In the job mode the web processes queue one leads.intake job per second of "
            "captures (an outbox row, handed to Redis after the commit) and one `conveyor "
            "worker` runs them. A "
            "capture answers after one INSERT and the commit; the intake then dedupes against "
            "leads, contacts and customers, assigns by the rule's atomic turn and notifies the "
            "seller, in batches. The intake (thread, worker or job) waits for a burst to end — "
            "0.5 s without a new capture, 5 s at most — and then takes it in full batches, so during "
            "the burst the cores serve the captures. The posts/s figures are the visitors' view "
            "(answers per second), the goal's measure; the ratio 'counting the time until all "
            "were assigned' also charges the intake's tail after the last answer (that wait "
            "plus the batches). The bare endpoint inserts one row.")
    out = write_results("leads", meta, ["measure", "value", "detail"], rows, note,
                        {"rounds_detail": rounds, "counts": counts, "import": imported,
                         "ratios": ratios, "ratios_end_to_end": end_to_end})
    print(out.read_text())
    if stored != expected or assigned != expected or counts["assigned_more_than_once"]:
        sys.exit("reliability check failed: see the table")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an existing PostgreSQL database (it is wiped)")
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--modes", default=",".join(MODES),
                        help=f"capture modes to measure, of {', '.join(MODES)}")
    parser.add_argument("--redis", help="an existing Redis URL for the job mode (flushed!)")
    args = parser.parse_args()
    args.posts = max(1, min(args.posts, 10_000))  # bounded: loopback only, never a stress test
    args.concurrency = max(1, min(args.concurrency, 128))
    from common import throwaway_postgres

    with (nullcontext(args.url) if args.url else throwaway_postgres("leads_bench")) as url, \
            (nullcontext(args.redis) if args.redis else throwaway_redis()) as redis_url:
        if not url.startswith("postgresql"):
            sys.exit("the lead benchmark needs PostgreSQL (two processes share it)")
        if args.redis:
            from redis import Redis

            Redis.from_url(redis_url).flushdb()
        run(url, args, redis_url)


if __name__ == "__main__":
    main()
