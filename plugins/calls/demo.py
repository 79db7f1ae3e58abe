"""Demo rows: a telemarketer's calls over the last weeks, call backs and a filled queue."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from conveyor import in_company_language
from conveyor.i18n import _l
from conveyor.models import Customer
from conveyor.types import utcnow

from .models import QueueItem
from .services import log_call

PRODUCTS = ["CRM licences", "Implementation", "Training", "Support plan", "Integrations"]
PEOPLE = [("Anna Petrova", "Volga Trade", "+7 495 123-45-67"),
          ("王伟", "上海贸易有限公司", "+86 21 5555 0101"),
          ("John Smith", "Smith & Sons", "+1 212 555 0199"),
          ("Olga Ivanova", "Sibir Logistics", "+7 383 222-33-44"),
          ("李娜", "深圳科技", "+86 755 8888 0202"),
          ("Maria Garcia", "Iberia Foods", "+34 91 555 0123")]


def _user(users: dict[str, Any], key: str) -> Any:
    return users.get(key)


def seed(session: Any, users: dict[str, Any], rng: Any) -> None:
    tm = _user(users, "telemarketer")
    if tm is None:
        return
    now = utcnow()
    customers = list(session.scalars(select(Customer).order_by(Customer.id).limit(8)))
    # Customers the manager asked the telemarketer to call: in the queue, some already called.
    items = []
    for i, customer in enumerate(customers):
        item = QueueItem(owner_id=tm.id, customer_id=customer.id, company=customer.name,
                         priority=rng.randint(0, 5), position=i + 1,
                         due_at=now - timedelta(hours=rng.randint(0, 48)) if i % 3 else None,
                         created_by_id=getattr(_user(users, "manager"), "id", tm.id))
        session.add(item)
        items.append(item)
    session.flush()
    calls = []
    for item in items[:4]:
        result = rng.choice(["interested", "not_interested", "call_back", "no_answer"])
        calls.append(log_call({
            "customer_id": item.customer_id, "queue_item_id": item.id, "result": result,
            "call_back_at": now + timedelta(days=rng.randint(1, 5)) if result == "call_back"
            else None, "products": rng.sample(PRODUCTS, 2) if result == "interested" else [],
            "notes": in_company_language(_l("Asked for a price list."))
            if result == "interested" else ""}, by=tm))
    for name, company, phone in PEOPLE:
        for _ in range(rng.randint(1, 3)):
            result = rng.choice(["no_answer", "no_answer", "not_interested", "interested",
                                 "call_back"])
            calls.append(log_call({
                "name": name, "company": company, "phone": phone, "result": result,
                "call_back_at": now + timedelta(days=rng.randint(1, 7), hours=rng.randint(1, 8))
                if result == "call_back" else None,
                "products": rng.sample(PRODUCTS, rng.randint(1, 3)) if result == "interested"
                else []}, by=tm))
    # Spread them over the last eight weeks so the statistics have something to show.
    for call in calls:
        call.created_at = now - timedelta(days=rng.randint(0, 55), hours=rng.randint(0, 9))
    session.flush()
