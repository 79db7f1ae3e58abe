"""Funnel analytics at scale: what a user waits for, against the bare route.

    .venv/bin/python bench/bench_funnel.py               # 1M deals, ~5.3M history rows, SQLite
    .venv/bin/python bench/bench_funnel.py --scale 0.1   # quick
    .venv/bin/python bench/bench_funnel.py --pg          # a throwaway PostgreSQL (generated)
    .venv/bin/python bench/bench_funnel.py --url URL     # a database you give (refilled)

Issue 18: the reference is the user's wait, not hand-written SQL of the same shape (that hid a
five-numbers statement whose cost grew with the company's whole history). Every analytics figure
is requested as the API serves it (``/api/v1/funnel…``, one figure per endpoint, in-process
through Flask's test client with a signed-in session: routing, login, scope, SQL, JSON), for
three selections, each timed round-robin with the bare route (``/_bench/bare/<id>``: one
primary-key SELECT) in the same rounds:

- **seller, month** — ``seller01``'s own numbers for the last full month before the data's
  anchor (goal ≤ 10× the bare route);
- **team, quarter** — the manager's team (six sellers, ~250k deals) for the last three full
  months (goal ≤ 30×);
- **company, year** — the admin, everyone, the last twelve full months (goal ≤ 100×).

Figures: funnel (open deals per stage now, closed and reached in the period), conversion (reached
per stage, win rate, cycle, lost reasons), dwell (median / p90 / mean time in stage), stalled
(deals past their stage's threshold; thresholds cached per process as when serving), five numbers
(closed, committed, opportunities — this period and the previous one), plan fulfilment (targets,
signed, forecast, potential). The table gives each request's median, its ratio to the bare
route, its SQL statements and the slowest one's own time (replayed alone); a figure over its goal
gets the plan of its slowest statement in the JSON. Results:
``bench/results/funnel[-pg][-s<scale>].md|json``; with ``--figures stalled`` (a few figures
only, e.g. to check one change) ``bench/results/funnel[-pg]-stalled-s<scale>.md|json``.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    bench_database,
    capture_queries,
    client_for,
    database_label,
    explain,
    make_bench_app,
    measure,
    replay,
    throwaway_postgres,
    write_results,
)

SLOW_S = 10.0  # a figure answering slower than this is timed once (its first answer)
HEADERS = ["figure", "selection", "ms (median)", "bare ms", "ratio", "goal", "pass",
           "CPU ms", "CPU ratio", "SQL", "slowest SQL ms"]
FIGURES = {"funnel": "", "conversion": "/conversion", "dwell": "/dwell", "stalled": "/stalled",
           "five numbers": "/five-numbers", "plan fulfilment": "/targets"}


def cpu_medians(cases: dict[str, Any], rounds: int) -> dict[str, float]:
    """Each case's median CPU time of this thread (ms), round-robin: on a shared machine a
    request's wall time includes the time it waited for a core (the bare route, shorter than
    a scheduler's slice, waits less often), its CPU time does not. In-process SQLite runs
    in this thread, so its statements are counted; a PostgreSQL server's work is not."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            began = time.thread_time()
            fn()
            samples[name].append((time.thread_time() - began) * 1000)
    return {name: sorted(v)[len(v) // 2] for name, v in samples.items()}


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def selections(app: Any, info: dict[str, Any]) -> list[dict[str, Any]]:
    """Who asks, for whom and which period: (label, user, query arguments, goal, rounds)."""
    from sqlalchemy import text

    from conveyor.extensions import db

    month = datetime.fromisoformat(info["end"]).date().replace(day=1)  # the anchor's month

    def last(n: int) -> dict[str, str]:  # the n full months before the anchor's month
        return {"from": add_months(month, -n).isoformat(),
                "to": date.fromordinal(month.toordinal() - 1).isoformat()}

    users = info["users"]
    with app.app_context():
        team = db.session.execute(text(
            "SELECT team_id FROM team_members WHERE user_id = :u ORDER BY team_id LIMIT 1"),
            {"u": users["manager"]}).scalar()
        team_deals = db.session.execute(text(
            "SELECT count(*) FROM deals WHERE owner_id IN (SELECT user_id FROM team_members "
            "WHERE team_id = :t)"), {"t": team}).scalar()
        db.session.remove()
    return [
        {"label": "seller, month", "user": users["seller01"], "goal": 10, "rounds": 15,
         "args": {**last(1), "owner": "me"}},
        {"label": f"team, quarter ({team_deals} deals)", "user": users["manager"], "goal": 30,
         "rounds": 7, "args": {**last(3), "team": str(team)}},
        {"label": "company, year", "user": users["admin"], "goal": 100, "rounds": 3,
         "args": {**last(12), "owner": "all"}},
    ]


def run(url: str, info: dict[str, Any], scale: float, rounds_factor: float, warmup: int,
        name: str, figures: dict[str, str] | None = None) -> bool:
    from urllib.parse import urlencode

    figures = figures or FIGURES
    app = make_bench_app(url, ["funnel"])
    app.extensions["conveyor"].settings["funnel.threshold_cache_seconds"] = 3600
    bare_id = info["counts"]["deals"] // 2
    rows: list[list[Any]] = []
    plans: dict[str, str] = {}
    samples: dict[str, list[float]] = {}
    ok = True
    for sel in selections(app, info):
        client = client_for(app, sel["user"])
        bare_client = app.test_client()
        urls = {fig: f"/api/v1/funnel{path}?{urlencode(sel['args'])}"
                for fig, path in figures.items()}
        once: dict[str, float] = {}  # figures over SLOW_S: their first answer is the one sample
        for fig, target in urls.items():  # answers, before anything is timed
            response = client.get(target)
            if fig not in ("bare",):  # a second answer: the first may fill a process cache
                began = time.perf_counter()
                response = client.get(target)
                took = time.perf_counter() - began
                if took > SLOW_S:
                    once[fig] = took * 1000
            assert response.status_code == 200, (target, response.status_code,
                                                 response.get_data(as_text=True)[:300])
            period = (response.get_json() or {}).get("period")
            first = (period or {}).get("from", (period or {}).get("start"))
            assert period is None or first == sel["args"]["from"], (target, period)
        cases: dict[str, Any] = {"bare": lambda: bare_client.get(f"/_bench/bare/{bare_id}")}
        for fig, target in urls.items():
            if fig not in once:
                cases[fig] = (lambda t=target: client.get(t))
        n = max(3, round(sel["rounds"] * rounds_factor))
        timings = measure(cases, rounds=n, warmup=warmup)
        bare_ms = timings["bare"].median
        cpu = cpu_medians(cases, n)
        for fig, target in urls.items():
            if fig in once:  # far over any goal: one sample, not replayed
                statements, own, slowest, ms = [], [], None, once[fig]
                rows.append([fig, sel["label"], f"{ms:.1f} (1 sample)", f"{bare_ms:.2f}",
                             f"{ms / bare_ms:.1f}", f"≤ {sel['goal']}",
                             "yes" if ms / bare_ms <= sel["goal"] else "NO", "-", "-", "-",
                             "-"])
                ok = ok and ms / bare_ms <= sel["goal"]
                samples[f"{fig} | {sel['label']}"] = [ms]
                continue
            statements = capture_queries(app, lambda t=target: client.get(t))
            own = replay(app, statements, times=1) if statements else []
            slowest = max(range(len(own)), key=own.__getitem__) if own else None
            ms = timings[fig].median
            ratio = ms / bare_ms
            passed = ratio <= sel["goal"]
            ok = ok and passed
            if not passed and slowest is not None:
                sql, params, _ = statements[slowest]
                plans[f"{fig} | {sel['label']}"] = f"{sql}\n--\n{explain(app, sql, params)}"
            rows.append([fig, sel["label"], f"{ms:.1f}", f"{bare_ms:.2f}", f"{ratio:.1f}",
                         f"≤ {sel['goal']}", "yes" if passed else "NO", f"{cpu[fig]:.1f}",
                         f"{cpu[fig] / cpu['bare']:.1f}", len(statements),
                         f"{own[slowest]:.1f}" if slowest is not None else "-"])
            samples[f"{fig} | {sel['label']}"] = timings[fig].samples_ms
        samples[f"bare | {sel['label']}"] = timings["bare"].samples_ms
        print(f"{sel['label']}: done", file=sys.stderr, flush=True)
    counts = info.get("counts", {})
    anchor = info.get("end")
    meta = {"database": database_label(url), "scale": scale, "deals": counts.get("deals"),
            "stage_history": counts.get("stage_history"), "data anchor": anchor,
            "selections": "; ".join(f"{s['label']}: {s['args']}" for s in selections(app, info)),
            "warmup": warmup,
            "method": "in-process requests (Flask test client, signed-in session), round-robin "
                      "with the bare route in the same rounds; ratio = median / bare median"}
    extra = ("\nA figure whose second answer (the first may fill the per-process stalled "
             f"thresholds cache) took over {SLOW_S:g} s is timed by that answer alone "
             "(\"1 sample\"), not replayed. "
             "The funnel's summaries (funnel_closed_totals, funnel_reached, funnel_stage_moves, "
             "funnel_durations) "
             "are filled by the generator as the app keeps them with every write.\n"
             "\nEach figure is one API request (`/api/v1/funnel…`) with the selection's "
             "arguments; `SQL` counts its statements, `slowest SQL ms` is the slowest one "
             "replayed alone. In-process ratios are the stricter measure (over HTTP the "
             "server's fixed cost is added to both sides). Plans of the slowest statement of "
             "each figure over its goal are in the JSON (`plans`).\n"
             "\n`CPU ms` is the median CPU time of the requesting thread over the same number "
             "of round-robin rounds (run after the timed ones), `CPU ratio` that over the bare "
             "route's: on a shared machine a request's wall time includes waiting for a core, "
             "its CPU time does not. On SQLite the statements run in that thread and are "
             "counted; on PostgreSQL the server's work is not, so there it only measures the "
             "app's side.\n")
    path = write_results(name, meta, HEADERS, rows, extra_md=extra,
                         extra_json={"timings_ms": samples, "plans": plans})
    print(f"\nwritten: {path}")
    return ok


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M deals")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=float, default=1.0,
                        help="a factor on each selection's rounds (15 / 7 / 3)")
    parser.add_argument("--warmup", type=int, default=1)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--pg", action="store_true", help="start a throwaway PostgreSQL")
    where.add_argument("--url", help="use this database (its app tables are dropped and refilled)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the cached SQLite file")
    parser.add_argument("--figures", help="only these figures, comma-separated (e.g. stalled); "
                        "results go to funnel-<figures>-s<scale>.md, not the full table's file")
    args = parser.parse_args(argv)
    suffix = "" if args.scale == 1 else f"-s{args.scale:g}"
    figures = None
    if args.figures:
        wanted = [f.strip() for f in args.figures.split(",") if f.strip()]
        unknown = [f for f in wanted if f not in FIGURES]
        if unknown:
            parser.error(f"unknown figures {unknown}; known: {', '.join(FIGURES)}")
        figures = {f: FIGURES[f] for f in wanted}
        suffix = f"-{'-'.join(w.replace(' ', '_') for w in wanted)}-s{args.scale:g}"
    if args.pg:
        with throwaway_postgres() as url:
            url, info = bench_database(args.scale, url=url, plugins=("funnel",), seed=args.seed)
            ok = run(url, info, args.scale, args.rounds, args.warmup, f"funnel-pg{suffix}",
                     figures)
        sys.exit(0 if ok else 1)
    url, info = bench_database(args.scale, url=args.url, plugins=("funnel",), seed=args.seed,
                               fresh=args.fresh)
    label = "funnel" if url.startswith("sqlite") else "funnel-pg"
    ok = run(url, info, args.scale, args.rounds, args.warmup, f"{label}{suffix}", figures)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
