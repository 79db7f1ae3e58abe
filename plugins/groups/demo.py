"""Demo groups: a filter segment, a hand-picked newsletter list, an unsubscribed address."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from conveyor import in_company_language
from conveyor.i18n import _l
from conveyor.models import Contact, Customer

from .models import Group, GroupMember, Unsubscribe


def seed(session: Any, users: dict[str, Any], rng: Any) -> None:
    marketer = users.get("marketer") or users.get("admin")
    if marketer is None:
        return
    industry = session.scalar(select(Customer.industry).where(Customer.industry != "")
                              .order_by(Customer.id).limit(1))
    session.add(Group(name=in_company_language(_l("Customers with open deals")),
                      kind="customers", mode="filter", filters={"has_open_deal": True},
                      created_by_id=marketer.id))
    if industry:
        name = in_company_language(_l("%(industry)s: newsletter", industry=industry))
        session.add(Group(name=name, kind="customers", mode="filter",
                          filters={"industry": industry}, created_by_id=marketer.id))
    manual = Group(name=in_company_language(_l("Trade show invitations")), kind="customers",
                   mode="manual", created_by_id=marketer.id)
    session.add(manual)
    session.flush()
    ids = list(session.scalars(select(Customer.id).order_by(Customer.id).limit(30)))
    for customer_id in rng.sample(ids, min(6, len(ids))):
        session.add(GroupMember(group_id=manual.id, customer_id=customer_id,
                                added_by_id=marketer.id))
    email = session.scalar(select(Contact.email).where(Contact.email != "")
                           .order_by(Contact.id).limit(1))
    if email:
        session.add(Unsubscribe(email=email.strip().lower(),
                                reason=in_company_language(_l("Asked by phone")),
                                by_id=marketer.id))
    session.flush()
