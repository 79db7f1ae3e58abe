"""Who a list of calls or queue items is about, as the viewer may be shown it.

A queue item grants the call, not the customer's card: a telemarketer works through customers
a manager queued for them without seeing those customers' cards. So the lists name every
customer, link only those the viewer may open, and show the number to call — the item's own,
else the customer's contact's (decision makers first)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from conveyor import can, db, scope
from conveyor.models import Contact, Customer


@dataclass
class Whom:
    customers: dict[int, Customer] = field(default_factory=dict)
    openable: set[int] = field(default_factory=set)
    phones: dict[int, str] = field(default_factory=dict)

    def phone_of(self, row: Any) -> str:
        """The number to call for a queue item or call: its own, else its customer's."""
        return getattr(row, "phone", "") or self.phones.get(row.customer_id or 0, "")


def whom(rows: Iterable[Any], user: Any, phones: bool = False) -> Whom:
    """The customers ``rows`` (queue items or calls) name; which of them ``user`` may open
    (the customer card's own rule: customers.view within the record scope); with ``phones``,
    a contact's number for each customer. Two or three statements, whatever the row count."""
    ids = {r.customer_id for r in rows if r.customer_id}
    if not ids:
        return Whom()
    customers = {c.id: c for c in db.session.scalars(select(Customer).where(Customer.id.in_(ids)))}
    openable = openable_ids(ids, user)
    numbers: dict[int, str] = {}
    if phones:
        for customer_id, phone in db.session.execute(
                select(Contact.customer_id, Contact.phone)
                .where(Contact.customer_id.in_(ids), Contact.phone != "")
                .order_by(Contact.decision_maker.desc(), Contact.id)):
            numbers.setdefault(customer_id, phone)
    return Whom(customers, openable, numbers)


def openable_ids(ids: set[int], user: Any) -> set[int]:
    """Those of the customers ``ids`` whose card ``user`` may open (customers.view and the
    record scope, as the card itself checks)."""
    if not ids or not can(user, "customers.view"):
        return set()
    return set(db.session.scalars(select(Customer.id).where(Customer.id.in_(ids),
                                                            scope(Customer, user))))
