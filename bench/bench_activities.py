"""Activities at scale: My day, the calendar's week view, an ICS feed and the reminder sweep.

    .venv/bin/python bench/bench_activities.py                 # 1M activities, SQLite
    .venv/bin/python bench/bench_activities.py --activities 100000 --rounds 10   # quick

The company is ``bench/generate.py``'s at ``--scale`` (default 0.1: 10k customers, 100k deals;
cached in ``bench/data/``) with the activities plugin's tables, then ``--activities`` rows
(default 1,000,000) loaded in bulk into ``activities_activity``: the 24 sellers' calls, e-mails,
meetings, to-dos and visits over the past two years (90 % done, a few left overdue) and the year
ahead (planned, each with its reminder time), linked to the seller's deals. The assistant gets
exactly 500 activities in the feed's window (for the ICS row); a handful of reminders are due now.
The load bypasses the ORM, so the next-step summary (``activities_deal_steps``) is rebuilt after
it, as ``conveyor activities rebuild-next-steps`` would.

Pages are timed over HTTP (the app under gunicorn, one sync worker, loopback: the goal's
measure, as for the core pages in ``bench_core``) and in-process (Flask's test client: the app's
own work alone). Rows, each timed round-robin with the reference in the same rounds:

- **bare route**: the suite's reference, a plain Flask route running one indexed query;
- **My day** (``/`` for a seller whose home shows only the My day widget): overdue, today's
  activities, deals without a next step, the visit standard — goal 3× the bare route;
- **calendar, week** (``/activities/calendar``) — goal 3×;
- **ICS feed, 500 events** (``/activities/feed/<token>.ics``) — goal 3×;
- **reminder sweep** (``reminders.sweep_reminders`` + commit: the due reminders claimed by one
  ``UPDATE … RETURNING`` over the same index and queued as one outbox row) against **the one
  indexed statement that finds the due ones** (``reminders.due_reminders_statement``, executed
  and fetched) — goal 2×. Before each
  sweep the due rows' ``remind_at`` is put back and their outbox rows deleted (untimed).

Results: ``bench/results/activities[-s<scale>][-a<activities>].md|json``.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    DATA_DIR,
    add_bare_route,
    bench_database,
    capture_queries,
    client_for,
    database_label,
    measure,
    served,
    write_results,
)
from sqlalchemy import delete, func, select, text, update  # noqa: E402

HEADERS = ["page", "HTTP ms (median)", "HTTP ratio", "goal", "met", "in-process ms (median)",
           "in-process ratio", "CPU ratio", "statements"]
ROLES = {"roles": {"seller": {"widgets": ["activities.my_day"]}}}  # the seller's home: My day
KINDS = ["call", "call", "email", "meeting", "todo", "visit", "visit"]
INDEXES = [
    ("ix_activities_activity_assignee_status_due", "assignee_id, status, due_at"),
    ("ix_activities_activity_assignee_due", "assignee_id, due_at"),
    ("ix_activities_activity_deal_status_due", "deal_id, status, due_at"),
    ("ix_activities_activity_customer_due", "customer_id, due_at"),
    # Partial, as the plugin declares it: only the reminders still to send.
    ("ix_activities_activity_remind_at", "remind_at) WHERE (remind_at IS NOT NULL"),
    ("ix_activities_activity_status_due_kind", "status, due_at, kind"),
    ("ix_activities_activity_series", "series_id, status, due_at"),
]
COLUMNS = ("kind, title, notes, due_at, duration_minutes, assignee_id, creator_id, customer_id, "
           "deal_id, status, result, done_at, visit_kind, progress, reminder_minutes, remind_at, "
           "created_at, updated_at")
DUE_NOW = 12  # reminders due when the sweep runs


def stamp(moment: datetime) -> str:
    """How UTCDateTime stores a moment on SQLite: naive UTC text."""
    return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def load_activities(app: Any, total: int, seed: int, now: datetime) -> dict[str, Any]:
    """Fill ``activities_activity`` with ``total`` rows (indexes dropped, then rebuilt)."""
    from conveyor import db
    from conveyor.models import Deal, User

    rng = random.Random(seed)
    with app.app_context():
        users = dict(db.session.execute(select(User.username, User.id)).all())
        sellers = sorted(uid for name, uid in users.items() if name.startswith("seller"))
        deals: dict[int, list[tuple[int, int]]] = {}
        for deal_id, owner, customer in db.session.execute(
                select(Deal.id, Deal.owner_id, Deal.customer_id)):
            deals.setdefault(owner, []).append((deal_id, customer))
        db.session.remove()
        raw = db.engine.raw_connection()
    cur = raw.cursor()
    for name, _cols in INDEXES:
        cur.execute(f"DROP INDEX IF EXISTS {name}")
    cur.execute("DELETE FROM activities_activity")
    marks = ", ".join("?" * 18)
    sql = f"INSERT INTO activities_activity ({COLUMNS}) VALUES ({marks})"
    started = time.perf_counter()
    batch: list[tuple[Any, ...]] = []
    past_span, future_span = 730 * 86400, 365 * 86400
    created = stamp(now - timedelta(days=800))

    def row(assignee: int, due: datetime, status: str, deal: tuple[int, int] | None) -> tuple:
        kind = rng.choice(KINDS)
        remind = stamp(due - timedelta(minutes=15)) if status == "planned" and due > now else None
        return (kind, f"{kind} #{rng.randint(1, 99999)}", "", stamp(due), 30, assignee, assignee,
                deal[1] if deal else None, deal[0] if deal else None, status,
                "held" if status == "done" else "", stamp(due) if status == "done" else None,
                ("FSI" if rng.random() < 0.3 else "FUA") if kind == "visit" else None,
                None, None, remind, created, created)

    assistant = users["assistant"]
    regular = total - 500 - DUE_NOW
    for i in range(regular):
        seller = sellers[i % len(sellers)]
        offset = rng.randint(-past_span, future_span)
        due = now + timedelta(seconds=offset)
        if due <= now:
            status = "done" if rng.random() < 0.9 else ("cancelled" if rng.random() < 0.9
                                                        else "planned")
            if status == "planned" and due < now - timedelta(days=14):
                status = "done"  # overdue ones are recent
        else:
            status = "planned"
        owned = deals.get(seller)
        batch.append(row(seller, due, status, rng.choice(owned) if owned and rng.random() < 0.8
                         else None))
        if len(batch) >= 10_000:
            cur.executemany(sql, batch)
            batch.clear()
    for i in range(500):  # the assistant's feed: 500 events in its window
        due = now + timedelta(days=-29 + i * 390 / 500, hours=9)
        batch.append(row(assistant, due, "planned" if due > now else "done", None))
    for i in range(DUE_NOW):  # due in a few minutes; their reminders are due now
        due = now + timedelta(minutes=5 + i)
        batch.append(row(sellers[i % len(sellers)], due, "planned", None))
    cur.executemany(sql, batch)
    for name, cols in INDEXES:
        cur.execute(f"CREATE INDEX {name} ON activities_activity ({cols})")
    raw.commit()
    raw.close()
    with app.app_context():  # the next-step summary, as the app keeps it with every change
        from conveyor.plugins.activities.next_steps import rebuild

        rebuild(db.session.connection())
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        db.session.remove()
    return {"activities": total, "load_s": round(time.perf_counter() - started, 1)}


def make_app(url: str, plugins: list[str]) -> Any:
    """The real app with the seller's home reduced to the My day widget, plus the bare route."""
    from conveyor.app import create_app

    instance = DATA_DIR / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    app = create_app(config={"database_url": url, "secret_key": "bench", "plugins": plugins,
                             "ratelimit_enabled": False, **ROLES},
                     plugins=plugins, instance_path=str(instance))
    add_bare_route(app)
    return app


def run(args: argparse.Namespace) -> list[list[Any]]:
    from conveyor import db
    from conveyor.models import Deal, OutboxMessage, User
    from conveyor.plugins.activities.calendar_views import renew_token
    from conveyor.plugins.activities.models import Activity
    from conveyor.plugins.activities.reminders import due_reminders_statement, sweep_reminders

    url, info = bench_database(args.scale, plugins=("activities",), seed=args.seed)
    app = make_app(url, ["activities"])
    now = datetime.now(UTC)
    with app.app_context():
        have = db.session.scalar(select(func.count()).select_from(Activity))
        db.session.remove()
    if have != args.activities or args.fresh:
        print(f"loading {args.activities} activities …")
        print(load_activities(app, args.activities, args.seed, now))
    with app.app_context():
        ids = dict(db.session.execute(select(User.username, User.id)).all())
        seller = ids["seller01"]
        assistant = db.session.get(User, ids["assistant"])
        token = renew_token(assistant)
        deal_id = db.session.scalar(select(func.min(Deal.id)))
        # Put today's reminders back in place: due in the last minutes, not yet swept.
        due_ids = list(db.session.scalars(select(Activity.id).where(
            Activity.status == "planned", Activity.due_at > now).order_by(Activity.due_at)
            .limit(DUE_NOW)))
        db.session.commit()
    client = client_for(app, seller)
    feed = app.test_client()
    bare = app.test_client()
    week = f"/activities/calendar?date={now.date().isoformat()}"
    cases = {
        "bare": lambda: bare.get(f"/_bench/bare/{deal_id}"),
        "My day (seller's home)": lambda: client.get("/"),
        "calendar, week": lambda: client.get(week),
        "ICS feed, 500 events": lambda: feed.get(f"/activities/feed/{token}.ics"),
    }
    for name, fn in cases.items():
        response = fn()
        assert response.status_code == 200, (name, response.status_code)
    events = feed.get(f"/activities/feed/{token}.ics").get_data().count(b"BEGIN:VEVENT")
    assert events == 500, events
    statements = {name: len(capture_queries(app, fn)) for name, fn in cases.items()}
    timings = measure(cases, rounds=args.rounds, warmup=3)
    cpu = cpu_medians(cases, rounds=args.rounds)
    with served(url, ["activities"], config=ROLES) as server:
        as_seller, anonymous = server.client(app, seller), server.client(app, None)
        http_cases = {
            "bare": lambda: anonymous(f"/_bench/bare/{deal_id}"),
            "My day (seller's home)": lambda: as_seller("/"),
            "calendar, week": lambda: as_seller(week),
            "ICS feed, 500 events": lambda: anonymous(f"/activities/feed/{token}.ics"),
        }
        for name, fn in http_cases.items():
            response = fn()
            assert response.status_code == 200, (name, response.status_code)
        assert b"activities" in as_seller("/").body
        http = measure(http_cases, rounds=args.rounds, warmup=3)
    bare_ms, http_bare = timings["bare"].median, http["bare"].median
    rows: list[list[Any]] = [["bare route (one indexed query)", f"{http_bare:.2f}", "1.00", "",
                              "", f"{bare_ms:.2f}", "1.00", "1.00", statements["bare"]]]
    for name in list(cases)[1:]:
        ratio = http[name].median / http_bare
        rows.append([name, f"{http[name].median:.2f}", f"{ratio:.2f}", "3",
                     "yes" if ratio <= 3 else "NO", f"{timings[name].median:.2f}",
                     f"{timings[name].median / bare_ms:.2f}", f"{cpu[name] / cpu['bare']:.2f}",
                     statements[name]])

    # The reminder sweep against the one statement that finds the due reminders.
    def reset() -> None:
        with app.app_context():
            db.session.execute(update(Activity).where(Activity.id.in_(due_ids)).values(
                remind_at=now - timedelta(minutes=1)))
            db.session.execute(delete(OutboxMessage).where(
                OutboxMessage.job.in_(("activities.remind", "activities.remind_many"))))
            db.session.commit()

    def statement() -> int:
        with app.app_context():
            found = db.session.execute(due_reminders_statement(datetime.now(UTC))).all()
            db.session.commit()
            return len(found)

    def sweep() -> int:
        with app.app_context():
            queued = sweep_reminders()
            db.session.commit()
            return queued

    sweep_ms, statement_ms = [], []
    found = queued = 0
    app.config["CONVEYOR_TRACK_INLINE"] = False  # queue the reminders, don't run them here
    app.extensions["conveyor_jobs_backend"] = _Parked()
    for _ in range(3 + args.rounds):
        reset()
        start = time.perf_counter()
        found = statement()
        statement_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        queued = sweep()
        sweep_ms.append((time.perf_counter() - start) * 1000)
    sweep_ms, statement_ms = sweep_ms[3:], statement_ms[3:]
    reset()
    sweep_statements = len(capture_queries(app, sweep))
    ref = statistics.median(statement_ms)
    med = statistics.median(sweep_ms)
    rows.append([f"one statement finding the due reminders ({found} rows)", "", "", "", "",
                 f"{ref:.2f}", "1.00", "", 1])
    rows.append([f"reminder sweep ({queued} queued + commit)", "", "",
                 "2 (vs the statement)", "yes" if med / ref <= 2 else "NO", f"{med:.2f}",
                 f"{med / ref:.2f}", "", sweep_statements])
    reset()

    def empty_sweep() -> int:
        with app.app_context():
            db.session.execute(update(Activity).where(Activity.id.in_(due_ids)).values(
                remind_at=None))
            db.session.commit()
        return sweep()

    empty_sweep()
    nothing = measure({"statement": statement, "sweep": sweep}, rounds=args.rounds, warmup=3)
    ratio = nothing["sweep"].median / nothing["statement"].median
    rows.append(["reminder sweep, nothing due", "", "", "2 (vs the statement)",
                 "yes" if ratio <= 2 else "NO", f"{nothing['sweep'].median:.2f}",
                 f"{ratio:.2f}", "", 1])
    reset()
    with app.app_context():
        plan = db.session.execute(text("EXPLAIN QUERY PLAN " + str(
            due_reminders_statement(now).compile(db.engine,
                                                 compile_kwargs={"literal_binds": True})))).all()
        db.session.remove()
    meta = {"database": database_label(url), "scale": args.scale,
            "customers": info.get("customers"), "deals": info.get("deals"),
            "activities": args.activities, "rounds": args.rounds,
            "sweep plan": " / ".join(str(r[-1]) for r in plan)}
    extra = ("HTTP: the same app served by gunicorn (one sync worker, 127.0.0.1, a new "
             "connection per request: what a browser or a calendar client waits for), the "
             "measure of the goal as for the core pages (bench_core); in-process: Flask's test "
             "client, the app's own work alone, where the signed-in layout by itself is several "
             "times the bare route. Every row is timed round-robin with its reference in the "
             "same rounds; wall-clock times on a shared machine (see load_avg) swing with what "
             "else runs, and the CPU ratio times the in-process requests with the process's "
             "CPU clock (time.process_time), which other processes barely move. "
             "Pages are requests as a signed-in seller (seller01, "
             f"~{args.activities // 24:,} activities of their own) with CSRF on; the seller's "
             "home shows only the My day widget. The ICS feed is the assistant's (500 events in "
             "the window, built with icalendar with the zone's VTIMEZONE). The sweep rows are "
             "timed in the same rounds as their reference: the sweep runs one UPDATE … "
             "RETURNING that finds the due ones by the same index and claims them (remind_at "
             "cleared), one INSERT of the activities.remind_many job (conveyor.enqueue) and "
             "the commit.\n")
    name = "activities" + ("" if args.scale == 0.1 else f"-s{args.scale:g}") + \
        ("" if args.activities == 1_000_000 else f"-a{args.activities}")
    path = write_results(name, meta, HEADERS, rows, extra_md=extra, extra_json={
        "samples_ms": {k: v.samples_ms for k, v in timings.items()},
        "http_samples_ms": {k: v.samples_ms for k, v in http.items()},
        "sweep_ms": sweep_ms, "statement_ms": statement_ms})
    print(open(path).read())
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return rows


def cpu_medians(cases: dict[str, Any], rounds: int) -> dict[str, float]:
    """Each case's median CPU time of this process in ms (``time.process_time``), round-robin:
    what a request costs the server, whatever else the machine runs meanwhile."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(3 + rounds):
        for name, fn in cases.items():
            start = time.process_time()
            fn()
            if i >= 3:
                samples[name].append((time.process_time() - start) * 1000)
    return {name: statistics.median(v) for name, v in samples.items()}


class _Parked:
    """A jobs backend that leaves the queued rows in the outbox (no worker in the benchmark)."""

    def push(self, app: Any, ids: Any) -> None:
        return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1,
                        help="company size: 1.0 = 100k customers, 1M deals")
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--fresh", action="store_true", help="reload the activities")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
