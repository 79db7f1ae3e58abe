"""Discussions on records: threads, @mentions, followers, attachments, e-mail."""
from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """``Discussable`` for plugins registering their records (imported on use, so importing
    this package stays free of Flask-SQLAlchemy models)."""
    if name == "Discussable":
        from .discussables import Discussable

        return Discussable
    raise AttributeError(name)


__all__ = ["Discussable"]
