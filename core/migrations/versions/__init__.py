"""The core's Alembic revisions, recorded in the table ``alembic_version``."""
