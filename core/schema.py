"""Which tables belong to an app: the core's plus those of its enabled plugins."""
from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import Table

from .extensions import db


def core_tables() -> list[Table]:
    from . import models

    tables = []
    for mapper in db.Model.registry.mappers:
        if mapper.class_.__module__.startswith(models.__name__ + "."):
            tables.append(mapper.local_table)
    return tables


def plugin_tables(app: Flask, plugin: str | None = None) -> list[Table]:
    state = app.extensions["conveyor"]
    tables: list[Table] = []
    for name, models in state.models.items():
        if plugin is None or name == plugin:
            tables += [m.__table__ for m in models]
    return tables


def app_tables(app: Flask) -> list[Any]:
    """In dependency order, for create_all/drop_all in tests."""
    wanted = {t.name for t in core_tables() + plugin_tables(app)}
    return [t for t in db.metadata.sorted_tables if t.name in wanted]


def create_tables(app: Flask) -> None:
    """Tests only: real databases are built by ``conveyor db upgrade`` (Alembic)."""
    with app.app_context():
        db.metadata.create_all(db.engine, tables=app_tables(app))
        from .search.kinds import create_indexes

        with db.engine.begin() as connection:
            create_indexes(connection)


def drop_tables(app: Flask) -> None:
    """Tests only. Drops every table any imported plugin declares, not just this app's: on a
    shared PostgreSQL another app's plugin tables may still reference the core's."""
    with app.app_context():
        db.session.remove()
        db.metadata.drop_all(db.engine, checkfirst=True)
