"""The discount rule: a discount above the limit of its giver's role needs the manager's
approval. Generic on purpose: a deal's own discount uses it, and the documents plugin will call
:func:`require_approval` for a quote's lines against list prices before the offer is final."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from conveyor import db, setting
from conveyor.types import utcnow

from . import services
from .models import DealDiscount
from .resources import DEAL, Approver, discount_of


def limits() -> dict[str, Decimal]:
    """``approvals.discount_limits`` ("seller:10 manager:25") as {role: percent}."""
    out: dict[str, Decimal] = {}
    for item in str(setting("approvals.discount_limits") or "").replace(",", " ").split():
        role, _, value = item.partition(":")
        try:
            out[role.strip()] = Decimal(value)
        except InvalidOperation:
            continue
    return out


def limit_for(user: Any) -> Decimal:
    """The largest discount ``user`` may give without approval: the best of their roles'."""
    return limit_of_roles(list(getattr(user, "roles", ()) or ()))


def limit_of_roles(roles: list[str]) -> Decimal:
    table = limits()
    default = Decimal(str(setting("approvals.discount_limit_default")))
    return max((table.get(r, default) for r in roles), default=default)


def needs_approval(percent: Decimal, giver: Any) -> bool:
    return Decimal(percent) > limit_for(giver)


def require_approval(resource: str, record: Any, percent: Decimal, giver: Any, by: Any,
                     note: str = "") -> Any:
    """When ``percent`` is above ``giver``'s limit, send ``record`` (any approvable resource:
    a deal, a quote) to ``by``'s manager; returns the request, or ``None`` when no approval is
    needed. An open request on the record is sent again with its new version."""
    if not needs_approval(percent, giver):
        return None
    latest = services.latest(resource, record_id=record.id)
    spec = services.spec_of(resource)
    if latest is not None and latest.status in ("approved", "pending") \
            and latest.version == spec.version(record):
        return latest  # already approved, or already waiting, as it is now
    return services.request_approval(resource, record, by, Approver.manager(), note)


def of_deal(deal_id: int) -> Decimal:
    return discount_of(deal_id)


def set_deal_discount(deal: Any, percent: Decimal, by: Any) -> Any:
    """Record the deal's discount; above its owner's limit the deal's terms go to the manager.
    Returns the approval request when one was made or sent again."""
    row = db.session.get(DealDiscount, deal.id)
    if row is None:
        row = DealDiscount(deal_id=deal.id)
        db.session.add(row)
    row.percent = Decimal(percent).quantize(Decimal("0.01"))
    row.updated_by_id = by.id
    row.updated_at = utcnow()
    db.session.flush()
    return require_approval(DEAL.name, deal, row.percent, deal.owner or by, by)
