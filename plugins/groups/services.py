"""Groups in SQL: saved filters become WHERE clauses, members and export rows are queries.

Nothing here loads a table into Python to filter it. Unsubscribed addresses are removed by the
export query itself (``NOT EXISTS`` against groups_unsubscribe), so the CSV export and the
webhook push — both built on :func:`export_select` — can never leak one.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import ColumnElement, Select, case, exists, false, func, or_, select
from sqlalchemy.exc import IntegrityError

from conveyor import db, scope, setting
from conveyor.calendar_bounds import check_day
from conveyor.i18n import _
from conveyor.models import COMPANY_SIZES, Contact, Customer, Deal, Stage
from conveyor.outbound import OutboundRefused, check_url
from conveyor.queries import written_limit
from conveyor.types import utcnow

from .models import KINDS, MODES, Group, GroupMember, Unsubscribe

CUSTOMER_FILTERS = ("industry", "region", "size", "owner_id", "has_open_deal", "created_from",
                    "created_to")
LEAD_FILTERS = ("industry", "region", "size", "owner_id", "status", "source", "created_from",
                "created_to")
EXPORT_COLUMNS = ("email", "name", "company", "phone", "region", "industry")


class GroupError(ValueError):
    """Input refused; ``field`` names the form field or JSON key at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def leads_enabled() -> bool:
    return current_app.extensions["conveyor"].enabled("leads")


def lead_model() -> Any:
    """The Lead model when the leads plugin is enabled (groups only *use* it), else None."""
    if not leads_enabled():
        return None
    from conveyor.plugins.leads.models import Lead

    return Lead


def entity_model(group: Group) -> Any:
    if group.kind == "leads":
        model = lead_model()
        if model is None:
            raise GroupError("kind", _("Lead groups need the leads plugin, which is disabled."))
        return model
    return Customer


# --- input ---------------------------------------------------------------------------------


def _day(value: Any, field: str) -> str:
    if isinstance(value, datetime):
        value = value.date()
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        raise GroupError(field, _("Not a valid date.")) from None
    try:
        return check_day(day).isoformat()
    except ValueError as exc:
        raise GroupError(field, str(exc)) from None


def clean_filters(kind: str, raw: dict[str, Any] | None) -> dict[str, Any]:
    """A saved filter checked against what the kind supports; empty values dropped."""
    allowed = LEAD_FILTERS if kind == "leads" else CUSTOMER_FILTERS
    out: dict[str, Any] = {}
    for key, value in (raw or {}).items():
        if value in (None, ""):
            continue
        if key not in allowed:
            raise GroupError(key, _("This filter does not apply to this kind of group."))
        if key in ("industry", "region", "source"):
            text = " ".join(str(value).split())
            if len(text) > 80:
                raise GroupError(key, _("At most %(n)s characters.", n=80))
            out[key] = text
        elif key == "size":
            if value not in COMPANY_SIZES:
                raise GroupError(key, _("Not a valid choice."))
            out[key] = value
        elif key == "status":
            from conveyor.plugins.leads.models import STATUSES

            if value not in STATUSES:
                raise GroupError(key, _("Not a valid choice."))
            out[key] = value
        elif key == "owner_id":
            if isinstance(value, bool) or not str(value).isdigit() or not 0 < int(value) < 2**31:
                raise GroupError(key, _("Not a valid choice."))
            out[key] = int(value)
        elif key == "has_open_deal":
            if not isinstance(value, bool):
                raise GroupError(key, _("Not a valid choice."))
            out[key] = value
        else:
            out[key] = _day(value, key)
    if out.get("created_from") and out.get("created_to") and \
            out["created_to"] < out["created_from"]:
        raise GroupError("created_to", _("The end is before the start."))
    return out


def clean_webhook_url(url: str | None) -> str:
    url = (url or "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
        raise GroupError("webhook_url", _("Give an http:// or https:// address."))
    try:
        check_url(url)  # refused now, not only when called: internal addresses, no DNS
    except OutboundRefused as exc:
        raise GroupError("webhook_url", exc.public) from None
    return url


def save_group(group: Group | None, data: dict[str, Any], *, by: Any) -> Group:
    """Create or update a group from checked input; the kind of an existing group is fixed."""
    name = " ".join(str(data.get("name") or "").split())
    if not name or len(name) > 200:
        raise GroupError("name", _("Give a name of at most 200 characters."))
    kind = group.kind if group is not None else data.get("kind", "customers")
    if kind not in KINDS:
        raise GroupError("kind", _("Not a valid choice."))
    if kind == "leads" and not leads_enabled():
        raise GroupError("kind", _("Lead groups need the leads plugin, which is disabled."))
    mode = data.get("mode", group.mode if group else "filter")
    if mode not in MODES:
        raise GroupError("mode", _("Not a valid choice."))
    filters = clean_filters(kind, data.get("filters")) if mode == "filter" else {}
    url = clean_webhook_url(data.get("webhook_url"))
    if group is None:
        group = Group(kind=kind, created_by_id=by.id, created_at=utcnow())
        db.session.add(group)
    group.name, group.mode, group.filters, group.webhook_url = name, mode, filters, url
    group.updated_at = utcnow()
    db.session.flush()
    return group


# --- membership in SQL -----------------------------------------------------------------------


def _bounds(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.min, UTC)


def filter_criteria(model: Any, filters: dict[str, Any]) -> list[ColumnElement[bool]]:
    """A saved filter as SQL criteria on Customer or Lead."""
    crit: list[ColumnElement[bool]] = []
    for key in ("industry", "region", "size", "owner_id", "status", "source"):
        if key in filters:
            crit.append(getattr(model, key) == filters[key])
    if "created_from" in filters:
        crit.append(model.created_at >= _bounds(filters["created_from"]))
    if "created_to" in filters:
        crit.append(model.created_at < _bounds(filters["created_to"]) + timedelta(days=1))
    if "has_open_deal" in filters and model is Customer:
        open_deal = exists().where(Deal.customer_id == Customer.id, Deal.stage_id == Stage.id,
                                   Stage.is_won.is_(False), Stage.is_lost.is_(False))
        crit.append(open_deal if filters["has_open_deal"] else ~open_deal)
    return crit


def member_criteria(group: Group, user: Any) -> tuple[Any, list[ColumnElement[bool]]]:
    """(model, criteria): the group's members that ``user`` may see."""
    model = entity_model(group)
    crit = [scope(model, user)]
    if group.mode == "manual":
        column = GroupMember.lead_id if group.kind == "leads" else GroupMember.customer_id
        crit.append(model.id.in_(select(column).where(GroupMember.group_id == group.id,
                                                      column.is_not(None))))
    else:
        crit += filter_criteria(model, group.filters or {})
    return model, crit


def stripped_phone(column: Any) -> Any:
    """A phone column without spaces, dashes, dots and brackets: +7 (495) 1-2 -> +74951 2."""
    for ch in (" ", "-", "(", ")", "."):
        column = func.replace(column, ch, "")
    return column


def strip_phone(value: str) -> str:
    """The same as :func:`stripped_phone`, in Python, for marking a page of rows."""
    for ch in (" ", "-", "(", ")", "."):
        value = value.replace(ch, "")
    return value


def _keys(group: Group) -> tuple[Any, Any, Any]:
    """(email key, phone key, row id) columns that unsubscribes are matched against."""
    if group.kind == "leads":
        lead = lead_model()
        phone = getattr(lead, "phone_e164", None)
        return func.lower(func.trim(lead.email)), phone if phone is not None else \
            stripped_phone(lead.phone), lead.id
    return func.lower(func.trim(Contact.email)), stripped_phone(Contact.phone), Contact.id


def unsubscribed(email_key: Any, phone_key: Any) -> ColumnElement[bool]:
    return or_(exists().where(Unsubscribe.email == email_key),
               exists().where(Unsubscribe.phone == phone_key))


def rows_select(group: Group, user: Any) -> tuple[Select[Any], Any, Any]:
    """Every address row of the group (unsubscribed included), its id column, its flag."""
    model, crit = member_criteria(group, user)
    email_key, phone_key, row_id = _keys(group)
    flag = unsubscribed(email_key, phone_key)
    if group.kind == "leads":
        query = select(model.id.label("row_id"), model.email, model.name,
                       model.company, model.phone, model.region, model.industry)
        query = query.where(*crit, or_(model.email != "", model.phone != ""))
    else:
        query = (select(Contact.id.label("row_id"), Contact.email, Contact.name,
                        Customer.name.label("company"), Contact.phone, Customer.region,
                        Customer.industry)
                 .join(Customer, Contact.customer_id == Customer.id)
                 .where(*crit, or_(Contact.email != "", Contact.phone != "")))
    return query, row_id, flag


def export_select(group: Group, user: Any) -> tuple[Select[Any], Any]:
    """The rows a mailing service receives: unsubscribed addresses removed in SQL."""
    query, row_id, flag = rows_select(group, user)
    return query.where(~flag), row_id


def iter_export_batches(group: Group, user: Any, batch: int = 1000
                        ) -> Iterator[list[dict[str, str]]]:
    """Export rows in id order, ``batch`` at a time (keyset): constant memory for any size."""
    query, row_id = export_select(group, user)
    after = 0
    while True:
        rows = db.session.execute(query.where(row_id > after).order_by(row_id)
                                  .limit(written_limit(batch))).all()
        if not rows:
            return
        after = rows[-1].row_id
        yield [{c: getattr(r, c) or "" for c in EXPORT_COLUMNS} for r in rows]
        if len(rows) < batch:
            return


def export_counts(group: Group, user: Any) -> tuple[int, int]:
    """(rows exported, rows skipped as unsubscribed) in one query."""
    query, _row_id, flag = rows_select(group, user)
    sub = query.add_columns(flag.label("off")).subquery()
    total, off = db.session.execute(select(func.count(), func.coalesce(
        func.sum(case((sub.c.off, 1), else_=0)), 0)).select_from(sub)).one()
    return int(total) - int(off), int(off)


# --- manual members --------------------------------------------------------------------------


def add_member(group: Group, entity_id: int, *, by: Any) -> bool:
    """Add a visible customer/lead to a manual group; False if it was already there."""
    if group.mode != "manual":
        raise GroupError("mode", _("Members of a filter group follow its filter."))
    model = entity_model(group)
    visible = db.session.scalar(select(model.id).where(model.id == entity_id,
                                                       scope(model, by)))
    if visible is None:
        field = "lead_id" if group.kind == "leads" else "customer_id"
        raise GroupError(field, _("No such record."))
    key = {"lead_id" if group.kind == "leads" else "customer_id": entity_id}
    if db.session.scalar(select(GroupMember.id).filter_by(group_id=group.id, **key)):
        return False
    try:
        with db.session.begin_nested():
            db.session.add(GroupMember(group_id=group.id, added_by_id=by.id, **key))
    except IntegrityError:  # added by someone else at the same moment
        return False
    return True


def remove_member(group: Group, entity_id: int) -> bool:
    column = GroupMember.lead_id if group.kind == "leads" else GroupMember.customer_id
    member = db.session.scalar(select(GroupMember).where(GroupMember.group_id == group.id,
                                                         column == entity_id))
    if member is None:
        return False
    db.session.delete(member)
    return True


def member_page(group: Group, user: Any, before: int | None, size: int
                ) -> tuple[list[Any], dict[int, list[dict[str, Any]]], int | None]:
    """A page of members (newest first), their addresses with an unsubscribed mark, the cursor.

    Three queries whatever the page size: members, their contacts, the unsubscribes among them.
    """
    model, crit = member_criteria(group, user)
    query = select(model).where(*crit)
    if before is not None:
        query = query.where(model.id < before)
    items = list(db.session.scalars(query.order_by(model.id.desc()).limit(written_limit(size + 1))))
    next_before = items[size - 1].id if len(items) > size else None
    items = items[:size]
    addresses: dict[int, list[dict[str, Any]]] = {m.id: [] for m in items}
    if group.kind == "leads":
        for lead in items:
            addresses[lead.id].append({"email": lead.email, "name": lead.name,
                                       "phone": lead.phone,
                                       "phone_key": getattr(lead, "phone_e164", "") or
                                       strip_phone(lead.phone)})
    elif items:
        for contact in db.session.scalars(select(Contact).where(
                Contact.customer_id.in_(list(addresses))).order_by(Contact.id)):
            addresses[contact.customer_id].append({
                "email": contact.email, "name": contact.name, "phone": contact.phone,
                "phone_key": strip_phone(contact.phone)})
    _mark(addresses)
    return items, addresses, next_before


def _mark(addresses: dict[int, list[dict[str, Any]]]) -> None:
    flat = [a for rows in addresses.values() for a in rows]
    emails = {a["email"].strip().lower() for a in flat if a["email"]}
    phones = {a["phone_key"] for a in flat if a["phone_key"]}
    off_emails: set[str] = set()
    off_phones: set[str] = set()
    if emails or phones:
        for email, phone in db.session.execute(select(Unsubscribe.email, Unsubscribe.phone).where(
                or_(Unsubscribe.email.in_(emails) if emails else false(),
                    Unsubscribe.phone.in_(phones) if phones else false()))):
            off_emails.add(email or "")
            off_phones.add(phone or "")
    for a in flat:
        a["unsubscribed"] = bool(a["email"] and a["email"].strip().lower() in off_emails) or \
            bool(a["phone_key"] and a["phone_key"] in off_phones)
        a.pop("phone_key")


# --- unsubscribes ----------------------------------------------------------------------------


def normalize_email(value: str | None) -> str:
    return (value or "").strip().lower()


def normalize_phone(value: str | None) -> str:
    """E.164, reading national numbers in ``groups.default_region``; GroupError if invalid."""
    raw = (value or "").strip()
    if not raw:
        return ""
    import phonenumbers  # loaded by the first number read, not by every worker

    try:
        number = phonenumbers.parse(raw, (setting("groups.default_region") or "").upper() or None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise GroupError("phone", _("Not a valid phone number."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def unsubscribe(email: str | None, phone: str | None, reason: str = "", *, by: Any = None
                ) -> list[Unsubscribe]:
    """Mark addresses unsubscribed (idempotent): returns the rows added, [] if all were."""
    email_n = normalize_email(email)
    if email_n and ("@" not in email_n or len(email_n) > 254 or " " in email_n):
        raise GroupError("email", _("Enter an email address such as name@example.com."))
    phone_n = normalize_phone(phone)
    if not email_n and not phone_n:
        raise GroupError("email", _("Give an email address or a phone number."))
    reason = " ".join((reason or "").split())[:200]
    added = []
    for column, value in ((Unsubscribe.email, email_n), (Unsubscribe.phone, phone_n)):
        if not value or db.session.scalar(select(Unsubscribe.id).where(column == value)):
            continue
        row = Unsubscribe(reason=reason, at=utcnow(), by_id=getattr(by, "id", None),
                          **{column.key: value})
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except IntegrityError:  # the same address, unsubscribed concurrently
            continue
        added.append(row)
    return added

