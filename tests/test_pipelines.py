"""The per-process pipelines snapshot (conveyor.pipelines): reused while nothing changed,
rebuilt on the next request after any change — made here, by another process, or by raw SQL
that renews the stamp."""
from __future__ import annotations

import re

from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from conveyor import current_pipelines
from conveyor.extensions import db
from conveyor.models import ChangeStamp, Pipeline, Stage
from conveyor.pipelines import STAMP, touch

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def _stamp(app):
    with app.app_context():
        return db.session.scalar(select(ChangeStamp.token).where(ChangeStamp.name == STAMP))


def _column_titles(client):
    page = client.get("/deals/board").get_data(as_text=True)
    return re.findall(r'<section class="column[^"]*" data-stage="\d+"[^>]*>\s*<h2><span>([^<]+)<', page)


def test_the_snapshot_lists_pipelines_and_stages_in_order(app):
    with app.test_request_context():
        catalog = current_pipelines()
        default = catalog.get()
        assert default is not None and default.is_default and default.name == "Sales"
        assert [s.percent for s in default.stages][:3] == [0, 10, 20]
        assert [s.position for s in default.stages] == sorted(s.position for s in default.stages)
        assert catalog.get(default.id) is default and catalog.get(10**6) is None
        won = next(s for s in default.stages if s.is_won)
        assert won.is_closed and catalog.stages[won.id] is won
        assert catalog.all_stages() == list(default.stages)


def test_the_board_reuses_the_snapshot_and_reads_no_stage_rows(app, login_as, count_queries):
    seller = login_as("seller")
    seller.get("/deals/board")
    with count_queries() as queries:
        seller.get("/deals/board")
    assert len(queries) == 2 and not [q for q in queries if "stages" in q.split("FROM")[1]], queries


def test_an_admin_edit_shows_on_the_next_page_and_renews_the_stamp(app, login_as):
    seller, admin = login_as("seller"), login_as("admin")
    assert "0% · Request / interest" in _column_titles(seller)
    before = _stamp(app)
    with app.app_context():
        first = db.session.scalar(select(Stage).order_by(Stage.position))
    token = CSRF.search(admin.get("/admin/stages").get_data(as_text=True)).group(1)
    r = admin.post(f"/admin/stages/{first.id}", data={
        "csrf_token": token, f"s{first.id}-name": "Inbound", f"s{first.id}-percent": "5",
        f"s{first.id}-position": str(first.position)})
    assert r.status_code == 302
    assert _stamp(app) != before
    assert _column_titles(seller)[0] == "5% · Inbound"


def test_a_change_committed_by_another_process_is_seen_on_the_next_request(app, login_as):
    seller = login_as("seller")
    assert "10% · Meeting or presentation held" in _column_titles(seller)
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with Session(engine) as other:  # another process: its own engine and session
            stage = other.scalar(select(Stage).where(Stage.percent == 10))
            stage.name = "Demo done"
            other.commit()
    finally:
        engine.dispose()
    assert "10% · Demo done" in _column_titles(seller)


def test_raw_sql_changes_need_touch_and_a_rollback_keeps_the_old_stamp(app, login_as):
    seller = login_as("seller")
    _column_titles(seller)
    before = _stamp(app)
    with app.app_context():
        db.session.add(Pipeline(name="Partners"))
        db.session.flush()
        db.session.rollback()
    assert _stamp(app) == before
    with app.app_context():
        db.session.execute(text("UPDATE stages SET name = 'Cold' WHERE percent = 0 "
                                "AND is_lost = :f"), {"f": False})
        touch(db.session)
        db.session.commit()
    assert _stamp(app) != before
    assert _column_titles(seller)[0] == "0% · Cold"


def test_a_second_pipeline_appears_in_the_board_switcher(app, login_as):
    with app.app_context():
        pipeline = Pipeline(name="Partners")
        pipeline.stages.append(Stage(name="Talk", percent=0, position=0))
        pipeline.stages.append(Stage(name="Signed", percent=100, position=1, is_won=True))
        db.session.add(pipeline)
        db.session.commit()
        pid = pipeline.id
    seller = login_as("seller")
    page = seller.get("/deals/board").get_data(as_text=True)
    assert f'<option value="{pid}"' in page
    assert _column_titles(seller)[0] == "0% · Request / interest"  # the default pipeline
    page = seller.get(f"/deals/board?pipeline={pid}").get_data(as_text=True)
    assert "0% · Talk" in page and "Request / interest" not in page


def test_a_request_looks_the_snapshot_up_once_and_again_after_a_change(app):
    with app.test_request_context():
        first = current_pipelines()
        assert current_pipelines() is first  # kept for the request
        stage = db.session.scalar(select(Stage).where(Stage.percent == 10))
        stage.name = "Demo held"
        db.session.flush()  # renews the stamp: this request rebuilds on its next look
        assert current_pipelines().stages[stage.id].name == "Demo held"
        db.session.rollback()
