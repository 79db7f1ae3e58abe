"""Where a worker's memory goes (issue 18, goal 4): what ``bench_memory.py`` measures as a whole,
taken apart in one process.

    .venv/bin/python bench/memory_ledger.py --scale 0.1

1. The RSS each step of loading adds, in the order a worker loads it (the interpreter, flask,
   SQLAlchemy, the Flask extensions, the ``conveyor`` package, ``create_app`` with every plugin,
   the mappers configured, the default language's locale data).
2. A pass over every page ``bench_memory`` requests (admin and seller, Flask's test client), then
   the Python allocations it left (``tracemalloc``, grouped by the library that made them) and
   the caches that hold them: SQLAlchemy's compiled statements, Jinja's templates, Babel's
   locale data. RSS under ``tracemalloc`` is not the worker's, so the pass is run twice: RSS
   without it, allocations with it.
3. The floor: a bare Flask + Flask-SQLAlchemy app with the same libraries imported (one model,
   one page), warm — what 80 MB leaves for Conveyor's own code and caches.

Results: ``bench/results/memory-ledger[-s<scale>].md|json``.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

STEPS = ["flask", "sqlalchemy", "sqlalchemy.orm", "flask_sqlalchemy", "flask_limiter",
         "flask_smorest", "flask_wtf", "flask_babel", "flask_login", "pluggy",
         "sqlalchemy.dialects.sqlite", "conveyor", "conveyor.app"]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _library(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/")[1].split("/")[0].removesuffix(".py")
    for top in ("/core/", "/plugins/"):
        if top in filename and "/bench/" not in filename:
            rest = filename.split(top, 1)[1]
            return "conveyor" if top == "/core/" else f"plugin {rest.split('/')[0]}"
    return "stdlib and other" if "python3" in filename else filename.rsplit("/", 1)[-1]


def child(url: str, plugins: str, traced: bool) -> dict[str, Any]:
    """Runs in a fresh process (``--child``): the loading steps, then one pass over the pages."""
    steps: list[tuple[str, float]] = [("the interpreter", rss_mb())]
    previous = steps[0][1]
    for module in STEPS:
        importlib.import_module(module)
        now = rss_mb()
        steps.append((f"import {module}", now - previous))
        previous = now
    os.environ.update(BENCH_APP_URL=url, BENCH_APP_PLUGINS=plugins)
    from memory_app import memory_wsgi_app

    app = memory_wsgi_app()
    now = rss_mb()
    steps.append(("create_app (every plugin: modules, models, routes, schemas)", now - previous))
    previous = now
    from babel import localedata
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    now = rss_mb()
    steps.append(("the mappers configured", now - previous))
    previous = now
    localedata.load(app.config["BABEL_DEFAULT_LOCALE"])
    now = rss_mb()
    steps.append((f"locale data ({app.config['BABEL_DEFAULT_LOCALE']} and root)", now - previous))
    loaded = now

    import json

    from common import client_for

    from bench_memory import pages
    from conveyor.extensions import db

    info = json.loads(os.environ["BENCH_LEDGER_INFO"])
    paths = pages(app, info)
    clients = [client_for(app, info["users"][who]) for who in ("admin", "seller01")]
    app.test_client().get("/healthz")
    gc.collect()
    if traced:
        import tracemalloc

        tracemalloc.start(1)
        before = tracemalloc.take_snapshot()
    start = rss_mb()
    for client in clients:
        for path in paths:
            client.get(path)
    gc.collect()
    result: dict[str, Any] = {"steps": steps, "loaded": loaded, "pass_rss": rss_mb() - start}
    if traced:
        after = tracemalloc.take_snapshot()
        ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
        grown: Counter[str] = Counter()
        for stat in after.filter_traces(ignore).compare_to(before.filter_traces(ignore),
                                                           "filename"):
            grown[_library(stat.traceback[0].filename)] += stat.size_diff
        result["by_library"] = [(lib, size / 2**20) for lib, size in grown.most_common(12)]
        result["traced"] = sum(grown.values()) / 2**20
    with app.app_context():
        result["compiled statements"] = len(db.engine._compiled_cache or {})
    result["templates"] = len(app.jinja_env.cache or {})
    result["locales"] = sorted(localedata._cache)
    return result


def bare() -> dict[str, Any]:
    """The floor (``--child bare``): the same libraries imported (``STEPS``), then a bare
    Flask + Flask-SQLAlchemy app on the same database (one model, one page rendering a template
    from a query), warmed by a few requests: what any app on this stack costs before its own
    code."""
    for module in STEPS[:-2]:
        importlib.import_module(module)
    from flask import Flask, render_template_string
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy import Column, Integer, String, select
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase):
        pass

    db = SQLAlchemy(model_class=Base)

    class Customer(db.Model):  # type: ignore[name-defined]
        __tablename__ = "customers"
        id = Column(Integer, primary_key=True)
        name = Column(String)

    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BENCH_APP_URL"]
    db.init_app(app)

    @app.get("/")
    def index() -> str:
        rows = db.session.scalars(select(Customer).order_by(Customer.id).limit(50)).all()
        return render_template_string("<ul>{% for c in rows %}<li>{{ c.name }}</li>"
                                      "{% endfor %}</ul>", rows=rows)

    client = app.test_client()
    for _ in range(20):
        assert client.get("/").status_code == 200
    gc.collect()
    return {"bare": rss_mb()}


def main() -> None:
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--child", choices=["plain", "traced", "bare"])
    parser.add_argument("--name", help="results file name (default memory-ledger[-s<scale>])")
    args = parser.parse_args()
    if args.child == "bare":
        print(json.dumps(bare()))
        return
    if args.child:
        print(json.dumps(child(os.environ["BENCH_APP_URL"], os.environ["BENCH_APP_PLUGINS"],
                               args.child == "traced")))
        return
    from common import bench_database, table, write_results

    from bench_memory import PLUGINS

    url, info = bench_database(args.scale, plugins=PLUGINS)
    env = {**os.environ, "BENCH_APP_URL": url, "BENCH_APP_PLUGINS": ",".join(PLUGINS),
           "BENCH_LEDGER_INFO": json.dumps(info, default=str)}
    runs = {}
    for mode in ("plain", "traced", "bare"):
        out = subprocess.run([sys.executable, __file__, "--scale", str(args.scale), "--child",
                              mode], env=env, capture_output=True, text=True, check=True)
        runs[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    plain, traced = runs["plain"], runs["traced"]
    rows = [[label, f"{mb:.1f}"] for label, mb in plain["steps"]]
    rows.append(["**loaded** (before any request)", f"**{plain['loaded']:.1f}**"])
    rows.append(["a pass over every page (admin and seller)", f"{plain['pass_rss']:.1f}"])
    rows.append(["**after the pass**", f"**{plain['loaded'] + plain['pass_rss']:.1f}**"])
    rows.append(["the floor: a bare Flask + SQLAlchemy app, the same libraries imported, "
                 "one model and page, warm", f"({runs['bare']['bare']:.1f} in all)"])
    extra = ("\n## What the pass left (Python allocations, tracemalloc, by library)\n\n"
             f"{traced['traced']:.1f} MB in all; held by {traced['compiled statements']} "
             f"compiled statements (SQLAlchemy's cache), {traced['templates']} compiled "
             f"templates, the locale data of {', '.join(traced['locales'])}.\n\n"
             + table(["library", "MB"], [[lib, f"{mb:.2f}"] for lib, mb in traced["by_library"]]))
    suffix = "" if args.scale == 1 else f"-s{args.scale:g}"
    meta = {"scale": args.scale, "plugins": " ".join(PLUGINS),
            "how": "one fresh process; RSS from /proc/self/status; the pages of bench_memory "
                   "through Flask's test client (no gunicorn)"}
    path = write_results(args.name or f"memory-ledger{suffix}", meta, ["step", "RSS MB added"], rows,
                         extra_md=extra, extra_json=runs)
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
