"""SQLAlchemy's dialect modules, imported when a statement first needs one.

``sqlalchemy.dialects.postgresql`` costs a worker ~2 MB; one on SQLite never needs it (and
the other way round), so upserts look their dialect up here instead of importing both.
"""
from __future__ import annotations

import importlib
from types import ModuleType

UPSERT_DIALECTS = ("sqlite", "postgresql")


def dialect_module(name: str) -> ModuleType | None:
    """``sqlalchemy.dialects.<name>`` for the dialects with ``INSERT … ON CONFLICT``, else None."""
    if name not in UPSERT_DIALECTS:
        return None
    return importlib.import_module(f"sqlalchemy.dialects.{name}")
