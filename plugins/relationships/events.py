"""Events the relationships plugin emits (see docs/plugins/relationships.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor import Event


@dataclass
class RelationshipChanged(Event):
    """A customer's relationship type changed (not emitted per row by a bulk recompute)."""

    customer: Any
    old: str | None
    new: str
    cause: str
    by: Any = None
