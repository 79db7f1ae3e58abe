"""Converting a qualified lead: the customer (created or linked), a contact, a deal at the first
stage, and the lead's source and history carried onto the customer's timeline."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from conveyor import create_customer, create_deal, db, emit, in_company_language, post_timeline
from conveyor.models import COMPANY_SIZES, Contact, Customer, Deal, User
from conveyor.queries import written_limit
from conveyor.types import utcnow

from .events import LeadConverted, LeadStatusChanged
from .models import Lead, LeadActivity, LeadAssignment
from .services import LeadError
from .texts import _

HISTORY_LIMIT = 200


@dataclass
class Conversion:
    lead: Lead
    customer: Customer
    contact: Contact | None
    deal: Deal


def convert_lead(lead: Lead, *, by: Any, deal_title: str = "") -> Conversion:
    """Qualified -> converted. Links the matched customer/contact or creates them."""
    if lead.status != "qualified":
        raise LeadError("status", _("Only a qualified lead can be converted."))
    owner_id = lead.owner_id or getattr(by, "id", None)
    customer = db.session.get(Customer, lead.customer_id) if lead.customer_id else None
    if customer is None:
        customer = create_customer({
            "name": lead.company or lead.name or lead.email or lead.phone,
            "industry": lead.industry, "region": lead.region,
            "size": lead.size if lead.size in COMPANY_SIZES else "",
            "tax_id": lead.tax_id, "owner_id": owner_id}, by)
    contact = db.session.get(Contact, lead.contact_id) if lead.contact_id else None
    if contact is None and (lead.name or lead.email or lead.phone):
        contact = Contact(customer_id=customer.id, name=lead.name or lead.email or lead.phone,
                          email=lead.email_normalized or lead.email, phone=lead.phone)
        db.session.add(contact)
        db.session.flush()
        post_timeline("contact.added", contact.name, customer=customer, by=by)
    title = (deal_title or "").strip()[:200] or (
        f"{lead.label}: {lead.products}"[:200] if lead.products else lead.label[:200])
    deal = create_deal({"title": title, "customer_id": customer.id, "owner_id": owner_id}, by)
    _history_to_timeline(lead, customer, by)
    lead.customer_id, lead.contact_id, lead.deal_id = customer.id, getattr(contact, "id", None), \
        deal.id
    old = lead.status
    lead.status = "converted"  # only reachable here, never through change_status()
    lead.dedupe_key = None
    lead.updated_at = utcnow()
    db.session.add(LeadActivity(lead_id=lead.id, by_id=getattr(by, "id", None), kind="converted",
                                note=f"customer #{customer.id}, deal #{deal.id}", at=utcnow()))
    db.session.flush()
    emit(LeadStatusChanged(lead=lead, old=old, new="converted", by=by))
    emit(LeadConverted(lead=lead, customer=customer, contact=contact, deal=deal, by=by))
    return Conversion(lead, customer, contact, deal)


def _history_to_timeline(lead: Lead, customer: Customer, by: Any) -> None:
    """The lead's capture, assignments and activities, at their own times, on the customer."""
    assignments = list(db.session.scalars(
        select(LeadAssignment).where(LeadAssignment.lead_id == lead.id)
        .order_by(LeadAssignment.at).limit(written_limit(HISTORY_LIMIT))))
    ids = {a.owner_id for a in assignments if a.owner_id}
    names = dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())
    from .forms import ASSIGNMENT_REASONS, SOURCE_LABELS

    source = in_company_language(SOURCE_LABELS.get(lead.source, lead.source))
    entry = post_timeline("lead.captured", f"{source} · {lead.label}", customer=customer,
                          data={"lead_id": lead.id, "source": lead.source,
                                "form_id": lead.form_id})
    entry.at = lead.created_at
    rows: list[tuple[Any, str, str]] = []
    for a in assignments:
        reason = in_company_language(ASSIGNMENT_REASONS.get(a.reason, a.reason))
        detail = f"{reason}: {a.detail}" if a.detail else reason
        rows.append((a.at, "lead.assigned", f"{names.get(a.owner_id, '—')} ({detail})"))
    for act in db.session.scalars(select(LeadActivity).where(LeadActivity.lead_id == lead.id)
                                  .order_by(LeadActivity.at).limit(written_limit(HISTORY_LIMIT))):
        rows.append((act.at, f"lead.{act.kind}", act.note[:1000]))
    for at, kind, message in rows:
        item = post_timeline(kind, message, customer=customer, data={"lead_id": lead.id})
        item.at = at
    post_timeline("lead.converted", source, customer=customer, by=by,
                  data={"lead_id": lead.id, "source": lead.source})


__all__ = ["Conversion", "convert_lead"]
