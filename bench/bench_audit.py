"""What the audit trail costs a write request: the same API writes with and without it.

Writing the trail must cost a write request at most 25 %. One app on a file
database (SQLite, or PostgreSQL with --url); the same requests timed in alternating rounds with
the trail's flush listener on and off (``conveyor.audit.uninstall``): a deal PATCH (two fields
changed: one audit row with its diff) and a customer POST (a create: one row). Median of the
rounds; results in bench/results/audit.md.

    .venv/bin/python bench/bench_audit.py [--url postgresql+psycopg://…] [--rounds 7] [--n 300]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from conveyor import audit, create_app, crm
from conveyor.extensions import db
from conveyor.models import User
from conveyor.schema import create_tables, drop_tables
from conveyor.testing import seed_test_data, token_headers


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--out", default="bench/results/audit.md")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    url = args.url or f"sqlite:///{tmp}/audit.db"
    app = create_app(config={"database_url": url, "secret_key": "bench",
                             "ratelimit_enabled": False}, plugins=[],
                     instance_path=str(Path(tmp) / "instance"))
    if args.url:
        drop_tables(app)
    create_tables(app)
    app.config["TEST_USER_IDS"] = seed_test_data(app)
    with app.app_context():
        seller = db.session.scalar(db.select(User).where(User.username == "seller"))
        customer = crm.create_customer({"name": "Bench"}, seller)
        db.session.flush()
        deal_id = crm.create_deal({"customer_id": customer.id, "title": "Pump"}, seller).id
        db.session.commit()
    headers = token_headers(app, "seller")
    client = app.test_client()
    version = [1]
    counter = [0]

    def patch_deal() -> None:
        counter[0] += 1
        r = client.patch(f"/api/v1/deals/{deal_id}", headers=headers, json={
            "version": version[0], "title": f"Pump {counter[0]}", "amount": f"{counter[0]}.00"})
        assert r.status_code == 200, r.get_json()
        version[0] = r.get_json()["version"]

    def post_customer() -> None:
        counter[0] += 1
        r = client.post("/api/v1/customers", headers=headers,
                        json={"name": f"Firm {counter[0]}", "region": "North"})
        assert r.status_code == 201, r.get_json()

    results = []
    for label, write in (("PATCH /api/v1/deals/<id>", patch_deal),
                         ("POST /api/v1/customers", post_customer)):
        for _ in range(20):
            write()  # warm up
        times: dict[bool, list[float]] = {True: [], False: []}
        for _round in range(args.rounds):
            for on in (True, False):
                (audit.install if on else audit.uninstall)()
                start = time.perf_counter()
                for _ in range(args.n):
                    write()
                times[on].append((time.perf_counter() - start) / args.n * 1000)
        audit.install()
        with_, without = statistics.median(times[True]), statistics.median(times[False])
        results.append((label, without, with_, with_ / without))
    engine = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    lines = [f"# The audit trail's cost on a write ({engine}, {args.rounds} rounds x {args.n})",
             "", "| request | without (ms) | with (ms) | ratio |", "|---|---|---|---|"]
    lines += [f"| {label} | {a:.2f} | {b:.2f} | {r:.2f} |" for label, a, b, r in results]
    lines += ["", "Goal: ratio ≤ 1.25."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        out = Path(args.out if not args.url else args.out.replace(".md", "-pg.md"))
        out.write_text(text, encoding="utf-8")
    return 0 if all(r <= 1.25 for *_x, r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
