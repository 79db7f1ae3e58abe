"""What SQLAlchemy's compiled-statement cache costs and saves: a worker's RSS after a warm-up
over every page against the time the pages take, for several ``sql_cache_size`` values.

    .venv/bin/python bench/bench_sql_cache.py [--scale 0.1] [--sizes 500,150,100,50,0]

Each size runs in a fresh process (the app as ``bench_memory`` serves it, every plugin, the
mappers and the default language's locale data loaded first, as the gunicorn master does): one
warm-up pass over the pages of ``bench_memory`` (admin and seller, Flask's test client), then
``--rounds`` timed passes (CPU and wall time per pass). The sizes are run ``--repeat`` times in
turn, so a change of load on a shared machine falls on every size alike.

Results: ``bench/results/sql-cache[-s<scale>].md|json``.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def child(rounds: int) -> dict[str, Any]:
    """One size (``BENCH_APP_CONFIG``) in this fresh process: warm-up, then timed passes."""
    from babel import localedata
    from sqlalchemy.orm import configure_mappers

    from common import client_for
    from memory_app import memory_wsgi_app

    from bench_memory import pages
    from conveyor.extensions import db

    info = json.loads(os.environ["BENCH_LEDGER_INFO"])
    app = memory_wsgi_app()
    configure_mappers()
    localedata.load(app.config["BABEL_DEFAULT_LOCALE"])
    paths = pages(app, info)
    clients = [client_for(app, info["users"][who]) for who in ("admin", "seller01")]
    app.test_client().get("/healthz")
    gc.collect()
    loaded = rss_mb()

    def one_pass() -> None:
        for client in clients:
            for path in paths:
                client.get(path)

    one_pass()
    gc.collect()
    warm = rss_mb()
    cpu, wall = [], []
    for _ in range(rounds):
        c0, w0 = time.process_time(), time.perf_counter()
        one_pass()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    gc.collect()
    with app.app_context():
        cached = len(db.engine._compiled_cache or {})
    return {"loaded": loaded, "warm": warm, "after": rss_mb(), "cpu": cpu, "wall": wall,
            "cached": cached, "requests": 2 * len(paths)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--sizes", default="500,150,100,50,0")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.rounds)))
        return
    from common import bench_database, write_results

    from bench_memory import PLUGINS

    url, info = bench_database(args.scale, plugins=PLUGINS)
    sizes = [int(s) for s in args.sizes.split(",")]
    runs: dict[int, list[dict[str, Any]]] = {size: [] for size in sizes}
    for _ in range(args.repeat):
        for size in sizes:
            env = {**os.environ, "BENCH_APP_URL": url, "BENCH_APP_PLUGINS": ",".join(PLUGINS),
                   "BENCH_APP_CONFIG": json.dumps({"sql_cache_size": size}),
                   "BENCH_LEDGER_INFO": json.dumps(info, default=str)}
            out = subprocess.run([sys.executable, __file__, "--child", "--rounds",
                                  str(args.rounds)], env=env, capture_output=True, text=True,
                                 check=True)
            runs[size].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(size, runs[size][-1], flush=True)

    def best(size: int, key: str) -> float:
        return min(min(run[key]) for run in runs[size])

    def mean(size: int, key: str) -> float:
        return sum(run[key] for run in runs[size]) / len(runs[size])

    reference = sizes[0]
    rows = []
    for size in sizes:
        requests = runs[size][0]["requests"]
        rows.append([str(size), str(runs[size][0]["cached"]), f"{mean(size, 'warm'):.1f}",
                     f"{mean(size, 'after'):.1f}",
                     f"{mean(size, 'after') - mean(reference, 'after'):+.1f}",
                     f"{1000 * best(size, 'cpu') / requests:.2f}",
                     f"{best(size, 'cpu') / best(reference, 'cpu'):.2f}",
                     f"{1000 * best(size, 'wall') / requests:.2f}",
                     f"{best(size, 'wall') / best(reference, 'wall'):.2f}"])
    suffix = "" if args.scale == 1 else f"-s{args.scale:g}"
    meta = {"scale": args.scale, "plugins": " ".join(PLUGINS), "rounds": args.rounds,
            "repeat": args.repeat,
            "how": "a fresh process per size and repeat; RSS from /proc/self/status (mean of "
                   "the repeats); time per request = the best pass's time / requests per pass"}
    path = write_results(f"sql-cache{suffix}", meta,
                         ["sql_cache_size", "statements cached", "RSS after warm-up MB",
                          f"RSS after {args.rounds} more passes MB", f"vs {reference}",
                          "CPU ms/request", "CPU ratio", "wall ms/request", "wall ratio"],
                         rows, extra_json={str(k): v for k, v in runs.items()})
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
