"""The stage gates the plugin declares: ``approvals.approved:<resource>`` for every approvable
resource ("moving here needs the latest <resource> of this deal approved, in its current
version") and ``approvals.discount`` (a discount above the owner's limit needs the manager's
approval of the deal's terms)."""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select

from conveyor import StageGate, db
from conveyor.i18n import _l
from conveyor.models import UserRole
from conveyor.queries import written_limit

from . import discount, services
from .models import APPROVED, CHANGES, PENDING, ApprovalRequest, DealDiscount
from .resources import DEAL, Approvable, approvables, deal_terms

PREFIX = "approvals.approved:"


def approval_reason(spec: Approvable, deal: Any) -> Any:
    """Why the deal's latest ``spec`` record is not approved as it is now, or ``None``. For
    the deal's own terms one statement answers (the request and the deal's discount)."""
    if deal.id is None:  # a deal being created has no approvals yet
        return _l("%(what)s: not approved yet.", what=spec.label)
    if spec.name == DEAL.name:
        row = db.session.execute(_deal_state(), {"deal_id": deal.id}).first()
        status, version = (row.status, row.version) if row is not None else (None, None)
        current = None if row is None else deal_terms(deal, row.percent)
    else:
        request = services.latest(spec.name, deal_id=deal.id)
        status, version = (request.status, request.version) if request else (None, None)
        current = services.current_version(request) if request is not None else None
    if status is None:
        return _l("%(what)s: not sent for approval yet.", what=spec.label)
    if status == PENDING:
        return _l("%(what)s: waiting for approval.", what=spec.label)
    if status == CHANGES:
        return _l("%(what)s: sent back for changes.", what=spec.label)
    if status != APPROVED:
        return _l("%(what)s: not approved (the request was withdrawn).", what=spec.label)
    if current != version:
        return _l("%(what)s: changed after approval; it needs approving again.",
                  what=spec.label)
    return None


@lru_cache(maxsize=1)
def _deal_state() -> Any:
    """The deal's latest "deal" request and its discount (``deal_id`` bound), built once."""
    r = ApprovalRequest
    percent = (select(DealDiscount.percent).where(DealDiscount.deal_id == bindparam("deal_id"))
               .scalar_subquery())
    return (select(r.status, r.version, percent.label("percent"))
            .where(r.resource == DEAL.name, r.deal_id == bindparam("deal_id"))
            .order_by(r.id.desc()).limit(written_limit(1)))


@lru_cache(maxsize=1)
def _owner_roles_and_discount() -> Any:
    """The owner's roles, each with the deal's discount (``owner_id``, ``deal_id`` bound)."""
    percent = (select(DealDiscount.percent).where(DealDiscount.deal_id == bindparam("deal_id"))
               .scalar_subquery())
    return select(UserRole.role, percent.label("percent")).where(
        UserRole.user_id == bindparam("owner_id"))


def _approved_check(name: str) -> Any:
    def check(move: Any) -> Any:
        spec = approvables().get(name)
        return None if spec is None else approval_reason(spec, move.deal)

    return check


def _discount_check(move: Any) -> Any:
    """One statement when the discount is within the owner's limit (the owner's roles with the
    deal's discount); one more for the approval when it is not."""
    deal = move.deal
    if deal.id is None:
        return None
    rows = db.session.execute(_owner_roles_and_discount(),
                              {"owner_id": deal.owner_id or 0, "deal_id": deal.id}).all()
    if rows:
        percent = Decimal(rows[0].percent or 0)
        limit = discount.limit_of_roles([row.role for row in rows])
    else:
        percent, limit = discount.of_deal(deal.id), discount.limit_of_roles([])
    if percent <= limit:
        return None
    if approval_reason(DEAL, deal) is None:
        return None
    return _l("A discount of %(percent)s%% is above the %(limit)s%% its owner may give and "
              "needs the manager's approval.", percent=_plain(percent), limit=_plain(limit))


def _plain(value: Any) -> str:
    """15.00 → "15", 12.50 → "12.5"."""
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
