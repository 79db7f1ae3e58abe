"""Events the calls plugin emits (see docs/plugins/calls.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor import Event


@dataclass
class CallLogged(Event):
    """A telemarketer logged a call. ``customer`` is None for a callee who is not a customer;
    ``interested`` says a lead was created (``call.lead_id``)."""

    call: Any
    customer: Any
    interested: bool
    by: Any = None


EVENTS = [CallLogged]
