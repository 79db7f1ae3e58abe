"""The calls plugin's write operations, shared by the web screens, the API and the demo.

Views validate the shape of input (forms, schemas); these functions check what needs the
database (the customer is visible, the contact is theirs, the queue item is open) and raise
:class:`CallError` before anything is written, so a bad request never leaves half a call.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, select

from conveyor import can, colleagues, db, emit, in_company_language, post_timeline, scope
from conveyor.i18n import _
from conveyor.models import Contact, Customer
from conveyor.queries import written_limit
from conveyor.types import utcnow

from .events import CallLogged
from .models import RESULTS, Call, QueueItem

MAX_PRODUCTS = 20
PRODUCT_LENGTH = 100
LEAD_FIELDS = ("company", "name", "email", "phone", "products", "notes")


class CallError(ValueError):
    """Input the database refuses: ``field`` names the form field or JSON key at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def clean_products(raw: str | list[str] | None) -> list[str]:
    """Products of interest as a clean list; text input is split on commas and new lines."""
    if raw is None:
        return []
    items = raw.replace("\n", ",").split(",") if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for item in items:
        name = " ".join(str(item).split())
        if name and name.casefold() not in {p.casefold() for p in out}:
            out.append(name)
    if len(out) > MAX_PRODUCTS:
        raise CallError("products", _("At most %(n)s products.", n=MAX_PRODUCTS))
    if any(len(p) > PRODUCT_LENGTH for p in out):
        raise CallError("products", _("A product name is at most %(n)s characters.",
                                          n=PRODUCT_LENGTH))
    return out


def visible_calls(user: Any) -> ColumnElement[bool]:
    """Calls ``user`` may see: the record scope, and only their own without calls.view_team."""
    criteria = scope(Call, user)
    if not can(user, "calls.view_team"):
        criteria = and_(criteria, Call.owner_id == user.id)
    return criteria


def visible_queue(user: Any) -> ColumnElement[bool]:
    criteria = scope(QueueItem, user)
    if not can(user, "calls.view_team"):
        criteria = and_(criteria, QueueItem.owner_id == user.id)
    return criteria


def visible_customer(customer_id: int | None, user: Any) -> Customer | None:
    """The customer if ``user`` may see it; CallError otherwise (never a hint it exists)."""
    if customer_id is None:
        return None
    customer = db.session.scalar(select(Customer).where(Customer.id == customer_id)
                                 .where(scope(Customer, user, "calls.log")))
    if customer is None:
        raise CallError("customer_id", _("No such customer."))
    return customer


def callable_customer(customer_id: int | None, queue_item: QueueItem | None,
                      user: Any) -> Customer | None:
    """The customer ``user`` may log a call to: a visible one, or the one of an open item of
    their queue (whoever filled the queue could see it: the item grants the call)."""
    if queue_item is not None and customer_id is not None and \
            queue_item.customer_id == customer_id:
        return db.session.get(Customer, customer_id)
    return visible_customer(customer_id, user)


def open_queue_item(item_id: int | None, user: Any) -> QueueItem | None:
    """An open item of ``user``'s own queue, or CallError."""
    return _open_queue_item(item_id, user)


def _open_queue_item(item_id: int | None, user: Any) -> QueueItem | None:
    if item_id is None:
        return None
    item = db.session.scalar(select(QueueItem).where(
        QueueItem.id == item_id, QueueItem.owner_id == user.id, QueueItem.done_at.is_(None)))
    if item is None:
        raise CallError("queue_item_id", _("This queue item is not open in your queue."))
    return item


def log_call(data: dict[str, Any], *, by: Any) -> Call:
    """Record a call by ``by``; a call back books a queue item, interest creates a lead.

    ``data``: result, customer_id, contact_id, name, phone, email, company, call_back_at (aware
    datetime), interested, products (list or text), notes, queue_item_id. Flushes, never commits.
    """
    result = data.get("result")
    if result not in RESULTS:
        raise CallError("result", _("Choose a result."))
    queue_item = _open_queue_item(data.get("queue_item_id"), by)
    customer = callable_customer(data.get("customer_id"), queue_item, by)
    contact = None
    if data.get("contact_id") is not None:
        if customer is None:
            raise CallError("contact_id", _("A contact needs its customer."))
        contact = db.session.scalar(select(Contact).where(
            Contact.id == data["contact_id"], Contact.customer_id == customer.id))
        if contact is None:
            raise CallError("contact_id", _("This contact does not belong to the customer."))
    text = {k: " ".join(str(data.get(k) or "").split()) for k in ("name", "phone", "company")}
    text["email"] = str(data.get("email") or "").strip().lower()
    if customer is None and not any(text.values()):
        raise CallError("name", _("Choose a customer or give the name, company or phone called."))
    call_back_at: datetime | None = data.get("call_back_at")
    if result == "call_back" and call_back_at is None:
        raise CallError("call_back_at", _("Say when to call back."))
    if call_back_at is not None and call_back_at.tzinfo is None:
        raise CallError("call_back_at", _("The time needs a time zone."))
    if result != "call_back":
        call_back_at = None
    elif call_back_at is not None:  # stored in UTC: the call answers with what was stored
        call_back_at = call_back_at.astimezone(UTC)
    interested = result == "interested" or (result == "call_back" and bool(data.get("interested")))
    products = clean_products(data.get("products"))
    if contact is not None:
        text = {"name": text["name"] or contact.name, "phone": text["phone"] or contact.phone,
                "email": text["email"] or contact.email, "company": text["company"]}
    if customer is not None and not text["company"]:
        text["company"] = customer.name

    call = Call(customer_id=customer.id if customer else None,
                contact_id=contact.id if contact else None, owner_id=by.id, result=result,
                call_back_at=call_back_at, interested=interested, products=products,
                notes=str(data.get("notes") or "").strip(), created_at=utcnow(), **text)
    db.session.add(call)
    db.session.flush()
    if queue_item is not None:
        queue_item.done_at = call.created_at
        queue_item.call_id = call.id
    if call_back_at is not None:
        db.session.add(QueueItem(owner_id=by.id, customer_id=call.customer_id, name=call.name,
                                 phone=call.phone, company=call.company, due_at=call_back_at,
                                 notes=call.notes, priority=queue_item.priority if queue_item
                                 else 0, created_by_id=by.id))
    if interested:
        call.lead_id = _create_lead(call, customer, by).id
    if customer is not None:
        post_timeline("call.logged", _timeline_message(call), customer=customer, by=by,
                      data={"call_id": call.id, "result": result, "products": products,
                            "lead_id": call.lead_id})
    db.session.flush()
    emit(CallLogged(call=call, customer=customer, interested=interested, by=by))
    return call


def _create_lead(call: Call, customer: Customer | None, by: Any) -> Any:
    """A lead for the interest found, through the leads plugin's public service."""
    from conveyor.plugins.leads.services import LeadError, create_lead

    data: dict[str, Any] = {"company": call.company, "name": call.name, "email": call.email,
                            "phone": call.phone, "notes": call.notes,
                            "products": ", ".join(call.products)}
    if customer is not None:
        data.update(customer_id=customer.id, industry=customer.industry, region=customer.region,
                    size=customer.size)
    try:
        return create_lead({k: v for k, v in data.items() if v not in ("", None)},
                           source="call", by=by)
    except LeadError as exc:  # the caller rolls back: no call without its lead
        raise CallError(exc.field if exc.field in LEAD_FIELDS else "notes", exc.message) from exc


def _timeline_message(call: Call) -> str:
    """The result in the company's language (a timeline entry is read by everyone), then the
    products and notes as typed."""
    from .forms import RESULT_LABELS

    label = RESULT_LABELS.get(call.result)
    parts = [in_company_language(label) if label is not None else call.result]
    if call.products:
        parts.append(", ".join(call.products))
    if call.notes:
        parts.append(call.notes[:200])
    return " — ".join(parts)


def add_queue_item(data: dict[str, Any], *, by: Any) -> QueueItem:
    """Put someone in a call queue: ``by``'s own, or a visible colleague's with calls.view_team."""
    owner_id = data.get("owner_id") or by.id
    if owner_id != by.id:
        from conveyor.models import User

        visible = db.session.scalar(select(User.id).where(User.id == owner_id).where(
            User.id.in_(_owner_ids(by))))
        if visible is None or not can(by, "calls.view_team"):
            raise CallError("owner_id", _("You cannot fill this person's queue."))
    customer = visible_customer(data.get("customer_id"), by)
    text = {k: " ".join(str(data.get(k) or "").split()) for k in ("name", "phone", "company")}
    if customer is None and not any(text.values()):
        raise CallError("name", _("Choose a customer or give the name, company or phone to call."))
    due_at = data.get("due_at")
    if due_at is not None and due_at.tzinfo is None:
        raise CallError("due_at", _("The time needs a time zone."))
    last = db.session.scalar(select(QueueItem.position).where(
        QueueItem.owner_id == owner_id, QueueItem.done_at.is_(None))
        .order_by(QueueItem.position.desc()).limit(1))
    item = QueueItem(owner_id=owner_id, customer_id=customer.id if customer else None,
                     company=text["company"] or (customer.name if customer else ""),
                     name=text["name"], phone=text["phone"],
                     notes=str(data.get("notes") or "").strip(), due_at=due_at,
                     priority=int(data.get("priority") or 0), position=(last or 0) + 1,
                     created_by_id=by.id)
    db.session.add(item)
    db.session.flush()
    return item


def _owner_ids(user: Any) -> Any:
    """User ids within ``user``'s record scope (all users when the scope is all)."""
    from conveyor.models import User

    return colleagues(user, active_only=False).with_only_columns(User.id).order_by(None)


def skip_queue_item(item: QueueItem) -> None:
    """Take an item off the queue without a call (a wrong number, a duplicate)."""
    item.done_at = utcnow()


def queue_order() -> list[Any]:
    """Most urgent first: higher priority, earlier due time (undated last), queue position."""
    return [QueueItem.priority.desc(), QueueItem.due_at.is_(None), QueueItem.due_at,
            QueueItem.position, QueueItem.id]


def my_queue(user: Any, *, limit: int = 20, now: datetime | None = None
             ) -> tuple[list[QueueItem], list[QueueItem]]:
    """Open items of ``user``'s own queue: those due now (or undated), and those due later."""
    now = now or utcnow()
    base = select(QueueItem).where(QueueItem.owner_id == user.id, QueueItem.done_at.is_(None))
    due = list(db.session.scalars(base.where(
        (QueueItem.due_at.is_(None)) | (QueueItem.due_at <= now)).order_by(*queue_order())
        .limit(written_limit(limit))))
    later = list(db.session.scalars(base.where(QueueItem.due_at > now)
                                    .order_by(QueueItem.due_at, QueueItem.id)
                                    .limit(written_limit(limit))))
    return due, later
