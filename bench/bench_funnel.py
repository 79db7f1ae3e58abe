"""Funnel analytics at scale: each figure as computed by the plugin vs hand-written SQL.

    .venv/bin/python bench/bench_funnel.py               # 1M deals, ~5.3M history rows, SQLite
    .venv/bin/python bench/bench_funnel.py --scale 0.1   # quick
    .venv/bin/python bench/bench_funnel.py --pg          # a throwaway PostgreSQL (generated)
    .venv/bin/python bench/bench_funnel.py --url URL     # a database you give (refilled)

The data is ``bench/generate.py``'s company (``bench_database``), the period the last 90 days
before the generator's anchor (a period that is over, so the five numbers read the history for
both the period and the one before). Rows, each timed round-robin in the same run:

- funnel, all / one seller — ``metrics.funnel``: open deals per stage + reached in the period;
- conversion, all — ``metrics.conversion`` (reached per stage, one scan and a window sum);
- dwell time, all — ``dwell.dwell``: median / p90 / mean of completed stays per stage;
- five numbers, all — ``five.five_numbers``: won per owner and open-at-end per owner, this period
  and the previous one.

Each is called as the pages and the API call it (SQLAlchemy-built statements, results turned
into the plugin's objects) and compared with the **best hand-written SQL for the same figures**
(``text()`` statements, written directly for the database at hand; on PostgreSQL the fastest of
the shapes tried is kept), run on the same connection in the same rounds. Both sides must give
the same numbers (checked before timing). The ratio plugin / hand-written is the result; the goal
is ≤ 1.5. Results: ``bench/results/funnel[-pg][-s<scale>].md|json``.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    bench_database,
    database_label,
    make_bench_app,
    measure,
    throwaway_postgres,
    write_results,
)
from sqlalchemy import text  # noqa: E402

GOAL = 1.5
HEADERS = ["figure", "plugin ms (median)", "hand-written ms (median)", "ratio", "goal ≤ 1.5"]


def hand_sql(dialect: str) -> dict[str, str]:
    """The hand-written statements. ``:ids`` lists are inlined by ``ids()`` below."""
    reached = """
        SELECT pos, COUNT(*) FROM (
          SELECT h.deal_id, MAX(s.position) AS pos
          FROM {history_and_deals} JOIN stages s ON s.id = h.to_stage_id
          WHERE h.to_stage_id IN ({forward}) AND h.at >= :start AND h.at < :end
          GROUP BY h.deal_id) per_deal
        GROUP BY pos"""
    totals = """
        SELECT d.stage_id, COUNT(*), SUM(d.amount)
        FROM deals d JOIN stages s ON s.id = d.stage_id
        WHERE d.pipeline_id = :p {owner_where}
          AND ((NOT s.is_won AND NOT s.is_lost) OR (d.closed_at >= :start AND d.closed_at < :end))
        GROUP BY d.stage_id"""
    won = """
        SELECT owner_id, COUNT(*), SUM(amount) FROM deals
        WHERE pipeline_id = :p AND stage_id IN ({won}) AND closed_at >= :start AND closed_at < :end
        GROUP BY owner_id"""
    if dialect == "postgresql":
        last_row = """
          SELECT DISTINCT ON (deal_id) deal_id, to_stage_id FROM stage_history
          WHERE at < :end ORDER BY deal_id, at DESC, id DESC"""
        as_of = f"""
        SELECT d.owner_id, COUNT(*), SUM(d.amount),
               SUM(CASE WHEN x.to_stage_id IN ({{committed}}) THEN 1 ELSE 0 END),
               SUM(CASE WHEN x.to_stage_id IN ({{committed}}) THEN d.amount ELSE 0 END)
        FROM ({last_row}) x JOIN deals d ON d.id = x.deal_id
        WHERE x.to_stage_id IN ({{open}}) GROUP BY d.owner_id"""
        dwell = """
        SELECT stage_id, COUNT(*),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY secs),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY secs), AVG(secs)
        FROM (SELECT stage_id, EXTRACT(EPOCH FROM left_at - entered_at) AS secs
              FROM (SELECT to_stage_id AS stage_id, at AS entered_at,
                           LEAD(at) OVER (PARTITION BY deal_id ORDER BY at, id) AS left_at
                    FROM stage_history WHERE at < :end) stays
              WHERE left_at >= :start AND left_at < :end AND stage_id IN ({open})) ended
        GROUP BY stage_id"""
    else:
        as_of = """
        SELECT d.owner_id, COUNT(*), SUM(d.amount),
               SUM(CASE WHEN x.to_stage_id IN ({committed}) THEN 1 ELSE 0 END),
               SUM(CASE WHEN x.to_stage_id IN ({committed}) THEN d.amount ELSE 0 END)
        FROM (SELECT deal_id, to_stage_id,
                     ROW_NUMBER() OVER (PARTITION BY deal_id ORDER BY at DESC, id DESC) AS rn
              FROM stage_history WHERE at < :end) x
        JOIN deals d ON d.id = x.deal_id
        WHERE x.rn = 1 AND x.to_stage_id IN ({open})
        GROUP BY d.owner_id"""
        dwell = """
        SELECT stage_id, MAX(n),
          SUM(CASE WHEN rn = (n - 1) / 2 + 1 THEN secs * (1 - ((n - 1) % 2) / 2.0)
                   WHEN rn = (n - 1) / 2 + 2 THEN secs * (((n - 1) % 2) / 2.0) ELSE 0 END),
          SUM(CASE WHEN rn = (n - 1) * 9 / 10 + 1 THEN secs * (1 - ((n - 1) * 9 % 10) / 10.0)
                   WHEN rn = (n - 1) * 9 / 10 + 2 THEN secs * (((n - 1) * 9 % 10) / 10.0)
                   ELSE 0 END),
          AVG(secs)
        FROM (SELECT stage_id, secs,
                     ROW_NUMBER() OVER (PARTITION BY stage_id ORDER BY secs) AS rn,
                     COUNT(*) OVER (PARTITION BY stage_id) AS n
              FROM (SELECT stage_id, (julianday(left_at) - julianday(entered_at)) * 86400.0 AS secs
                    FROM (SELECT to_stage_id AS stage_id, at AS entered_at,
                                 LEAD(at) OVER (PARTITION BY deal_id ORDER BY at, id) AS left_at
                          FROM stage_history WHERE at < :end) stays
                    WHERE left_at >= :start AND left_at < :end AND stage_id IN ({open})) ended
             ) ranked
        GROUP BY stage_id"""
    return {"reached": reached, "totals": totals, "won": won, "as_of": as_of, "dwell": dwell}


def run(url: str, info: dict[str, Any], scale: float, rounds: int, warmup: int,
        name: str) -> list[list[Any]]:
    from conveyor import db
    from conveyor.plugins.funnel import dwell as dwell_mod
    from conveyor.plugins.funnel.five import five_numbers
    from conveyor.plugins.funnel.metrics import conversion, funnel
    from conveyor.plugins.funnel.periods import Period
    from conveyor.plugins.funnel.sqlparts import load_pipeline

    app = make_bench_app(url, ["funnel"])
    end = datetime.fromisoformat(info["end"])
    period = Period(end.date() - timedelta(days=90), end.date())
    seller = info["users"]["seller01"]
    ctx = app.app_context()
    ctx.push()
    dialect = db.engine.dialect.name
    pipe = load_pipeline()
    sql = hand_sql(dialect)
    won_ids = ",".join(str(i) for i in pipe.ids_where(won=True))
    open_ids = ",".join(str(i) for i in pipe.ids_where(open_=True))
    forward_ids = ",".join(str(s.id) for s in pipe.funnel_stages)
    committed_ids = ",".join(str(s.id) for s in pipe.open_stages if s.percent >= 60)
    now = datetime.now(end.tzinfo)

    def stamp(moment: datetime) -> Any:
        # Bound as the app binds them: naive UTC (SQLite: the text SQLAlchemy stores).
        naive = moment.replace(tzinfo=None)
        return naive if dialect == "postgresql" else naive.strftime("%Y-%m-%d %H:%M:%S.%f")

    def params(p: Period) -> dict[str, Any]:
        return {"p": pipe.id, "start": stamp(p.start_dt), "end": stamp(p.end_dt)}

    def hand_funnel(owner: int | None) -> tuple[dict[int, tuple[int, Any]], dict[int, int]]:
        # One seller: read their deals first, then each deal's history by (deal_id, at);
        # SQLite's planner starts from the stages otherwise, a CROSS JOIN fixes its order.
        join = "owner" if owner else ""
        where = "AND d.owner_id = :o" if owner else ""
        args = {**params(period), "o": owner}
        totals = {sid: (n, amount) for sid, n, amount in db.session.execute(
            text(sql["totals"].format(owner_where=where)), args)}
        return totals, hand_reached(join, args)

    def hand_reached(join: str, args: dict[str, Any]) -> dict[int, int]:
        source = "stage_history h"
        if join:
            source = ("deals d CROSS JOIN stage_history h ON h.deal_id = d.id"
                      if dialect == "sqlite"
                      else "stage_history h JOIN deals d ON d.id = h.deal_id")
            source += " AND d.owner_id = :o"
        per_pos = dict(db.session.execute(
            text(sql["reached"].format(history_and_deals=source, forward=forward_ids)),
            args).all())
        out, running = {}, 0
        for stage in sorted(pipe.funnel_stages, key=lambda s: -s.position):
            running += sum(n for pos, n in per_pos.items() if pos == stage.position)
            out[stage.id] = running
        return out

    def hand_dwell() -> list[Any]:
        return list(db.session.execute(text(sql["dwell"].format(open=open_ids)), params(period)))

    def hand_five() -> list[list[Any]]:
        out = []
        for p in (period, period.previous()):
            out.append(list(db.session.execute(text(sql["won"].format(won=won_ids)), params(p))))
            out.append(list(db.session.execute(
                text(sql["as_of"].format(open=open_ids, committed=committed_ids)), params(p))))
        return out

    # Same numbers on both sides, before anything is timed.
    for owner in (None, seller):
        mine = funnel(pipe, period, [owner] if owner else None)
        totals, reached = hand_funnel(owner)
        assert {r.stage.id: r.reached for r in mine.rows} == reached, "reached differs"
        assert {r.stage.id: r.count for r in mine.rows + mine.lost if r.count} == \
            {k: v[0] for k, v in totals.items()}, "counts differ"
    mine_dwell = {r.stage.id: r.stays for r in dwell_mod.dwell(pipe, period, None) if r.stays}
    assert mine_dwell == {row[0]: row[1] for row in hand_dwell()}, "dwell differs"
    five = five_numbers(pipe, period, None, now=now)
    hand = hand_five()
    assert sum(f.closed for f in five.current.values()) == sum(r[1] for r in hand[0])
    assert sum(f.opportunities for f in five.current.values()) == sum(r[1] for r in hand[1])
    assert sum(f.committed for f in five.before.values()) == sum(r[3] for r in hand[3])

    cases: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "funnel, all": (lambda: funnel(pipe, period, None), lambda: hand_funnel(None)),
        "funnel, one seller": (lambda: funnel(pipe, period, [seller]),
                               lambda: hand_funnel(seller)),
        "conversion, all": (lambda: conversion(pipe, period, None),
                            lambda: hand_reached("", params(period))),
        "dwell time, all": (lambda: dwell_mod.dwell(pipe, period, None), hand_dwell),
        "five numbers, all": (lambda: five_numbers(pipe, period, None, now=now), hand_five),
    }
    timings: dict[str, Any] = {}
    light = {"funnel, one seller"}  # milliseconds: more rounds to steady the median
    for group, n in ((light, rounds * 6), (set(cases) - light, rounds)):
        flat = {}
        for label in [c for c in cases if c in group]:
            flat[f"{label} | plugin"], flat[f"{label} | hand"] = cases[label]
        timings.update(measure(flat, rounds=n, warmup=warmup))
    rows = []
    for label in cases:
        mine_ms = timings[f"{label} | plugin"].median
        hand_ms = timings[f"{label} | hand"].median
        ratio = mine_ms / hand_ms if hand_ms else float("inf")
        rows.append([label, f"{mine_ms:.1f}", f"{hand_ms:.1f}", f"{ratio:.2f}",
                     "yes" if ratio <= GOAL else "NO"])
    counts = info.get("counts", {})
    meta = {"database": database_label(url), "scale": scale,
            "deals": counts.get("deals"), "stage_history": counts.get("stage_history"),
            "period": f"{period.start} – {period.last_day} (90 days before the data's anchor)",
            "rounds": f"{rounds} ({rounds * 6} for one seller)", "warmup": warmup,
            "method": "service calls vs text() SQL on the same session, round-robin medians"}
    extra = ("\nPlugin: the functions the pages and the API call (SQLAlchemy Core statements, "
             "results made into the plugin's objects). Hand-written: the best plain SQL for the "
             "same figures on this database (PostgreSQL: DISTINCT ON for the as-of state, "
             "percentile_cont; SQLite: row_number/count windows), checked to give the same "
             "numbers before timing.\n")
    path = write_results(name, meta, HEADERS, rows, extra_md=extra,
                         extra_json={"timings_ms": {k: t.samples_ms for k, t in timings.items()}})
    print(f"\nwritten: {path}")
    ctx.pop()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M deals")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=1)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--pg", action="store_true", help="start a throwaway PostgreSQL")
    where.add_argument("--url", help="use this database (its app tables are dropped and refilled)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the cached SQLite file")
    args = parser.parse_args(argv)
    suffix = "" if args.scale == 1 else f"-s{args.scale:g}"
    if args.pg:
        with throwaway_postgres() as url:
            url, info = bench_database(args.scale, url=url, plugins=("funnel",), seed=args.seed)
            run(url, info, args.scale, args.rounds, args.warmup, f"funnel-pg{suffix}")
        return
    url, info = bench_database(args.scale, url=args.url, plugins=("funnel",), seed=args.seed,
                               fresh=args.fresh)
    label = "funnel" if url.startswith("sqlite") else "funnel-pg"
    run(url, info, args.scale, args.rounds, args.warmup, f"{label}{suffix}")


if __name__ == "__main__":
    main()
