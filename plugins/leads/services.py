"""The leads plugin's write operations, shared by the public form, the screens, the API, the
import, the CLI and other plugins (``create_lead`` is the contract in contracts.md).

Nothing here commits: callers own the transaction. Errors the database would refuse are raised
as :class:`LeadError` before anything is written.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from conveyor import db, emit, setting
from conveyor.models import Contact, Customer
from conveyor.queries import written_limit
from conveyor.types import utcnow

from .assignment import assign_lead, pick_owner, record_assignment
from .events import LeadCaptured, LeadStatusChanged
from .models import FIELD_NAMES, LIMITS, OPEN_STATUSES, Lead, LeadActivity, LeadForm
from .normalize import (
    clean_multiline,
    clean_text,
    dedupe_key,
    normalize_company,
    normalize_email,
    normalize_phone,
    phone_tail,
)
from .texts import _

IDENTITY = ("company", "name", "email", "phone")
TEXT_FIELDS = (*FIELD_NAMES, "tax_id")
# Allowed status moves; "converted" is reached only through convert_lead().
TRANSITIONS = {
    "new": ("in_progress", "qualified", "disqualified"),
    "in_progress": ("qualified", "disqualified"),
    "qualified": ("in_progress", "disqualified"),
    "disqualified": ("in_progress",),
    "converted": (),
}
ACTIVITY_KINDS = ("note", "call", "email", "meeting")


class LeadError(ValueError):
    """Input the database would refuse; ``field`` names the form field or JSON key at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def clean_data(data: dict[str, Any]) -> dict[str, str]:
    """Known text fields, trimmed and checked against the column sizes."""
    out: dict[str, str] = {}
    for key in TEXT_FIELDS:
        value = data.get(key)
        if value is None:
            continue
        if key == "products" and isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        text = clean_multiline(value) if key == "notes" else clean_text(value)
        if len(text) > LIMITS[key]:
            raise LeadError(key, _("At most %(n)s characters.", n=LIMITS[key]))
        out[key] = text
    if not any(out.get(k) for k in IDENTITY):
        raise LeadError("company", _("Give at least a company, a name, an email or a phone."))
    return out


def normalized(clean: dict[str, str]) -> dict[str, Any]:
    email = normalize_email(clean.get("email", ""))
    phone = normalize_phone(clean.get("phone", ""), setting("leads.default_region"))
    company = normalize_company(clean.get("company", ""))
    return {"email_normalized": email, "phone_e164": phone, "company_normalized": company,
            "dedupe_key": dedupe_key(email, phone, company)}


def find_open_duplicate(norm: dict[str, Any]) -> Lead | None:
    """The open lead with the same email, else phone, else (for company-only) company."""
    conds = []
    if norm["dedupe_key"]:
        conds.append(Lead.dedupe_key == norm["dedupe_key"])
    if norm["email_normalized"]:
        conds.append(Lead.email_normalized == norm["email_normalized"])
    if norm["phone_e164"]:
        conds.append(Lead.phone_e164 == norm["phone_e164"])
    if not conds:
        return None
    found = list(db.session.scalars(select(Lead).where(or_(*conds))
                                    .where(Lead.status.in_(OPEN_STATUSES))
                                    .order_by(Lead.id).limit(written_limit(20))))

    def rank(lead: Lead) -> int:
        if norm["email_normalized"] and lead.email_normalized == norm["email_normalized"]:
            return 0
        if norm["phone_e164"] and lead.phone_e164 == norm["phone_e164"]:
            return 1
        return 2

    return min(found, key=rank) if found else None


def _digits(column: Any) -> Any:
    for ch in (" ", "-", "(", ")", ".", "+"):
        column = func.replace(column, ch, "")
    return column


def match_customer(clean: dict[str, str], norm: dict[str, Any]) -> tuple[int | None, int | None]:
    """(customer_id, contact_id) of a known contact (email, phone) or customer (tax id, name)."""
    email, phone = norm["email_normalized"], norm["phone_e164"]
    if email or phone:
        conds = []
        if email:
            conds.append(func.lower(Contact.email) == email)
        if phone:
            conds.append(_digits(Contact.phone).like("%" + phone_tail(phone)))
        region = setting("leads.default_region")
        for contact_id, customer_id, c_email, c_phone in db.session.execute(
                select(Contact.id, Contact.customer_id, Contact.email, Contact.phone)
                .where(or_(*conds)).order_by(Contact.id).limit(written_limit(20))):
            if (email and normalize_email(c_email) == email) or (
                    phone and normalize_phone(c_phone, region) == phone):
                return customer_id, contact_id
    company, tax_id = norm["company_normalized"], clean.get("tax_id", "")
    if company or tax_id:
        conds = []
        if tax_id:
            conds.append(Customer.tax_id == tax_id)
        if company:
            token = max(company.split(" "), key=len)
            conds += [func.lower(Customer.name).contains(token, autoescape=True),
                      *[Customer.name.contains(v, autoescape=True)
                        for v in {token.capitalize(), token.upper()}]]
        for customer_id, name, c_tax in db.session.execute(
                select(Customer.id, Customer.name, Customer.tax_id).where(or_(*conds))
                .order_by(Customer.id).limit(written_limit(20))):
            if (tax_id and c_tax == tax_id) or (company and normalize_company(name) == company):
                return customer_id, None
    return None, None


def _insert(values: dict[str, Any]) -> Lead | None:
    """INSERT ... ON CONFLICT (dedupe_key) DO NOTHING RETURNING: ``None`` if a racing twin won."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - PostgreSQL and SQLite are the supported databases
        from sqlalchemy.exc import IntegrityError

        try:
            with db.session.begin_nested():
                lead = Lead(**values)
                db.session.add(lead)
            return lead
        except IntegrityError:
            return None
    stmt = insert(Lead).values(**values).on_conflict_do_nothing(
        index_elements=[Lead.dedupe_key]).returning(Lead)
    return db.session.scalars(stmt).first()


def create_lead(data: dict[str, Any], *, source: str, by: Any = None, form: LeadForm | None = None,
                assign: bool = True, owner_id: int | None = None, import_id: int | None = None,
                ) -> Lead:
    """Store a lead (or merge it into the open lead it duplicates) and route it.

    Matches against open leads (merged, with an activity row: never dropped), contacts and
    customers (linked). Assignment: ``owner_id`` if given, else the rules, inside a savepoint
    so a failing rule can never lose the lead (the sweep assigns it later). Emits LeadCaptured
    and LeadAssigned; the caller commits. ``lead.merged`` tells whether it was a duplicate.
    """
    clean = clean_data(data)
    norm = normalized(clean)
    source = clean_text(source or "")[: LIMITS["source"]]
    existing = find_open_duplicate(norm)
    if existing is not None:
        return merge_into(existing, clean, norm, source=source, by=by, form=form)
    customer_id = data.get("customer_id")
    contact_id = None
    if not customer_id:
        customer_id, contact_id = match_customer(clean, norm)
    now = utcnow()
    picked = None
    if owner_id is None and assign:
        try:
            with db.session.begin_nested():
                picked = pick_owner({**clean, "source": source},
                                    form_rule_id=form.rule_id if form else None, now=now)
        except Exception:  # noqa: BLE001 - stored unassigned; the sweep assigns it later
            import logging

            logging.getLogger("conveyor.leads").exception("assignment rules failed")
    owner = owner_id if owner_id is not None else (picked[0] if picked else None)
    values = {**{k: "" for k in TEXT_FIELDS}, **clean, **norm, "source": source,
              "form_id": form.id if form else None, "import_id": import_id, "status": "new",
              "owner_id": owner, "assigned_at": now if owner else None,
              "customer_id": customer_id, "contact_id": contact_id,
              "created_by_id": getattr(by, "id", None), "created_at": now, "updated_at": now,
              "processed_at": now}
    lead = _insert(values)
    if lead is None:  # an identical submission committed first: merge into it
        twin = db.session.scalar(select(Lead).where(Lead.dedupe_key == norm["dedupe_key"]))
        if twin is None:
            raise LeadError("email", _("A lead with these details is being saved; try again."))
        return merge_into(twin, clean, norm, source=source, by=by, form=form)
    lead.merged = False  # type: ignore[attr-defined]
    emit(LeadCaptured(lead=lead, by=by))
    if owner is not None:
        reason = "rule" if picked else ("import" if import_id else "manual")
        record_assignment(lead, owner, None, reason, detail=picked[1].name if picked else "",
                          by=by if not picked else None, now=now)
    return lead


def merge_into(lead: Lead, clean: dict[str, str], norm: dict[str, Any], *, source: str,
               by: Any = None, form: LeadForm | None = None) -> Lead:
    """Fold a duplicate submission into ``lead``: blanks filled, the submission kept as an
    activity (with everything it said), so nothing is lost."""
    for key in TEXT_FIELDS:
        if key != "notes" and clean.get(key) and not getattr(lead, key):
            setattr(lead, key, clean[key])
    for key in ("email_normalized", "phone_e164", "company_normalized"):
        if norm[key] and not getattr(lead, key):
            setattr(lead, key, norm[key])
    if lead.customer_id is None:
        lead.customer_id, lead.contact_id = match_customer(clean, norm)
    said = "; ".join(f"{k}: {v}" for k, v in clean.items() if v)
    where = f"{source} ({form.key})" if form else source
    db.session.add(LeadActivity(lead_id=lead.id, by_id=getattr(by, "id", None), kind="merged",
                                note=f"{where}: {said}"[:5000], at=utcnow()))
    lead.updated_at = utcnow()
    lead.merged = True  # type: ignore[attr-defined]
    db.session.flush()
    return lead


def _is_owner(lead: Lead, by: Any) -> bool:
    return by is not None and lead.owner_id is not None and getattr(by, "id", None) == lead.owner_id


def add_activity(lead: Lead, kind: str, note: str, *, by: Any) -> LeadActivity:
    """Log a follow-up; by the owner it resets the stale clock."""
    if kind not in ACTIVITY_KINDS:
        raise LeadError("kind", _("Choose a kind of activity."))
    note = clean_multiline(note or "")
    if not note:
        raise LeadError("note", _("Write what happened."))
    if len(note) > 5000:
        raise LeadError("note", _("At most %(n)s characters.", n=5000))
    now = utcnow()
    activity = LeadActivity(lead_id=lead.id, by_id=getattr(by, "id", None), kind=kind, note=note,
                            at=now)
    db.session.add(activity)
    if _is_owner(lead, by):
        lead.last_activity_at = now
    lead.updated_at = now
    db.session.flush()
    return activity


def change_status(lead: Lead, new: str, *, by: Any, reason: str = "") -> bool:
    """Move the lead along new -> in progress -> qualified | disqualified (reason required)."""
    old = lead.status
    if new == old:
        return False
    if new not in TRANSITIONS.get(old, ()):
        raise LeadError("status", _("A lead cannot go from %(old)s to %(new)s.", old=old, new=new))
    reason = clean_text(reason or "")
    if new == "disqualified" and not reason:
        raise LeadError("disqualify_reason", _("Say why the lead is disqualified."))
    if len(reason) > 200:
        raise LeadError("disqualify_reason", _("At most %(n)s characters.", n=200))
    if new in OPEN_STATUSES and old not in OPEN_STATUSES:
        key = dedupe_key(lead.email_normalized, lead.phone_e164, lead.company_normalized)
        twin = db.session.scalar(select(Lead.id).where(Lead.dedupe_key == key)) if key else None
        if twin is not None:
            raise LeadError("status", _("Lead #%(id)s with the same details is open; work on "
                                        "that one instead.", id=twin))
        lead.dedupe_key = key
    elif new not in OPEN_STATUSES:
        lead.dedupe_key = None
    now = utcnow()
    lead.status = new
    lead.disqualify_reason = reason if new == "disqualified" else ""
    lead.updated_at = now
    if _is_owner(lead, by):
        lead.last_activity_at = now
    note = f"{old} → {new}" + (f": {reason}" if reason else "")
    db.session.add(LeadActivity(lead_id=lead.id, by_id=getattr(by, "id", None), kind="status",
                                note=note, at=now))
    db.session.flush()
    emit(LeadStatusChanged(lead=lead, old=old, new=new, by=by))
    return True


def update_lead(lead: Lead, data: dict[str, Any], *, by: Any) -> dict[str, tuple[Any, Any]]:
    """Edit the lead's details; identity changes re-normalise and re-check duplicates."""
    merged = {k: getattr(lead, k) for k in TEXT_FIELDS}
    merged.update({k: v for k, v in data.items() if k in TEXT_FIELDS and v is not None})
    clean = clean_data(merged)
    changes = {k: (getattr(lead, k), v) for k, v in clean.items() if getattr(lead, k) != v}
    if not changes:
        return {}
    norm = normalized(clean)
    if lead.is_open and norm["dedupe_key"] != lead.dedupe_key and norm["dedupe_key"]:
        twin = db.session.scalar(select(Lead.id).where(Lead.dedupe_key == norm["dedupe_key"],
                                                       Lead.id != lead.id))
        if twin is not None:
            raise LeadError("email", _("Lead #%(id)s has the same details.", id=twin))
    for key, (_old, value) in changes.items():
        setattr(lead, key, value)
    for key in ("email_normalized", "phone_e164", "company_normalized"):
        setattr(lead, key, norm[key])
    lead.dedupe_key = norm["dedupe_key"] if lead.is_open else None
    lead.updated_at = utcnow()
    db.session.flush()
    return changes


__all__ = ["LeadError", "add_activity", "assign_lead", "change_status", "clean_data",
           "create_lead", "match_customer", "merge_into", "normalized", "update_lead"]
