"""Nested transactions are atomic on SQLite too (pysqlite's default handling breaks SAVEPOINT)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from conveyor.extensions import db
from conveyor.models import Customer


def test_rolled_back_savepoint_keeps_the_outer_transaction(app):
    with app.app_context():
        db.session.add(Customer(name="kept"))
        with pytest.raises(RuntimeError):
            with db.session.begin_nested():
                db.session.add(Customer(name="dropped"))
                db.session.flush()
                raise RuntimeError("undo the inner part only")
        db.session.rollback()  # the outer transaction is still open and can be undone
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


def test_savepoint_released_before_any_write_does_not_commit_the_outer(app):
    with app.app_context():
        with db.session.begin_nested():
            pass
        db.session.add(Customer(name="not yet"))
        db.session.flush()
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


def test_sqlite_connections_keep_temporary_btrees_in_memory(app):
    """A team's scope (a UNION in a CTE) builds a temporary B-tree on every page a manager
    reads; in a temporary file it cost a system call per page written (0.4 ms of the board)."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's pragmas")
    with app.app_context():
        connection = db.session.connection().connection.dbapi_connection
        settings = {name: connection.execute(f"PRAGMA {name}").fetchone()[0]
                    for name in ("temp_store", "foreign_keys", "synchronous")}
    assert settings == {"temp_store": 2, "foreign_keys": 1, "synchronous": 1}  # MEMORY, ON, NORMAL
