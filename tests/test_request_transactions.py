"""A request that wrote nothing ends its transaction with COMMIT (psycopg keeps its prepared
statements); anything that wrote, failed or used an unsafe method ends as before, rolled back
unless the view committed."""
from __future__ import annotations

import pytest
from sqlalchemy import event, func, select, text

from conveyor.extensions import csrf, db
from conveyor.models import Customer, User
from conveyor.permissions import public


@pytest.fixture
def probe(make_app):
    """An app with test routes, and a log of how each request's transaction ended."""
    app = make_app()
    ends: list[str] = []

    @public
    @csrf.exempt
    def read():
        return str(db.session.scalar(select(func.count()).select_from(User)))

    @public
    def flush_only():
        db.session.add(Customer(name="Flushed, never committed"))
        db.session.flush()
        return "ok"

    @public
    def raw_write():
        db.session.execute(text("UPDATE users SET display_name = 'Raw' WHERE username = 'seller'"))
        return "ok"

    @public
    def read_then_fail():
        db.session.scalar(select(func.count()).select_from(User))
        raise RuntimeError("boom")

    @public
    def estimate():
        from conveyor.web.listing import count_rows

        return str(count_rows(select(Customer), Customer.id, cap=1).value)

    for rule, view, methods in (("/_t/read", read, ["GET", "POST"]),
                                ("/_t/estimate", estimate, ["GET"]),
                                ("/_t/flush", flush_only, ["GET"]),
                                ("/_t/raw", raw_write, ["GET"]),
                                ("/_t/fail", read_then_fail, ["GET"])):
        app.add_url_rule(rule, view.__name__, view, methods=methods)
    with app.app_context():
        engine = db.engine
    event.listen(engine, "commit", lambda conn: ends.append("commit"))
    event.listen(engine, "rollback", lambda conn: ends.append("rollback"))
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    return app, client, ends


def test_a_read_only_get_commits_instead_of_rolling_back(probe):
    app, client, ends = probe
    assert client.get("/_t/read").status_code == 200
    assert ends[-1:] == ["commit"] and "rollback" not in ends


def test_a_list_counted_past_its_cap_still_commits(probe):
    """Beyond the cap PostgreSQL estimates with an ``EXPLAIN``: a read, not a write."""
    app, client, ends = probe
    with app.app_context():
        db.session.add_all(Customer(name=f"Estimated {i}") for i in range(5))
        db.session.commit()
    for _ in range(2):  # the second from SQLAlchemy's cache of compiled statements
        response = client.get("/_t/estimate")
        assert response.status_code == 200 and int(response.get_data(as_text=True)) >= 2
    assert ends[-1:] == ["commit"] and "rollback" not in ends[1:]


def test_a_post_or_a_failing_get_still_rolls_back(probe):
    app, client, ends = probe
    assert client.post("/_t/read").status_code == 200  # unsafe method: as before
    assert ends[-1:] == ["rollback"]
    assert client.get("/_t/fail").status_code == 500
    assert ends[-1:] == ["rollback"]


def test_writes_a_get_left_uncommitted_are_rolled_back(probe):
    app, client, ends = probe
    assert client.get("/_t/flush").status_code == 200
    assert client.get("/_t/raw").status_code == 200
    assert ends[-2:] == ["rollback", "rollback"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 0
        assert db.session.scalar(select(User.display_name).where(
            User.username == "seller")) != "Raw"
