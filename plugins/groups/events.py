"""Events the groups plugin emits."""
from __future__ import annotations

from dataclasses import dataclass

from conveyor import Event


@dataclass
class GroupPushRequested(Event):
    """Someone asked to push a group to its webhook; the push runs after commit
    (``track_event``), never inside the request. Ids only: it crosses sessions."""

    group_id: int
    push_id: int
    by_id: int | None = None


EVENTS = [GroupPushRequested]
