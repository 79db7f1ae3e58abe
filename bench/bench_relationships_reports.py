"""Relationship reports against the bare route: a seller's month, a team's quarter, the company's
year (goals 10×, 30×, 100×), on the generated company with the relationships plugin.

    .venv/bin/python bench/bench_relationships_reports.py               # 1M deals, SQLite
    .venv/bin/python bench/bench_relationships_reports.py --scale 0.1   # quick
    .venv/bin/python bench/bench_relationships_reports.py --pg --scale 0.1  # throwaway PostgreSQL
    .venv/bin/python bench/bench_relationships_reports.py --url URL     # a database you give

What a user opens, in-process (Flask test client, signed-in session), round-robin with the bare
route (``bench/common.py``: one indexed query, no template, no permission check) in the same
rounds: the reports page (``/relationships/`` for the period: customers per type and seller with
the chart, won deals per type in the company currency, moves), its CSV export, the API
(``summary``, ``transitions``, ``won``) and the home widget of the role (``relationships.mine``
for the seller, ``relationships.team`` for the manager and the admin, rendered alone). The
signed-in empty page (``/_bench/shell``) is measured too, to show what every page costs before
its content.

Before timing: the types are computed (``recompute``), moved twice (a settings change and back)
so periods hold moves, and EUR (a tenth of the generated deals) gets a rate on the first day of
each month of the two years before the data's end, so every won-amount total converts.
Results: ``bench/results/relationships-reports[-pg][-s<scale>].md|json``.
"""
from __future__ import annotations

import argparse
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

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

HEADERS = ["report", "selection", "ms (median)", "bare ms", "ratio", "goal", "pass", "SQL",
           "slowest SQL ms"]


def add_widget_route(app: Any) -> None:
    """``/_bench/widget/<id>``: one home widget rendered alone for the signed-in user."""
    from conveyor.permissions import login_required
    from conveyor.web import render_widget

    @login_required
    def widget(widget_id: str) -> str:
        return str(render_widget(widget_id))

    app.add_url_rule("/_bench/widget/<widget_id>", "bench_widget", widget)


def prepare(app: Any) -> int:
    """Types computed and moved twice; EUR rated monthly. Returns the moves recorded."""
    from sqlalchemy import select

    from conveyor import db
    from conveyor.models import ExchangeRate
    from conveyor.money import set_rate
    from conveyor.plugins.relationships.models import RelationshipTransition
    from conveyor.plugins.relationships.services import recompute
    from conveyor.types import utcnow

    with app.app_context():
        settings = app.extensions["conveyor"].settings
        recompute(db.session)
        moved = 0
        if db.session.scalar(select(RelationshipTransition.id).limit(1)) is None:
            settings["relationships.regular_min_wins"] = 3
            moved += recompute(db.session).changed
            settings["relationships.regular_min_wins"] = 2
            moved += recompute(db.session).changed
        if db.session.scalar(select(ExchangeRate.day).limit(1)) is None:
            today = utcnow().date()
            for months in range(25):
                index = today.year * 12 + today.month - 1 - months
                day = date(index // 12, index % 12 + 1, 1)
                set_rate("EUR", day, Decimal("1.05") + Decimal(months % 7) / 100)
        db.session.commit()
        db.session.remove()
    return moved


def run(url: str, info: dict[str, Any], scale: float, rounds: int, name: str) -> bool:
    from conveyor.types import utcnow

    app = make_bench_app(url, plugins=["relationships"])
    add_widget_route(app)
    moved = prepare(app)
    today = utcnow().date()

    def since(months: int) -> dict[str, str]:
        index = today.year * 12 + today.month - 1 - (months - 1)
        return {"start": date(index // 12, index % 12 + 1, 1).isoformat(),
                "end": today.isoformat()}

    users = info["users"]
    selections = [("seller, month", users["seller01"], since(1), 10, "relationships.mine"),
                  ("team, quarter", users["manager"], since(3), 30, "relationships.team"),
                  ("company, year", users["admin"], since(12), 100, "relationships.team")]
    rows: list[list[Any]] = []
    plans: dict[str, str] = {}
    ok = True
    bare_id = info["counts"]["deals"] // 2
    for label, user, period, goal, widget in selections:
        client = client_for(app, user)
        bare = app.test_client()
        query = urlencode(period)
        urls = {"reports page": f"/relationships/?{query}",
                "CSV export": f"/relationships/export.csv?{query}",
                "API: types per seller": "/api/v1/relationships/summary",
                "API: moves in the period": f"/api/v1/relationships/transitions?{query}",
                "API: won by type (money)": f"/api/v1/relationships/won?{query}",
                f"widget {widget} (this month)": f"/_bench/widget/{widget}",
                "signed-in empty page (shell)": "/_bench/shell"}
        for target in urls.values():
            response = client.get(target)
            assert response.status_code == 200, (target, response.status_code)
        cases: dict[str, Any] = {"bare": lambda: bare.get(f"/_bench/bare/{bare_id}")}
        cases.update({k: (lambda t=t: client.get(t)) for k, t in urls.items()})
        timings = measure(cases, rounds=rounds, warmup=2)
        bare_ms = timings["bare"].median
        for report, target in urls.items():
            statements = capture_queries(app, lambda t=target: client.get(t))
            own = replay(app, statements, times=1) if statements else [0.0]
            worst = max(range(len(own)), key=own.__getitem__)
            ms = timings[report].median
            reference = report.startswith("signed-in")
            passed = ms / bare_ms <= goal
            ok = ok and (passed or reference)
            if not passed and statements:
                sql, params, _ = statements[worst]
                plans[f"{report} | {label}"] = f"{sql}\n--\n{explain(app, sql, params)}"
            rows.append([report, label, f"{ms:.1f}", f"{bare_ms:.2f}", f"{ms / bare_ms:.1f}",
                         "" if reference else f"≤ {goal}",
                         "" if reference else ("yes" if passed else "NO"), len(statements),
                         f"{own[worst]:.1f}"])
        print(f"{label}: done")
    meta = {"database": database_label(url), "scale": scale,
            "customers": info["counts"].get("customers"), "deals": info["counts"].get("deals"),
            "moves recorded while preparing": moved,
            "selections": "; ".join(f"{lbl}: {p}" for lbl, _u, p, _g, _w in selections),
            "rounds": rounds,
            "method": "in-process requests (Flask test client, signed-in session), round-robin "
                      "with the bare route; ratio = median / bare median"}
    extra = ("\nVisibility is the core's record rule: a seller sees their own customers and "
             "deals, the manager the team's, the admin everyone's. Won amounts are summed per "
             "(type, currency, UTC day) by the database (in cents) and converted per day at that "
             "day's rate (EUR rated monthly), so the figures are exact; the SQL column counts "
             "the statements of one request, the last column the slowest one replayed alone.\n")
    path = write_results(name, meta, HEADERS, rows, extra_md=extra, extra_json={"plans": plans})
    print(f"\nwritten: {path}")
    return ok


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100k customers, 1M deals")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--pg", action="store_true", help="start a throwaway PostgreSQL")
    where.add_argument("--url", help="use this database (its app tables are dropped and refilled)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the cached SQLite file")
    args = parser.parse_args(argv)
    suffix = "" if args.scale == 1 else f"-s{args.scale:g}"
    plugins = ("relationships",)
    if args.pg:
        with throwaway_postgres() as url:
            url, info = bench_database(args.scale, url=url, plugins=plugins, seed=args.seed)
            ok = run(url, info, args.scale, args.rounds, f"relationships-reports-pg{suffix}")
    else:
        url, info = bench_database(args.scale, url=args.url, plugins=plugins, seed=args.seed,
                                   fresh=args.fresh)
        pg = not url.startswith("sqlite")
        ok = run(url, info, args.scale, args.rounds,
                 f"relationships-reports{'-pg' if pg else ''}{suffix}")
    print("all goals met" if ok else "some goals NOT met")


if __name__ == "__main__":
    main()
