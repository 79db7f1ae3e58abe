"""Demo rows: each seller's day (overdue, today, coming), visits held over the last weeks (so
the funnel's visits and the relationships' activities report have figures), a task handed to
the assistant and a weekly recurring meeting."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from conveyor import in_company_language
from conveyor.i18n import _l
from conveyor.models import Deal, Stage
from conveyor.types import utcnow

from .models import Activity
from .recurrence import create_series
from .zones import local_today, zone_of

# Written in the company's language (config default_locale) when seeded.
TITLES = {"call": [_l("Call about the proposal"), _l("Confirm the delivery date"),
                   _l("Follow-up call")],
          "email": [_l("Send the price list"), _l("Send the contract draft")],
          "meeting": [_l("Presentation for the board"), _l("Negotiation meeting")],
          "todo": [_l("Prepare the proposal"), _l("Update the specification")],
          "visit": [_l("Visit the customer's site"), _l("Demo at the customer's office")]}


def seed(session: Any, users: dict[str, Any], rng: Any) -> None:
    now = utcnow()
    assistant = users.get("assistant")
    for seller in users.get("sellers") or []:
        deals = list(session.scalars(
            select(Deal).join(Stage, Deal.stage_id == Stage.id)
            .where(Deal.owner_id == seller.id, Stage.is_won.is_(False), Stage.is_lost.is_(False))
            .order_by(Deal.id).limit(12)))
        zone = zone_of(seller)
        today = local_today(zone)
        # Most open deals get a next step; a few are left without one, for the widget.
        for i, deal in enumerate(deals):
            if i % 4 == 3:
                continue
            kind = rng.choice(["call", "email", "meeting", "todo", "visit"])
            offset = rng.randint(-3, 6)
            local = datetime.combine(today + timedelta(days=offset),
                                     time(rng.randint(9, 17), rng.choice([0, 30])))
            due_at = local.replace(tzinfo=zone)
            title = in_company_language(rng.choice(TITLES[kind]))
            session.add(_activity(kind, title, due_at, seller, deal, now))
        # Visits held over the last eight weeks: first visits and follow-ups.
        seen: set[int] = set()
        for _ in range(rng.randint(10, 18)):
            deal = rng.choice(deals) if deals else None
            if deal is None:
                break
            due_at = now - timedelta(days=rng.randint(1, 55), hours=rng.randint(0, 6))
            title = in_company_language(rng.choice(TITLES["visit"]))
            visit = _activity("visit", title, due_at, seller, deal, now)
            visit.status, visit.done_at = "done", due_at
            visit.visit_kind = "FUA" if deal.customer_id in seen else "FSI"
            visit.progress = rng.choice([None, 10, 20, 40])
            visit.result = in_company_language(_l("Met the buyer; next: a proposal."))
            seen.add(deal.customer_id)
            session.add(visit)
        if assistant is not None and deals:
            session.add(_activity("todo", in_company_language(_l("Prepare the invoice")),
                                  now + timedelta(days=1), assistant, deals[0], now,
                                  creator=seller))
    session.flush()
    seller = users.get("seller")
    if seller is not None:
        create_series({"kind": "meeting",
                       "title": in_company_language(_l("Weekly pipeline review")),
                       "frequency": "weeks", "interval": 1,
                       "start_date": local_today(zone_of(seller)), "local_time": time(9, 0),
                       "until": None}, by=seller)


def _activity(kind: str, title: str, due_at: datetime, assignee: Any, deal: Deal,
              now: datetime, creator: Any = None) -> Activity:
    return Activity(kind=kind, title=title, due_at=due_at, assignee_id=assignee.id,
                    creator_id=(creator or assignee).id, deal_id=deal.id,
                    customer_id=deal.customer_id, status="planned", notes="", result="",
                    visit_kind="FSI" if kind == "visit" else None, duration_minutes=30,
                    remind_at=None if due_at <= now else due_at - timedelta(minutes=15))
