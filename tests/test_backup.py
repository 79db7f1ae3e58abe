"""`conveyor backup` / `conveyor restore`: a populated database and a storage folder round-trip;
every table and every file compares equal. Runs on PostgreSQL too with
CONVEYOR_TEST_DATABASE_URL (pg_dump/pg_restore custom format)."""
from __future__ import annotations

import sqlite3
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, inspect, select, text

from conveyor import crm
from conveyor.cli import backup_command, restore_command
from conveyor.extensions import db
from conveyor.models import Contact, Customer, Stage, User
from conveyor.schema import app_tables
from conveyor.search.pairs import register_sqlite_functions

PLUGINS = ["leads", "calls", "groups", "funnel", "relationships"]


@pytest.fixture
def populated(make_app: Any, tmp_path: Path) -> tuple[Any, Path]:
    app = make_app(plugins=PLUGINS)
    with app.app_context():
        seller = db.session.scalar(select(User).where(User.username == "seller"))
        stages = list(db.session.scalars(select(Stage).order_by(Stage.position)))
        for i in range(5):
            customer = crm.create_customer({"name": f"Firma {i} «Ромашка» 上海", "region": "N"},
                                           seller)
            db.session.flush()
            db.session.add(Contact(customer=customer, name=f"Иван {i}", email=f"i{i}@x.ru"))
            deal = crm.create_deal({"customer_id": customer.id, "title": f"Deal {i}",
                                    "amount": Decimal("1234.56") * i, "stage": stages[0]},
                                   seller)
            db.session.flush()
            crm.move_deal(deal, stages[i % len(stages)] if i else stages[1], seller)
        from conveyor.plugins.leads.services import create_lead

        create_lead({"email": "lead@example.com", "company": "Lead Co"}, source="web")
        db.session.commit()
    storage = tmp_path / "storage"
    (storage / "2026" / "12").mkdir(parents=True)
    (storage / "2026" / "12" / "contract.pdf").write_bytes(bytes(range(256)) * 40)
    (storage / "договор.txt").write_text("Договор №1 — 上海", encoding="utf-8")
    (storage / "empty.bin").write_bytes(b"")
    return app, storage


def snapshot(app: Any, storage: Path) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, bytes]]:
    with app.app_context():
        present = set(inspect(db.engine).get_table_names())
        tables = {t.name: sorted(tuple(repr(v) for v in row) for row in
                                 db.session.execute(select(t)).all())
                  for t in app_tables(app) if t.name in present}
        db.session.remove()
    files = {p.relative_to(storage).as_posix(): p.read_bytes()
             for p in sorted(storage.rglob("*")) if p.is_file()}
    return tables, files


def test_backup_and_restore_round_trip_every_table_and_file(populated: Any,
                                                            tmp_path: Path) -> None:
    app, storage = populated
    before = snapshot(app, storage)
    assert sum(len(rows) for rows in before[0].values()) > 50 and len(before[1]) == 3
    runner = app.test_cli_runner()
    out = tmp_path / "backup-1"
    result = runner.invoke(backup_command, [str(out), "--storage-dir", str(storage)])
    assert result.exit_code == 0, result.output
    assert (out / "manifest.json").is_file() and (out / "files" / "договор.txt").is_file()

    with app.app_context():  # everything changes after the backup
        seller = db.session.scalar(select(User).where(User.username == "seller"))
        crm.create_customer({"name": "After the backup"}, seller)
        db.session.execute(delete(Contact))
        db.session.scalar(select(Customer)).name = "Renamed"
        db.session.commit()
        db.session.remove()
    (storage / "договор.txt").write_text("changed", encoding="utf-8")
    (storage / "new.txt").write_text("new", encoding="utf-8")
    (storage / "empty.bin").unlink()
    assert snapshot(app, storage) != before

    result = runner.invoke(restore_command, [str(out), "--storage-dir", str(storage), "--yes"])
    assert result.exit_code == 0, result.output
    after = snapshot(app, storage)
    assert after[1] == before[1]
    assert after[0].keys() == before[0].keys()
    for name in before[0]:
        assert after[0][name] == before[0][name], name
    assert not list(tmp_path.glob("storage.*"))  # no staging folder left behind
    with app.app_context():  # the app works on the restored database
        assert db.session.scalar(select(Customer.name).where(
            Customer.name == "Renamed")) is None


def test_a_damaged_backup_is_refused_and_nothing_changes(populated: Any,
                                                         tmp_path: Path) -> None:
    app, storage = populated
    runner = app.test_cli_runner()
    out = tmp_path / "backup-2"
    assert runner.invoke(backup_command, [str(out), "--storage-dir", str(storage)]
                         ).exit_code == 0
    before = snapshot(app, storage)
    dump = next(out.glob("database.*"))
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    result = runner.invoke(restore_command, [str(out), "--storage-dir", str(storage), "--yes"])
    assert result.exit_code != 0 and "damaged" in result.output
    assert snapshot(app, storage) == before
    assert runner.invoke(backup_command, [str(out)]).exit_code != 0  # never over a backup


def test_sqlite_backup_is_consistent_while_a_writer_is_busy(populated: Any,
                                                            tmp_path: Path) -> None:
    app, storage = populated
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite"):
        pytest.skip("SQLite's online backup API")
    path = url.removeprefix("sqlite:///")
    writer = sqlite3.connect(path, timeout=30, check_same_thread=False)
    register_sqlite_functions(writer)  # the search index's triggers call them
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO customers (name, industry, region, size, tax_id, address, "
                   "created_at, updated_at) VALUES ('uncommitted', '', '', '', '', '', "
                   "'2026-01-01', '2026-01-01')")
    done = threading.Event()

    def release() -> None:
        done.wait(5)
        writer.rollback()
        writer.close()

    threading.Thread(target=release).start()
    out = tmp_path / "backup-3"
    result = app.test_cli_runner().invoke(backup_command, [str(out)])
    done.set()
    assert result.exit_code == 0, result.output
    copy = sqlite3.connect(out / "database.sqlite3")
    names = {n for (n,) in copy.execute(text("SELECT name FROM customers").text)}
    copy.close()
    assert "uncommitted" not in names and len(names) == 5
