"""Demo rows: a discount above a seller's limit waiting for the manager, one approved, and the
70 % stage gated by the discount rule. The contract flow (60 % → a contract draft sent to the
lawyers; 70 % and beyond refused until it is approved) comes with the documents plugin."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from conveyor import in_company_language
from conveyor.i18n import _l
from conveyor.models import Deal, Stage

from . import discount, services


def seed(session: Any, users: dict[str, Any], rng: Any) -> None:
    seller, manager = users.get("seller"), users.get("manager")
    if seller is None or manager is None:
        return
    stage = session.scalar(select(Stage).where(Stage.percent == 70, Stage.is_won.is_(False)))
    if stage is not None:
        stage.gates = sorted(set(stage.gates or []) | {"approvals.discount"})
    open_stage_ids = select(Stage.id).where(Stage.is_won.is_(False), Stage.is_lost.is_(False),
                                            Stage.percent.between(20, 60))
    deals = list(session.scalars(select(Deal).where(Deal.owner_id == seller.id,
                                                    Deal.stage_id.in_(open_stage_ids))
                                 .order_by(Deal.id).limit(3)))
    for i, deal in enumerate(deals):
        percent = Decimal(rng.choice([15, 20, 12]))
        request = discount.set_deal_discount(deal, percent, seller)
        if request is not None and i == 0:
            services.approve(request, manager, in_company_language(_l("OK for this customer.")))
    session.flush()
