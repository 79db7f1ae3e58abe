"""The one Alembic env every history runs through: the core's and each plugin's.

``conveyor.migrate`` puts the app, the history (core or one plugin) and usually a connection in
``config.attributes``; the env limits comparison to that history's tables and writes to its own
version table (``alembic_version`` or ``alembic_version_<plugin>``).
"""
from __future__ import annotations

from alembic import context

from conveyor.extensions import db
from conveyor.migrate import env_options
from conveyor.search.migrations import SearchIndexKeeper

config = context.config
app = config.attributes["conveyor_app"]
history = config.attributes["conveyor_history"]


def run_offline() -> None:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    context.configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"},
                      **env_options(app, history, dialect))
    with context.begin_transaction():
        context.run_migrations()


def run_online(connection) -> None:  # type: ignore[no-untyped-def]
    # SQLite's search index would stop a batch migration of its tables and lose its triggers:
    # its views are set aside for the run and it is repaired after (conveyor.search.migrations).
    keeper = SearchIndexKeeper(connection)
    context.configure(connection=connection, on_version_apply=keeper.step_applied,
                      **env_options(app, history, connection.dialect.name))
    with context.begin_transaction():
        keeper.pause()
        context.run_migrations()
        keeper.restore()


if context.is_offline_mode():
    run_offline()
elif config.attributes.get("connection") is not None:
    run_online(config.attributes["connection"])
else:
    with app.app_context():
        engine = db.engine
    with engine.begin() as conn:
        run_online(conn)
