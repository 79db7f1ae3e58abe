"""The shared Alembic env and the core's revisions (see conveyor.migrate and docs/migrations.md)."""
