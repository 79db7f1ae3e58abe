"""The benchmark data generator (bench/generate.py) writes data the app itself would have written.

Runs on SQLite, or on the database named by CONVEYOR_TEST_DATABASE_URL (then through COPY).
"""
from __future__ import annotations

import hashlib
import os
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from generate import generate  # noqa: E402

END = datetime(2026, 1, 1, tzinfo=UTC)
CUSTOMERS, DEALS = 40, 600


def db_url(tmp_path: Path, name: str) -> str:
    return os.environ.get("CONVEYOR_TEST_DATABASE_URL") or f"sqlite:///{tmp_path}/{name}.db"


@pytest.fixture
def generated(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    url = db_url(tmp_path, "gen")
    return url, generate(url, CUSTOMERS, DEALS, seed=3, end=END, reset=True)


def rows(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()


def digest(url: str) -> str:
    h = hashlib.sha256()
    for table in ("customers", "contacts", "deals", "stage_history"):
        for row in rows(url, f"SELECT * FROM {table} ORDER BY id"):
            h.update(repr(tuple(row)).encode())
    return h.hexdigest()


def test_counts_returned_match_the_tables(generated):
    url, result = generated
    counts = result["counts"]
    assert counts["customers"] == CUSTOMERS and counts["deals"] == DEALS
    for table in ("users", "customers", "contacts", "deals", "stage_history"):
        assert rows(url, f"SELECT count(*) FROM {table}")[0][0] == counts[table], table
    assert result["rows"] == sum(counts.values())
    assert result["rows_per_s"] > 0
    assert len(result["users"]) == 30


def test_every_deal_has_a_history_that_ends_in_its_stage(generated):
    url, _ = generated
    history: dict[int, list[Any]] = {}
    for row in rows(url, "SELECT deal_id, from_stage_id, to_stage_id, at FROM stage_history "
                         "ORDER BY deal_id, at, id"):
        history.setdefault(row.deal_id, []).append(row)
    deals = rows(url, "SELECT id, stage_id, stage_entered_at, updated_at, version FROM deals")
    assert {d.id for d in deals} == set(history)
    for deal in deals:
        steps = history[deal.id]
        assert steps[0].from_stage_id is None
        assert all(b.from_stage_id == a.to_stage_id for a, b in zip(steps, steps[1:]))
        assert steps[-1].to_stage_id == deal.stage_id
        assert steps[-1].at == deal.stage_entered_at == deal.updated_at
        assert deal.version == 1


def test_history_walks_stages_in_order_and_averages_five_rows_a_deal(generated):
    url, result = generated
    position = {r.id: r.position for r in rows(url, "SELECT id, position FROM stages")}
    for row in rows(url, "SELECT from_stage_id, to_stage_id FROM stage_history "
                         "WHERE from_stage_id IS NOT NULL"):
        assert position[row.to_stage_id] > position[row.from_stage_id]
    assert result["counts"]["stage_history"] >= 5 * DEALS


def test_closed_deals_have_closed_at_and_open_ones_do_not(generated):
    url, _ = generated
    found = rows(url, "SELECT s.is_won, s.is_lost, d.closed_at, d.stage_entered_at, d.lost_reason "
                      "FROM deals d JOIN stages s ON s.id = d.stage_id")
    assert {(bool(r.is_won), bool(r.is_lost)) for r in found} == {(True, False), (False, True),
                                                                   (False, False)}
    for r in found:
        if r.is_won or r.is_lost:
            assert r.closed_at == r.stage_entered_at
        else:
            assert r.closed_at is None
        assert bool(r.lost_reason) == bool(r.is_lost)


def test_deals_belong_to_their_customers_owner_a_seller(generated):
    url, result = generated
    sellers = {i for name, i in result["users"].items() if name.startswith("seller")}
    found = rows(url, "SELECT d.owner_id, c.owner_id AS customer_owner, d.created_at, "
                      "c.created_at AS customer_created FROM deals d "
                      "JOIN customers c ON c.id = d.customer_id")
    assert all(r.owner_id == r.customer_owner and r.owner_id in sellers for r in found)
    assert all(r.customer_created <= r.created_at for r in found)
    teams = rows(url, "SELECT count(DISTINCT team_id) FROM team_members")
    assert teams[0][0] == 4


def test_the_app_reads_generated_rows_as_its_own(generated, tmp_path):
    url, _ = generated
    from conveyor.app import create_app
    from conveyor.extensions import db
    from conveyor.models import Deal

    app = create_app(config={"database_url": url, "secret_key": "t", "testing": True},
                     plugins=[], instance_path=str(tmp_path / "instance"))
    with app.app_context():
        deal = db.session.get(Deal, DEALS)
        assert deal.created_at.tzinfo is not None and deal.created_at < END
        assert isinstance(deal.amount, Decimal) and deal.amount > 0
        assert deal.stage.pipeline_id == deal.pipeline_id
        assert deal.customer.contacts
        db.session.remove()
        db.engine.dispose()


def test_same_seed_same_rows_other_seed_other_rows(tmp_path):
    if os.environ.get("CONVEYOR_TEST_DATABASE_URL"):
        pytest.skip("needs two databases at once; checked on SQLite")
    urls = [db_url(tmp_path, name) for name in ("a", "b", "c")]
    for url, seed in zip(urls, (7, 7, 8)):
        generate(url, 15, 120, seed=seed, end=END)
    assert digest(urls[0]) == digest(urls[1])
    assert digest(urls[0]) != digest(urls[2])


def test_timeline_option_posts_one_entry_per_history_row(tmp_path):
    url = db_url(tmp_path, "timeline")
    result = generate(url, 10, 50, seed=1, end=END, timeline=True, reset=True)
    assert result["counts"]["timeline"] == result["counts"]["stage_history"]
    kinds = dict(rows(url, "SELECT kind, count(*) FROM timeline GROUP BY kind"))
    assert kinds["deal.created"] == 50
    mismatched = rows(url, "SELECT count(*) FROM timeline t JOIN deals d ON d.id = t.deal_id "
                           "WHERE t.customer_id != d.customer_id")
    assert mismatched[0][0] == 0


def test_the_search_vocabulary_and_word_pairs_cover_the_loaded_rows(generated):
    """The load runs with the search index's triggers off: its words are added to the
    vocabulary afterwards, and its word pairs are indexed, as the app's writes would."""
    from conveyor.search.pairs import pair_document, words

    url, _ = generated
    vocabulary = {r.word for r in rows(url, "SELECT word FROM search_words")}
    expected: set[str] = set()
    for r in rows(url, "SELECT name, email FROM contacts UNION ALL SELECT title, '' FROM deals"):
        expected.update(words(f"{r[0]} {r[1]}"))
    assert expected and expected <= vocabulary
    title = rows(url, "SELECT id, title FROM deals ORDER BY id DESC LIMIT 1")[0]
    token = pair_document(title.title).split()[0]
    if url.startswith("sqlite"):
        found = rows(url, f"SELECT -rowid FROM search_deals_pairs WHERE search_deals_pairs "
                          f"MATCH '\"{token}\"' ORDER BY rowid LIMIT 1")
    else:
        found = rows(url, f"SELECT id FROM deals WHERE search_pairs_deals @> ARRAY['{token}'] "
                          f"ORDER BY id DESC LIMIT 1")
    assert found[0][0] == title.id
