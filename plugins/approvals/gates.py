"""The stage gates the plugin declares: ``approvals.approved:<resource>`` for every approvable
resource ("moving here needs the latest <resource> of this deal approved, in its current
version") and ``approvals.discount`` (a discount above the owner's limit needs the manager's
approval of the deal's terms)."""
from __future__ import annotations

from typing import Any

from conveyor import StageGate
from conveyor.i18n import _l

from . import discount, services
from .models import APPROVED, CHANGES, PENDING
from .resources import DEAL, Approvable, approvables

PREFIX = "approvals.approved:"


def approval_reason(spec: Approvable, deal: Any) -> Any:
    """Why the deal's latest ``spec`` record is not approved as it is now, or ``None``."""
    if deal.id is None:  # a deal being created has no approvals yet
        return _l("%(what)s: not approved yet.", what=spec.label)
    request = services.latest(spec.name, deal_id=deal.id)
    if request is None:
        return _l("%(what)s: not sent for approval yet.", what=spec.label)
    if request.status == PENDING:
        return _l("%(what)s: waiting for approval.", what=spec.label)
    if request.status == CHANGES:
        return _l("%(what)s: sent back for changes.", what=spec.label)
    if request.status != APPROVED:
        return _l("%(what)s: not approved (the request was withdrawn).", what=spec.label)
    record = deal if spec.name == DEAL.name else None
    if services.current_version(request, record) != request.version:
        return _l("%(what)s: changed after approval; it needs approving again.",
                  what=spec.label)
    return None


def _approved_check(name: str) -> Any:
    def check(move: Any) -> Any:
        spec = approvables().get(name)
        return None if spec is None else approval_reason(spec, move.deal)

    return check


def _discount_check(move: Any) -> Any:
    deal = move.deal
    if deal.id is None:
        return None
    percent = discount.of_deal(deal.id)
    limit = discount.limit_for(deal.owner)
    if percent <= limit:
        return None
    if approval_reason(DEAL, deal) is None:
        return None
    return _l("A discount of %(percent)s%% is above the %(limit)s%% its owner may give and "
              "needs the manager's approval.", percent=_plain(percent), limit=_plain(limit))


def _plain(value: Any) -> str:
    """15.00 → "15", 12.50 → "12.5"."""
    from decimal import Decimal

    return f"{Decimal(value).normalize():f}"


def stage_gates(app: Any) -> list[StageGate]:
    gates = [StageGate(PREFIX + name, _l("Approved: %(what)s", what=spec.label),
                       _approved_check(name),
                       _l("The latest approval request of this kind on the deal is approved "
                          "and the record has not changed since."))
             for name, spec in sorted(approvables(app).items())]
    gates.append(StageGate("approvals.discount", _l("Discount within the owner's limit, or "
                                                    "approved by the manager"), _discount_check))
    return gates
