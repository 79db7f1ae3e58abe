"""Memory of a gunicorn worker with every built-in plugin on, after a warm-up over every page
(issue 18, goal 4: ≤ 80 MB RSS).

    .venv/bin/python bench/bench_memory.py --scale 0.1

The app (every plugin ``config/defaults.toml`` lists, built by ``memory_app.py`` as
``make_bench_app`` does but without importing the bench harness into the worker) is served by
gunicorn (one sync worker, as ``common.served``) with the settings docs/deploy.md gives operators
(``-c python:conveyor.config.gunicorn``: the app preloaded by the master; ``--gunicorn-config
none`` for gunicorn's defaults); the worker's memory (RSS, PSS and USS of
``/proc/<pid>/smaps_rollup``) is read after start-up, and after requesting, as the admin and as a
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
GUNICORN_CONFIG = "python:conveyor.config.gunicorn"  # what docs/deploy.md tells operators to run


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def memory_mb(pid: int) -> dict[str, float]:
    """RSS, PSS and USS of ``pid`` (``/proc/<pid>/smaps_rollup``), in MB. RSS counts every page
    the process maps, shared or not; PSS divides each shared page among the processes sharing
    it (the sum over processes is the memory they really use); USS counts the pages only this
    process has (what stopping it gives back)."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        fields[key] = int(value.split()[0]) / 1024
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "uss": fields["Private_Clean"] + fields["Private_Dirty"]}


def master_pid(worker: int) -> int:
    return int(Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[1])


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return out


def worker_pid(port: int, wait_s: float = 60) -> int:
    """The gunicorn worker serving ``port``: the child of the master started with it (waited
    for: with ``preload_app`` the port opens before the master forks)."""
    import time

    deadline = time.monotonic() + wait_s
    while True:
        try:
            return _worker_pid(port)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _worker_pid(port: int) -> int:
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


from memory_app import HEAVY  # noqa: E402


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
        config: dict[str, Any] | None = None, gunicorn_config: str = GUNICORN_CONFIG,
        workers: int = 1) -> bool:
    app = make_bench_app(url, list(PLUGINS))
    paths = pages(app, info)
    statuses: dict[str, int] = {}
    gunicorn_args = ["-c", gunicorn_config] if gunicorn_config != "none" else []
    with served(url, PLUGINS, config=config, app_spec="memory_app:memory_wsgi_app()",
                gunicorn_args=gunicorn_args, workers=workers) as server:
        pid = worker_pid(server.port)
        master = master_pid(pid)
        heavy_loaded: dict[str, str] = {}
        started = memory_mb(pid)
        users = {"admin": info["users"]["admin"], "seller": info["users"]["seller01"]}
        clients = {who: server.client(app, uid) for who, uid in users.items()}
        server.client(app, None)("/healthz")  # the worker has loaded the app: the floor
        loaded = memory_mb(pid)
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
                after_first = memory_mb(pid)
        warm = memory_mb(pid)
        master_warm = memory_mb(master)
        every_worker = [memory_mb(p) for p in children(master)]
        modules = json.loads(server.client(app, None)("/_bench/modules").body)
        cli_modules = modules.pop("cli modules")
        harness_modules = modules.pop("harness modules")
        heavy_loaded.update({m: ("yes" if on else "no") for m, on in modules.items()})
    ok = warm["rss"] <= GOAL_MB

    def row(label: str, m: dict[str, float], verdict: str = "") -> list[str]:
        return [label, f"{m['rss']:.1f}", f"{m['pss']:.1f}", f"{m['uss']:.1f}", verdict]

    rows = [row("right after the port opened" + (" (app still loading)" if not gunicorn_args
                                                  else " (app preloaded by the master)"), started),
            row("after its first request (/healthz: the app and its imports loaded)", loaded),
            row("after one pass over every page", after_first),
            row(f"after {rounds} passes", warm, "yes" if ok else "NO"),
            row(f"the master, after {rounds} passes", master_warm),
            [f"master + {len(every_worker)} worker(s): PSS, what the instance really uses", "",
             f"{master_warm['pss'] + sum(w['pss'] for w in every_worker):.1f}", "", ""]]
    meta = {"gunicorn config": gunicorn_config, "scale": scale, "plugins": " ".join(PLUGINS),
            "workers": workers, "pages": len(paths),
            "CLI modules in the warm worker": ", ".join(sorted(cli_modules)) or "none",
            "bench harness modules in the warm worker": ", ".join(harness_modules) or "none",
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
    path = write_results(name, meta, [f"a gunicorn worker (sync, -w {workers})", "RSS MB", "PSS MB",
                                      "USS MB", "RSS ≤ 80 MB"],
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
    parser.add_argument("--gunicorn-config", default=GUNICORN_CONFIG,
                        help="gunicorn -c value; 'none' for gunicorn's own defaults")
    parser.add_argument("--workers", type=int, default=1,
                        help="gunicorn -w (the table follows one worker; the last row sums all)")
    args = parser.parse_args()
    url, info = bench_database(args.scale, plugins=PLUGINS)
    suffix = "" if args.scale == 1 else f"-s{args.scale:g}"
    sys.exit(0 if run(url, info, args.scale, args.rounds, f"{args.name}{suffix}",
                     json.loads(args.config), args.gunicorn_config, args.workers) else 1)


if __name__ == "__main__":
    main()
