"""Which events move a customer's type, and the refresh each one triggers (in its transaction)."""
from __future__ import annotations

from typing import Any

from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from .services import refresh_customers
from .type_counts import sync_counts
from .won_ledger import sync_customers

DEAL_EVENTS = {"DealCreated", "DealWon", "DealLost", "DealReopened", "DealDeleted"}
LEAD_EVENTS = {"LeadCaptured", "LeadConverted", "LeadStatusChanged"}
# Fields of a deal whose change can move its customer's type (through DealUpdated).
DEAL_FIELDS = {"customer_id", "stage_id", "closed_at", "stage_entered_at"}
# Fields that change how a won deal counts in the won-amount day sums (won_ledger).
MONEY_FIELDS = {"amount", "currency", "owner_id"}


def customers_touched(event: Any) -> set[int]:
    """The customers whose type ``event`` may change; empty for events that cannot.

    DealStageChanged between two open stages cannot change a type, and into or out of a closed
    stage it is always followed by DealWon / DealLost / DealReopened, which do the work once.
    """
    name = type(event).__name__
    ids: set[int | None] = set()
    if name == "CustomerCreated":
        ids.add(event.customer.id)
    elif name == "CustomerUpdated":  # a new owner: the counts per owner move
        if "owner_id" in (getattr(event, "changes", {}) or {}):
            ids.add(event.customer.id)
    elif name in DEAL_EVENTS:
        deal = getattr(event, "deal", None)
        ids.add(getattr(deal, "customer_id", None) if deal is not None
                else getattr(event, "customer_id", None))
    elif name == "DealUpdated":
        changes = getattr(event, "changes", {}) or {}
        if "customer_id" in changes:
            ids.update(changes["customer_id"])
        elif (DEAL_FIELDS | MONEY_FIELDS) & set(changes):
            ids.add(event.deal.customer_id)
    elif name in LEAD_EVENTS:
        customer = getattr(event, "customer", None)
        ids.add(customer.id if customer is not None
                else getattr(getattr(event, "lead", None), "customer_id", None))
    elif name == "CallLogged":
        customer = getattr(event, "customer", None)
        ids.add(customer.id if customer is not None
                else getattr(getattr(event, "call", None), "customer_id", None))
    return {i for i in ids if i is not None}


def handle(event: Any, session: Session) -> None:
    """Refresh the types, then the counts per owner and type and the won-amount sums of the
    same customers (their type, owner or deals may have moved), all in the event's
    transaction."""
    ids = customers_touched(event)
    if not ids:
        return
    name = type(event).__name__
    deal = getattr(event, "deal", None)
    open_deal_added = name == "DealCreated" and deal is not None and deal.closed_at is None
    moved = refresh_customers(session, ids, name, getattr(event, "by", None),
                              open_deal_added=open_deal_added)
    # Counts move with a type or an owner; won sums with a type or a deal.
    sync_counts(session, ids if name in ("CustomerCreated", "CustomerUpdated") else moved)
    sync_customers(session, ids if _may_move_won_sums(event, name) else moved)


def _may_move_won_sums(event: Any, name: str) -> bool:
    """Whether a deal event can change the won-deal ledger by itself (not through a type).

    A deal created open holds no won row and leaves its customer's other deals alone, so the
    ledger only follows it when the customer's type moved: two reads saved on every new deal.
    """
    if not name.startswith("Deal"):
        return False
    if name == "DealCreated":
        deal = getattr(event, "deal", None)
        return deal is None or getattr(deal, "closed_at", None) is not None
    return True


def _enabled() -> bool:
    return has_app_context() and current_app.extensions["conveyor"].enabled("relationships")


