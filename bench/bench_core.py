"""Core pages at scale against a bare Flask route in the same process (issue 2, "Speed").

    python bench/bench_core.py                 # full size on SQLite: 100k customers, 1M deals
    python bench/bench_core.py --scale 0.1     # a quick run
    python bench/bench_core.py --pg            # a throwaway PostgreSQL 15 (stack-notes.md)
    python bench/bench_core.py --url URL       # an existing database (it is wiped and refilled)

Measures, as a seller (their ~1/24 of the deals) and as admin (all of them): the deals list's first
page, a deep page (``?before=`` the id at 90 % depth of what the user sees: keyset pagination only
uses that id, so it is where following "next" 90 % of the way ends), a customer card (the seller's
customer with the most deals), a deal card (a won deal: the longest history) and the pipeline board.
Each page's median is divided by the median of ``/_bench/bare/<id>`` (one primary-key SELECT, no
template, see ``common.add_bare_route``) measured in the same rounds. Goal: ≤ 3×.

Requests go through Flask's test client, in-process: no socket, HTTP parser or server threads to
add noise, so the ratio compares the app's own work (routing, login, permission scopes, SQL,
templates) with the cheapest route the same app can serve; a real server would add the same
fixed cost to both sides and only flatter the ratio. Rounds are round-robin, so load from other
processes on the machine hits every row alike.

Writes ``bench/results/core[-pg][-s<scale>].md`` and ``.json``: date, machine, scale, database,
the table, each page's SQL statement count and slowest statement, and the plans of the statements
of pages that miss the goal.
"""
from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (bench_database, capture_queries, client_for, database_label,  # noqa: E402
                    explain, make_bench_app, measure, replay, table, throwaway_postgres,
                    write_results)

GOAL = 3.0
USERS = ("seller", "manager", "admin")
HEADERS = ["page", "as", "median ms", "p90 ms", "ratio", "goal", "pass", "× layout", "SQL",
           "SQL ms", "slowest SQL ms"]


def targets(app: Any, info: dict[str, Any]) -> dict[str, Any]:
    """The ids the pages are asked for, chosen with SQL on the generated data."""
    from sqlalchemy import text

    from conveyor.extensions import db

    users, won = info["users"], info["stages"]["won"]
    seller = users["seller01"]
    out: dict[str, Any] = {"seller": seller, "manager": users["manager"], "admin": users["admin"]}
    team = ("SELECT user_id FROM team_members WHERE team_id IN (SELECT team_id FROM team_members "
            "WHERE user_id = :u) UNION SELECT :u")
    with app.app_context():
        q = lambda sql, **kw: db.session.execute(text(sql), kw).scalar()  # noqa: E731
        for who, where in (("seller", "WHERE owner_id = :u"),
                           ("manager", f"WHERE owner_id IN ({team})"), ("admin", "")):
            n = q(f"SELECT count(*) FROM deals {where}", u=out[who])
            out[f"{who}_deals"] = n
            out[f"{who}_deep"] = q(f"SELECT id FROM deals {where} ORDER BY id DESC "
                                   f"LIMIT 1 OFFSET :o", u=out[who], o=int(n * 0.9))
        out["customer"] = q("SELECT customer_id FROM deals WHERE owner_id = :u GROUP BY customer_id "
                            "ORDER BY count(*) DESC, customer_id LIMIT 1", u=seller)
        out["customer_deals"] = q("SELECT count(*) FROM deals WHERE customer_id = :c",
                                  c=out["customer"])
        out["deal"] = q("SELECT id FROM deals WHERE owner_id = :u AND stage_id = :w "
                        "ORDER BY id DESC LIMIT 1", u=seller, w=won)
        db.session.remove()
    return out


def pages(t: dict[str, Any], who: str) -> list[tuple[str, str, str]]:
    """(label, endpoint that must exist, path) for one user."""
    return [
        ("deals list, first page", "deals.index", "/deals/"),
        ("deals list, deep page (90 %)", "deals.index", f"/deals/?before={t[who + '_deep']}"),
        ("customer card", "customers.card", f"/customers/{t['customer']}"),
        ("deal card", "deals.card", f"/deals/{t['deal']}"),
        ("pipeline board", "deals.board", "/deals/board"),
    ]


def run(url: str, info: dict[str, Any], scale: float, rounds: int, warmup: int, name: str,
        options: bool) -> bool:
    app = make_bench_app(url)
    t = targets(app, info)
    clients = {who: client_for(app, t[who]) for who in USERS}
    seller = clients["seller"]
    bare_path = f"/_bench/bare/{t['seller_deep']}"
    cases: dict[str, Any] = {"bare": lambda: seller.get(bare_path),
                             "shell": lambda: seller.get("/_bench/shell")}
    labels: dict[str, tuple[str, str, str]] = {"shell": ("empty signed-in page (layout only)",
                                                          "seller", "/_bench/shell")}
    missing: list[tuple[str, str, str]] = []
    for who, client in clients.items():
        for label, endpoint, path in pages(t, who):
            if endpoint not in app.view_functions:
                missing.append((label, who, endpoint))
                continue
            key = f"{label}|{who}"
            labels[key] = (label, who, path)
            cases[key] = (lambda c=client, p=path: c.get(p))
    for key, (label, who, path) in labels.items():
        status = clients[who].get(path).status_code
        if status != 200:
            raise SystemExit(f"{path} as {who} answered {status}")
    timings = measure(cases, rounds=rounds, warmup=warmup)
    bare, shell = timings["bare"].median, timings["shell"].median
    rows: list[list[Any]] = [["bare route (1 indexed query)", "seller", f"{bare:.2f}",
                              f"{timings['bare'].p90:.2f}", "1.0", "", "", "", 1, "", ""]]
    plans: list[str] = []
    queries: dict[str, Any] = {}
    all_pass, board_fails = True, False
    for key, (label, who, path) in labels.items():
        timing = timings[key]
        ratio = timing.median / bare
        ok = ratio <= GOAL
        seen = capture_queries(app, lambda c=clients[who], p=path: c.get(p))
        db_ms = replay(app, seen)
        queries[key] = [{"sql": s, "ms": round(ms, 3)} for (s, _, _), ms in zip(seen, db_ms)]
        verdict = "yes" if ok else "NO"
        if key == "shell":
            verdict = "(reference)"
        else:
            all_pass &= ok
            board_fails |= label == "pipeline board" and not ok
        rows.append([label, who, f"{timing.median:.2f}", f"{timing.p90:.2f}", f"{ratio:.1f}",
                     f"≤ {GOAL:g}×", verdict, f"{timing.median / shell:.1f}", len(seen),
                     f"{sum(db_ms):.1f}", f"{max(db_ms):.1f}"])
        if not ok and max(db_ms) > bare:
            worst = sorted(zip(seen, db_ms), key=lambda x: -x[1])[:1]
            for (sql, params, _), ms in worst:
                plans.append(f"### {label} as {who}: {ms:.1f} ms\n\n```sql\n{sql.strip()}\n```\n"
                             f"params: `{params}`\n\n```\n{explain(app, sql, params)}\n```\n")
    for label, who, endpoint in missing:
        rows.append([label, who, "", "", "", f"≤ {GOAL:g}×", f"missing ({endpoint})", "", "", "",
                     ""])
        all_pass = False
    print(table(HEADERS, rows))
    extra = ""
    if plans:
        extra += "## Plans of the slowest statements (where one costs more than the bare route)\n\n"
        extra += "\n".join(plans)
    board: list[list[Any]] = []
    if options and (board_fails or "pipeline board" in {m[0] for m in missing}):
        board = board_options(app, info, t, bare)
        extra += ("\n## Board totals: the GROUP BY and its alternatives (database time only)\n\n"
                  + table(OPTION_HEADERS, board) + "\n")
        print("\n" + table(OPTION_HEADERS, board))
    meta = {"scale": scale, "database": database_label(url),
            "data": {k: info["counts"].get(k) for k in ("customers", "contacts", "deals",
                                                       "stage_history")},
            "seller sees": f"{t['seller_deals']} deals", "manager sees": f"{t['manager_deals']} "
            "deals", "admin sees": f"{t['admin_deals']} deals",
            "customer card": f"customer {t['customer']} ({t['customer_deals']} deals)",
            "rounds": f"{rounds} (+{warmup} warm-up), round-robin, Flask test client",
            "generator": f"{info['rows']} rows at {info['rows_per_s']} rows/s",
            "SQL ms": "sum of the page's statements re-run and fetched alone (best of 3)",
            "× layout": "median / median of the empty signed-in page (the floor of any page)"}
    path = write_results(name, meta, HEADERS, rows, extra_md=extra,
                         extra_json={"targets": t, "queries": queries, "board_options": board,
                                     "samples_ms": {k: v.samples_ms for k, v in timings.items()}})
    print(f"\nwritten: {path}")
    return all_pass


OPTION_HEADERS = ["board totals query", "as", "median ms", "× bare route"]


def board_options(app: Any, info: dict[str, Any], t: dict[str, Any], bare: float
                  ) -> list[list[Any]]:
    """The board's per-stage totals three ways, on the same data: today's GROUP BY over deals,
    the same with covering indexes (index-only), and a per-(stage, owner, currency) summary
    table. The indexes and the table are dropped afterwards."""
    import statistics
    import time

    from conveyor.extensions import db

    open_ids = ",".join(str(i) for i in info["stages"]["open"])
    scopes = {"admin": "", "seller": f"AND owner_id = {t['seller']}",
              "manager": f"AND owner_id IN (SELECT user_id FROM team_members WHERE team_id IN "
                         f"(SELECT team_id FROM team_members WHERE user_id = {t['manager']}) "
                         f"UNION SELECT {t['manager']})"}
    group = (f"SELECT stage_id, currency, count(*), sum(amount) FROM deals WHERE stage_id IN "
             f"({open_ids}) {{w}} GROUP BY stage_id, currency")
    summary = (f"SELECT stage_id, currency, sum(n), sum(amount) FROM bench_deal_totals WHERE "
               f"stage_id IN ({open_ids}) {{w}} GROUP BY stage_id, currency")
    out: list[list[Any]] = []
    with app.app_context():
        raw = db.engine.raw_connection()
        dialect = db.engine.dialect.name
    cur = raw.cursor()

    def timed(label: str, sql: str) -> None:
        for who, where in scopes.items():
            samples = []
            for _ in range(7):
                start = time.perf_counter()
                cur.execute(sql.format(w=where))
                cur.fetchall()
                samples.append((time.perf_counter() - start) * 1000)
            ms = statistics.median(samples)
            out.append([label, who, f"{ms:.2f}", f"{ms / bare:.1f}"])

    ddl = ["CREATE INDEX bench_ix_deals_board ON deals (stage_id, owner_id, currency, amount)"]
    try:
        timed("GROUP BY over deals (as the board does now)", group)
        for statement in ddl:
            cur.execute(statement)
        if dialect == "postgresql":
            raw.commit()
            raw.driver_connection.autocommit = True
            cur.execute("VACUUM ANALYZE deals")
            raw.driver_connection.autocommit = False
        timed("same, with a covering index (stage_id, owner_id, currency, amount)", group)
        cur.execute("CREATE TABLE bench_deal_totals AS SELECT stage_id, owner_id, currency, "
                    "count(*) AS n, sum(amount) AS amount FROM deals "
                    "GROUP BY stage_id, owner_id, currency")
        cur.execute("CREATE INDEX bench_ix_totals ON bench_deal_totals (owner_id, stage_id)")
        timed("summary table per (stage, owner, currency), kept by core.crm", summary)
    finally:
        raw.rollback()
        for statement in ("DROP TABLE IF EXISTS bench_deal_totals",
                          "DROP INDEX IF EXISTS bench_ix_deals_board"):
            cur.execute(statement)
        raw.commit()
        raw.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100k customers, 1M deals")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--pg", action="store_true", help="start a throwaway PostgreSQL")
    where.add_argument("--url", help="use this database (its app tables are dropped and refilled)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the cached SQLite file")
    parser.add_argument("--no-options", action="store_true",
                        help="skip measuring alternatives to the board's GROUP BY")
    args = parser.parse_args()
    name = "core" + ("-pg" if args.pg or (args.url or "").startswith("postgres") else "") + (
        "" if args.scale == 1 else f"-s{args.scale:g}")
    with throwaway_postgres() if args.pg else nullcontext(args.url) as url:
        url, info = bench_database(args.scale, url=url, seed=args.seed, fresh=args.fresh)
        print(f"data: {info['counts']} ({info['rows_per_s']} rows/s)", file=sys.stderr)
        ok = run(url, info, args.scale, args.rounds, args.warmup, name, not args.no_options)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
