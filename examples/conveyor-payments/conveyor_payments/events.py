"""The event handler: when a deal is won, its owner is reminded to record the payment. Runs after
the commit; the core commits what it adds (a plugin never commits by hand)."""
from __future__ import annotations

from typing import Any

from conveyor import DealWon, notify
from conveyor.i18n import _l


def track(event: Any) -> None:
    if isinstance(event, DealWon) and event.deal is not None and event.deal.owner_id:
        notify(event.deal.owner_id,
               _l("Deal %(title)s is won: record its payment when it arrives.",
                  title=event.deal.title), url="/payments/", kind="payments.expected")
