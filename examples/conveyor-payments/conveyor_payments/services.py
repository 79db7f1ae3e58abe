"""Reads under the record rules and the one write, shared by the page, the API and the hooks."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select

from conveyor import db, get_visible_or_404, post_timeline, scoped
from conveyor.i18n import _l
from conveyor.models import Deal, Stage

from .models import Payment


class PaymentError(ValueError):
    def __init__(self, field: str, message: Any) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def visible_payments(user: Any) -> Select[Any]:
    """Payments on the deals ``user`` may see (record rules in SQL, never per row)."""
    deals = scoped(Deal, user).with_only_columns(Deal.id)
    return select(Payment).where(Payment.deal_id.in_(deals)).order_by(Payment.id.desc())


def record_payment(deal_id: int, amount: Decimal, paid_on: date, note: str, by: Any) -> Payment:
    """Record money received on a won deal ``by`` may see (404 otherwise), in its currency."""
    deal = get_visible_or_404(Deal, deal_id, by)
    if not db.session.scalar(select(Stage.is_won).where(Stage.id == deal.stage_id)):
        raise PaymentError("deal_id", _l("Payments are recorded on won deals only."))
    if amount <= 0:
        raise PaymentError("amount", _l("The amount must be above zero."))
    payment = Payment(deal_id=deal.id, amount=amount, currency=deal.currency, paid_on=paid_on,
                      note=(note or "").strip()[:200], by_id=getattr(by, "id", None))
    db.session.add(payment)
    db.session.flush()
    post_timeline("payments.received", f"{amount} {deal.currency}", deal=deal, by=by,
                  data={"payment_id": payment.id})
    return payment


def paid_per_currency(user: Any, since: date) -> list[tuple[str, Decimal]]:
    """Received since ``since`` on the deals ``user`` may see, one total per currency — money
    in different currencies is never added together."""
    visible = visible_payments(user).order_by(None).subquery()
    rows = db.session.execute(select(visible.c.currency, func.sum(visible.c.amount))
                              .where(visible.c.paid_on >= since)
                              .group_by(visible.c.currency).order_by(visible.c.currency))
    return [(currency, Decimal(total)) for currency, total in rows]


def paid_per_owner(start: datetime, end: datetime, owner_ids: list[int] | None,
                   currency: str) -> dict[int, dict[str, Decimal]]:
    """Volume and margin received in ``[start, end)`` per deal owner, in ``currency`` only.
    The margin of a payment is its share of the deal's margin."""
    share = Payment.amount * func.coalesce(Deal.margin, 0) / func.nullif(Deal.amount, 0)
    query = (select(Deal.owner_id, func.sum(Payment.amount), func.sum(func.coalesce(share, 0)))
             .join(Deal, Deal.id == Payment.deal_id)
             .where(Payment.paid_on >= start.date(), Payment.paid_on < end.date(),
                    Payment.currency == currency)
             .group_by(Deal.owner_id))
    if owner_ids is not None:
        query = query.where(Deal.owner_id.in_(owner_ids))
    return {owner: {"volume": Decimal(volume or 0).quantize(Decimal("0.01")),
                    "margin": Decimal(margin or 0).quantize(Decimal("0.01"))}
            for owner, volume, margin in db.session.execute(query) if owner is not None}
