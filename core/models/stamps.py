"""Change stamps: what a process may cache, and how it learns the cache went stale."""
from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class ChangeStamp(db.Model):
    """A random token, renewed in the same transaction as every change to what ``name`` covers
    (e.g. "pipelines": pipelines and stages). A process keeps its copy with the token it was
    built under and rebuilds when the database's token differs (conveyor.pipelines)."""

    __tablename__ = "change_stamps"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
