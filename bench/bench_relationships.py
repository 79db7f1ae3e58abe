"""Relationship types at scale: the recompute vs one SQL statement; a win's cost with the plugin.

    .venv/bin/python bench/bench_relationships.py               # 100k customers, 1M deals, SQLite
    .venv/bin/python bench/bench_relationships.py --scale 0.1   # quick
    .venv/bin/python bench/bench_relationships.py --pg          # a throwaway PostgreSQL (generated)
    .venv/bin/python bench/bench_relationships.py --url URL     # a database you give (refilled)

The data is ``bench/generate.py``'s company (``bench_database``) with the plugin's tables. Rows:

- **one SQL statement** (the reference, the faster of two): a hand-written ``SELECT`` computing
  every customer's type with ``CASE`` over per-customer aggregates of ``deals`` (``text()``), and
  the plugin's own type ``SELECT`` (``rules.type_statement``) run alone; all rows fetched;
- **recompute, from empty**: ``services.recompute`` with no state yet: one ``INSERT … SELECT``
  writing every state row (a first type is not a transition) — the first run after installing;
- **recompute, nothing changed**: again, over a correct state (idempotent: writes nothing);
- **recompute, after a settings change**: ``regular_min_wins`` toggled 2 ↔ 3 between rounds, so
  each round moves the customers with exactly two wins in the window (updates + transitions).

Each recompute is timed round-robin with the reference in the same rounds; the ratio to the
reference is the result (goal ≤ 2). Before timing, the recompute's types are checked equal to the
reference's for every customer.

Then **a deal win**: ``move_deal`` to the won stage + commit, on open deals of distinct customers,
alternating between the app with the plugin and the same app without it (same database); the
ratio of the medians is the hook's cost. The statements each side runs are counted too.
The cached SQLite file keeps those wins (a few hundred deals of a million); ``--fresh`` rebuilds.
Results: ``bench/results/relationships[-pg][-s<scale>].md|json``.

``--reports`` runs ``bench_relationships_reports.py`` instead (the reports page, its CSV, API and
widgets for a seller's month, a team's quarter and the company's year against the bare route):
``bench/results/relationships-reports[-pg][-s<scale>].md|json``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    bench_database,
    capture_queries,
    database_label,
    make_bench_app,
    throwaway_postgres,
    write_results,
)
from sqlalchemy import delete, func, select, text  # noqa: E402

GOAL = 2.0
HEADERS = ["measure", "ms (median)", "reference ms (median)", "ratio", "goal",
           "customers typed (new) / moved"]

HAND_SQL = """
SELECT c.id,
  CASE {lapsed}
    WHEN COALESCE(a.wins_window, 0) >= :min_wins THEN 'regular'
    WHEN COALESCE(a.wins, 0) > 0 THEN 'current'
    WHEN COALESCE(a.open_deals, 0) > 0 THEN 'potential'
    ELSE 'cold' END
FROM customers c LEFT JOIN (
  SELECT d.customer_id,
    SUM(CASE WHEN s.is_won THEN 1 ELSE 0 END) AS wins,
    SUM(CASE WHEN s.is_won AND COALESCE(d.closed_at, d.stage_entered_at) >= :window_cut
             THEN 1 ELSE 0 END) AS wins_window,
    MAX(CASE WHEN s.is_won THEN COALESCE(d.closed_at, d.stage_entered_at) END) AS last_win,
    SUM(CASE WHEN NOT s.is_won AND NOT s.is_lost THEN 1 ELSE 0 END) AS open_deals
  FROM deals d JOIN stages s ON s.id = d.stage_id
  GROUP BY d.customer_id) a ON a.customer_id = c.id
"""
LAPSED = "WHEN COALESCE(a.wins, 0) > 0 AND a.last_win < :lapsed_cut THEN 'lapsed'"


def hand_statement(rules: Any, now: Any, dialect: str) -> tuple[Any, dict[str, Any]]:
    """The reference: the same definitions written by hand for this database."""
    from conveyor.plugins.relationships.rules import months_before

    def stamp(moment: Any) -> Any:  # how the column stores it: naive UTC (text on SQLite)
        naive = moment.replace(tzinfo=None)
        return naive.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else naive

    window = months_before(now, rules.regular_window_months) if rules.regular_window_months \
        else now.replace(year=1)
    params = {"min_wins": rules.regular_min_wins, "window_cut": stamp(window)}
    lapsed = ""
    if rules.lapsed_after_months:
        lapsed = LAPSED
        params["lapsed_cut"] = stamp(months_before(now, rules.lapsed_after_months))
    return text(HAND_SQL.format(lapsed=lapsed)), params


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def run(url: str, info: dict[str, Any], scale: float, rounds: int, wins: int, name: str
        ) -> list[list[Any]]:
    from conveyor import db, move_deal
    from conveyor.models import Customer, Deal, Stage, User
    from conveyor.plugins.relationships.models import RelationshipState, RelationshipTransition
    from conveyor.plugins.relationships.rules import Rules
    from conveyor.plugins.relationships.services import recompute
    from conveyor.types import utcnow

    app = make_bench_app(url, plugins=["relationships"])
    bare = make_bench_app(url, plugins=[])
    ctx = app.app_context()
    ctx.push()
    session = db.session
    dialect = session.get_bind().dialect.name
    settings = app.extensions["conveyor"].settings
    customers = session.scalar(select(func.count()).select_from(Customer))
    deals = session.scalar(select(func.count()).select_from(Deal))

    def reset() -> None:
        session.execute(delete(RelationshipTransition))
        session.execute(delete(RelationshipState))
        session.commit()

    def hand() -> dict[int, str]:
        stmt, params = hand_statement(Rules.from_settings(), utcnow(), dialect)
        rows = session.execute(stmt, params).all()
        session.commit()
        return dict(rows)

    def plugin_select() -> dict[int, str]:
        from conveyor.plugins.relationships.rules import type_params, type_statement

        rules = Rules.from_settings()
        rows = session.execute(type_statement(rules, "all"), type_params(utcnow(), rules)).all()
        session.commit()
        return {cid: computed for cid, _owner, computed in rows}

    def state() -> dict[int, str]:
        return dict(session.execute(select(RelationshipState.customer_id,
                                           RelationshipState.type)).all())

    # Correctness first: the recompute and the reference agree on every customer.
    reset()
    first = recompute(session)
    reference = hand()
    assert state() == reference, "recompute and the hand-written statement disagree"
    assert plugin_select() == reference
    assert len(reference) == customers and first.new == customers
    print(f"checked: {customers} customers, types {first.by_type}")

    samples: dict[str, list[float]] = {k: [] for k in (
        "hand", "select", "empty", "steady", "settings")}
    changed: dict[str, list[int]] = {k: [] for k in samples}
    for i in range(rounds):
        ms, _ = timed(hand)
        samples["hand"].append(ms)
        ms, _ = timed(plugin_select)
        samples["select"].append(ms)
        reset()
        ms, result = timed(lambda: recompute(session))
        samples["empty"].append(ms)
        changed["empty"].append(result.new)
        ms, result = timed(lambda: recompute(session))
        samples["steady"].append(ms)
        changed["steady"].append(result.changed)
        settings["relationships.regular_min_wins"] = 3 if i % 2 == 0 else 2
        ms, result = timed(lambda: recompute(session))
        samples["settings"].append(ms)
        changed["settings"].append(result.changed)
        settings["relationships.regular_min_wins"] = 2
        recompute(session)  # back to the defaults, untimed
        print(f"round {i + 1}/{rounds}: " + ", ".join(
            f"{k} {v[-1]:.0f} ms" for k, v in samples.items()))
    assert state() == hand()

    # A deal win, with and without the plugin, on open deals of distinct customers.
    won = session.scalar(select(Stage.id).where(Stage.is_won.is_(True)))
    first_ids = select(func.min(Deal.id)).join(Stage, Stage.id == Deal.stage_id).where(
        Stage.is_won.is_(False), Stage.is_lost.is_(False)).group_by(Deal.customer_id)
    open_ids = list(session.scalars(select(Deal.id).where(Deal.id.in_(first_ids))
                                    .order_by(Deal.id).limit(2 * wins + 4)))
    seller = session.scalar(select(User.id).where(User.username == "seller01"))
    session.commit()

    def win(which: Any, deal_id: int) -> Any:
        def go() -> None:
            with which.app_context():
                deal = db.session.get(Deal, deal_id)
                move_deal(deal, db.session.get(Stage, won), db.session.get(User, seller))
                db.session.commit()
                db.session.remove()
        return go

    statements_on = len(capture_queries(app, win(app, open_ids.pop())))
    statements_off = len(capture_queries(bare, win(bare, open_ids.pop())))
    on, off = [], []
    for i in range(min(wins, len(open_ids) // 2)):
        on.append(timed(win(app, open_ids[2 * i]))[0])
        off.append(timed(win(bare, open_ids[2 * i + 1]))[0])
    followed = set(session.scalars(select(Deal.customer_id).where(
        Deal.id.in_(open_ids[0:2 * len(on):2]))))
    now_state, now_hand = state(), hand()
    assert {c: now_state[c] for c in followed} == {c: now_hand[c] for c in followed}, \
        "the wins left a type that disagrees with the data"

    med = {k: statistics.median(v) for k, v in samples.items()}
    best = min(med["hand"], med["select"])  # the reference: the faster single statement
    rows = [["one statement: hand-written SELECT", f"{med['hand']:.0f}", f"{best:.0f}",
             f"{med['hand'] / best:.2f}", "", ""],
            ["one statement: the plugin's SELECT", f"{med['select']:.0f}", f"{best:.0f}",
             f"{med['select'] / best:.2f}", "", ""]]
    for key, label in (("empty", "recompute, from empty"),
                       ("steady", "recompute, nothing changed"),
                       ("settings", "recompute, after a settings change")):
        ratio = med[key] / best
        rows.append([label, f"{med[key]:.0f}", f"{best:.0f}", f"{ratio:.2f}",
                     "yes" if ratio <= GOAL else "NO", str(int(statistics.median(changed[key])))])
    on_ms, off_ms = statistics.median(on), statistics.median(off)
    rows.append(["deal win, plugin on vs off", f"{on_ms:.2f}", f"{off_ms:.2f}",
                 f"{on_ms / off_ms:.2f}", "", f"{statements_on} vs {statements_off} statements"])
    meta = {"database": database_label(url), "scale": scale, "customers": customers,
            "deals": deals, "rounds": rounds, "wins timed": f"{len(on)} each side",
            "settings": "defaults (regular = 2 wins in 24 months, lapsed off, no interest "
                        "sources: leads/calls not enabled)",
            "types": first.by_type}
    extra = ("Reference: the faster of two single statements computing every customer's type, "
             "all rows fetched — a hand-written SELECT (CASE over per-customer aggregates of "
             "deals joined to stages) and the plugin's own type SELECT run alone. Recompute: one "
             "INSERT…SELECT "
             "of the same computation into a temporary table, then set-based statements that "
             "record transitions, update changed state rows and insert missing ones; it holds "
             "the per-customer lock (PostgreSQL: LOCK TABLE relationships_state IN EXCLUSIVE MODE) "
             "for the batch. Deal win: move_deal + commit in a fresh app context, the plugin's "
             "hook doing SELECT … FOR UPDATE on the state row, the type computation for one "
             "customer, and an UPDATE + a transition INSERT when the type changed.\n\n"
             "From empty writes one state row per customer with the same computation. On "
             "PostgreSQL a first fill of 20,000 customers or more sets the state table's foreign "
             "keys and secondary index aside and rebuilds them after the INSERT (the manual's "
             "'Populating a Database'): per-row key checks and index insertions made it 2.4x "
             "the SELECT before. After a settings change, the INSERT of the transitions (one "
             "per moved customer) spends most of its time in the per-row check of its key to "
             "customers (the log's by_id/owner_id have no keys since relationships_0002); "
             "that run is the slowest of the three.\n")
    path = write_results(name, meta, HEADERS, rows, extra_md=extra,
                         extra_json={"samples_ms": samples, "changed": changed,
                                     "win_on_ms": on, "win_off_ms": off})
    print(f"\nwritten: {path}")
    ctx.pop()
    for which in (app, bare):
        with which.app_context():
            db.session.remove()
            db.engine.dispose()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100k customers, 1M deals")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--wins", type=int, default=200, help="deal wins timed on each side")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--pg", action="store_true", help="start a throwaway PostgreSQL")
    where.add_argument("--url", help="use this database (its app tables are dropped and refilled)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the cached SQLite file")
    parser.add_argument("--reports", action="store_true",
                        help="time the reports for a seller, a team and everyone instead "
                             "(bench_relationships_reports.py)")
    args = parser.parse_args(argv)
    suffix = "" if args.scale == 1 else f"-s{args.scale:g}"
    plugins = ("relationships",)

    if args.reports:
        from bench_relationships_reports import main as reports_main

        reports_main([f"--scale={args.scale:g}", f"--seed={args.seed}",
                      f"--rounds={max(args.rounds, 7)}", *(["--pg"] if args.pg else []),
                      *([f"--url={args.url}"] if args.url else []),
                      *(["--fresh"] if args.fresh else [])])
        return

    def go(url: str, info: dict[str, Any], pg: bool) -> None:
        label = "relationships" + ("-pg" if pg else "")
        run(url, info, args.scale, args.rounds, args.wins, f"{label}{suffix}")

    if args.pg:
        with throwaway_postgres() as url:
            url, info = bench_database(args.scale, url=url, plugins=plugins, seed=args.seed)
            go(url, info, True)
        return
    url, info = bench_database(args.scale, url=args.url, plugins=plugins, seed=args.seed,
                               fresh=args.fresh)
    go(url, info, not url.startswith("sqlite"))


if __name__ == "__main__":
    main()
