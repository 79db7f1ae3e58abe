"""Events of the discussions plugin (a reply-by-e-mail or webhook plugin follows these)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor import Event


@dataclass
class PostCreated(Event):
    """Someone posted to a record's thread; ``notified`` are the user ids told about it."""

    post: Any
    resource: str
    record_id: int
    notified: list[int]


@dataclass
class PostDeleted(Event):
    post: Any
    by: Any


EVENTS = [PostCreated, PostDeleted]
