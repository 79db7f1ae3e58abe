"""Memory of a gunicorn worker with every built-in plugin on, after a warm-up over every page
(issue 18, goal 4: ≤ 80 MB RSS).

    .venv/bin/python bench/bench_memory.py --scale 0.1

The bench app (``make_bench_app`` with every plugin ``config/defaults.toml`` lists) is served by
gunicorn (one sync worker, as ``common.served``); the worker's resident memory (``VmRSS`` of
``/proc/<pid>/status``) is read after start-up, and after requesting, as the admin and as a
seller, every GET route of ``app.url_map`` that takes no argument plus the deal and customer
cards, ``--rounds`` times. Results: ``bench/results/memory[-s<scale>].md|json``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    bench_database,
    default_plugins,
    make_bench_app,
    served,
    table,
    write_results,
)

PLUGINS = default_plugins()  # every plugin config/defaults.toml lists
GOAL_MB = 80


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def worker_pid(port: int) -> int:
    """The gunicorn worker serving ``port``: the child of the master started with it."""
    procs: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        procs[int(entry.name)] = (ppid, cmd)
    masters = {pid for pid, (_pp, cmd) in procs.items()
               if "gunicorn" in cmd and f"127.0.0.1:{port}" in cmd}
    children = [pid for pid, (ppid, _cmd) in procs.items() if ppid in masters]
    if not children:
        raise RuntimeError("no gunicorn worker found")
    return children[0]


# Libraries only some requests need, or heavy enough to be worth knowing whether one is loaded.
HEAVY = list(("psycopg", "lxml.etree", "docx", "docxtpl", "icalendar",
                           "markdown_it", "nh3", "phonenumbers", "num2words", "redis", "rq",
                           "sqlalchemy.dialects.postgresql", "flask_migrate", "babel.dates",
                           "flask_smorest", "apispec"))


def import_costs() -> list[tuple[str, float]]:
    """RSS each heavy library adds to a process that has flask and sqlalchemy.orm already."""
    import subprocess

    costs = []
    for module in HEAVY:
        code = ("import flask, sqlalchemy.orm\n"
                "def rss():\n"
                "    for l in open('/proc/self/status'):\n"
                "        if l.startswith('VmRSS'): return int(l.split()[1]) / 1024\n"
                f"a = rss(); import {module}; print(rss() - a)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        costs.append((module, float(out.stdout.strip() or "nan")))
    return costs


def memory_wsgi_app() -> Any:
    """gunicorn's entry point: the bench app plus ``/_bench/modules`` (which of ``HEAVY`` the
    worker has imported), asked once the warm-up is over."""
    from common import bench_wsgi_app

    from conveyor.permissions import public

    app = bench_wsgi_app()

    @public
    def modules() -> dict[str, bool]:
        return {m: m in sys.modules for m in HEAVY}

    app.add_url_rule("/_bench/modules", "bench_modules", modules)
    return app


def pages(app: Any, info: dict[str, Any]) -> list[str]:
    from sqlalchemy import select

    from conveyor.extensions import db
    from conveyor.models import Deal

    paths = sorted({rule.rule for rule in app.url_map.iter_rules()
                    if "GET" in (rule.methods or ()) and not rule.arguments
                    and not rule.rule.startswith(("/static", "/_bench", "/logout"))})
    with app.app_context():
        deal = db.session.scalar(select(Deal).where(Deal.owner_id == info["users"]["seller01"])
                                 .limit(1))
        paths += [f"/deals/{deal.id}", f"/customers/{deal.customer_id}"]
        db.session.remove()
    return paths


def run(url: str, info: dict[str, Any], scale: float, rounds: int, name: str,
        config: dict[str, Any] | None = None) -> bool:
    app = make_bench_app(url, list(PLUGINS))
    paths = pages(app, info)
    statuses: dict[str, int] = {}
    with served(url, PLUGINS, config=config,
                app_spec="bench_memory:memory_wsgi_app()") as server:
        pid = worker_pid(server.port)
        heavy_loaded: dict[str, str] = {}
        started = rss_mb(pid)
        users = {"admin": info["users"]["admin"], "seller": info["users"]["seller01"]}
        clients = {who: server.client(app, uid) for who, uid in users.items()}
        server.client(app, None)("/healthz")  # the worker has loaded the app: the floor
        loaded = rss_mb(pid)
        after_first = None
        steps: list[tuple[float, str]] = []  # RSS growth per request of the first pass
        for i in range(rounds):
            for who, get in clients.items():
                for path in paths:
                    before = rss_mb(pid) if i == 0 else 0.0
                    statuses[f"{who} {path}"] = get(path).status_code
                    if i == 0:
                        steps.append((rss_mb(pid) - before, f"{who} {path}"))
            if i == 0:
                after_first = rss_mb(pid)
        warm = rss_mb(pid)
        modules = json.loads(server.client(app, None)("/_bench/modules").body)
        heavy_loaded.update({m: ("yes" if on else "no") for m, on in modules.items()})
    ok = warm <= GOAL_MB
    rows = [["right after the port opened (app still loading)", f"{started:.1f}", ""],
            ["after its first request (/healthz: the app and its imports loaded)",
             f"{loaded:.1f}", ""],
            ["after one pass over every page", f"{after_first:.1f}", ""],
            [f"after {rounds} passes", f"{warm:.1f}", "yes" if ok else "NO"]]
    meta = {"scale": scale, "plugins": " ".join(PLUGINS), "pages": len(paths),
            "requests per pass": len(paths) * len(users), "goal": f"≤ {GOAL_MB} MB RSS",
            "answers": dict(sorted({str(s): sum(1 for v in statuses.values() if v == s)
                                    for s in set(statuses.values())}.items()))}
    steps.sort(reverse=True)
    grown = sum(d for d, _ in steps)
    extra = ("\n## Where the first pass grew the worker\n\n"
             f"{grown:.1f} MB over {len(steps)} requests; the largest steps (a page's first "
             "visit: its templates compiled, its statements compiled and cached, the locale "
             "data and modules it is the first to need):\n\n"
             + table(["request", "RSS MB added"], [[w, f"{d:.2f}"] for d, w in steps[:15]])
             + "\n\n## What importing costs (RSS MB, each in a fresh process after "
               "flask and sqlalchemy.orm)\n\n"
             + table(["module", "RSS MB", "loaded by the warm worker"],
                     [[m, f"{mb:.1f}", heavy_loaded.get(m, "?")] for m, mb in import_costs()]))
    path = write_results(name, meta, ["gunicorn worker (sync, -w 1)", "RSS MB", "≤ 80 MB"],
                         rows, extra_md=extra, extra_json={"steps": steps, "paths": paths, "statuses": statuses,
                                           "python": sys.version, "pid": os.getpid()})
    print(f"\nwritten: {path}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--config", default="{}",
                        help='more app settings as JSON, e.g. \'{"sql_cache_size": 100}\'')
    parser.add_argument("--name", default="memory", help="results file name (before -s<scale>)")
    args = parser.parse_args()
    url, info = bench_database(args.scale, plugins=PLUGINS)
    suffix = "" if args.scale == 1 else f"-s{args.scale:g}"
    sys.exit(0 if run(url, info, args.scale, args.rounds, f"{args.name}{suffix}",
                     json.loads(args.config)) else 1)


if __name__ == "__main__":
    main()
