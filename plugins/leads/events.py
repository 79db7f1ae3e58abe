"""Events the leads plugin emits (contracts.md). Consumers match on the class name and
attributes, so they never import this module."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor import Event


@dataclass
class LeadCaptured(Event):
    """A new lead was stored (web form, API, import, a call). Not emitted for a merge."""

    lead: Any
    by: Any = None


@dataclass
class LeadAssigned(Event):
    """The lead got an owner (``owner`` None: made unassigned). ``reason``: rule, manual,
    stale, sweep, import. ``detail``: the rule's name or the manager's note; ``bulk``: part of
    an import (one summary notification per seller instead of one per lead)."""

    lead: Any
    owner: Any
    previous_owner: Any
    reason: str
    by: Any = None
    detail: str = ""
    bulk: bool = False


@dataclass
class LeadConverted(Event):
    lead: Any
    customer: Any
    contact: Any
    deal: Any
    by: Any = None


@dataclass
class LeadStatusChanged(Event):
    lead: Any
    old: str
    new: str
    by: Any = None


EVENTS = [LeadCaptured, LeadAssigned, LeadConverted, LeadStatusChanged]
