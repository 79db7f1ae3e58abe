"""Leads, the web forms and rules that capture and route them, and their visible history.

``leads_lead.dedupe_key`` is UNIQUE: it holds the strongest identity of an *open* lead
("e:<email>", else "p:<E.164 phone>", else "c:<normalised company>") and is cleared when the lead
is closed. Two identical posts racing each other compute the same key, so the database lets one
insert through and the other merges into it — no application lock is needed.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from conveyor import can, db
from conveyor.models import User
from conveyor.types import UTCDateTime, utcnow

STATUSES = ("new", "in_progress", "qualified", "disqualified", "converted")
OPEN_STATUSES = ("new", "in_progress", "qualified")
STRATEGIES = ("round_robin", "least_loaded")
FIELD_NAMES = ("company", "name", "email", "phone", "industry", "region", "size", "notes",
               "products")
# Column limits, shared by the models, the validators and the import.
LIMITS = {"company": 200, "name": 200, "email": 254, "phone": 40, "industry": 80, "region": 80,
          "size": 20, "notes": 5000, "products": 500, "tax_id": 40, "source": 80}


class Lead(db.Model):
    __tablename__ = "leads_lead"
    __table_args__ = (
        Index("ix_leads_lead_owner_status", "owner_id", "status"),
        Index("ix_leads_lead_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company: Mapped[str] = mapped_column(String(200), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    email_normalized: Mapped[str] = mapped_column(String(254), default="", index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    phone_e164: Mapped[str] = mapped_column(String(20), default="", index=True)
    company_normalized: Mapped[str] = mapped_column(String(200), default="", index=True)
    tax_id: Mapped[str] = mapped_column(String(40), default="")
    industry: Mapped[str] = mapped_column(String(80), default="")
    region: Mapped[str] = mapped_column(String(80), default="")
    size: Mapped[str] = mapped_column(String(20), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    products: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(80), default="", index=True)
    form_id: Mapped[int | None] = mapped_column(ForeignKey("leads_form.id", ondelete="SET NULL"))
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads_import.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="new")
    disqualify_reason: Mapped[str] = mapped_column(String(200), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    dedupe_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The current owner's last follow-up (activity or status change); reset on reassignment.
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # NULL while a web capture waits for the intake (dedupe, linking, rules): see intake.py.
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id], lazy="raise_on_sql")
    form: Mapped[LeadForm | None] = relationship(lazy="raise_on_sql")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def label(self) -> str:
        return self.company or self.name or self.email or self.phone or f"#{self.id}"

    @classmethod
    def __record_rule__(cls, owner_ids: Any, user: Any) -> ColumnElement[bool]:
        """Own/team leads; whoever may assign also sees the unassigned ones, to assign them."""
        mine = cls.owner_id.in_(owner_ids)
        if can(user, "leads.assign"):
            return or_(mine, cls.owner_id.is_(None))
        return mine

    def __repr__(self) -> str:
        return f"<Lead {self.id} {self.label!r}>"


class LeadForm(db.Model):
    """A capture form on the company website, posting to ``/public/leads/<key>``."""

    __audit__ = "leads_form"  # changes recorded in the audit trail (conveyor.audit)
    __tablename__ = "leads_form"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(80), default="")
    # [{"name": "email", "required": true}, ...] in display order.
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    thank_you_url: Mapped[str] = mapped_column(String(500), default="")
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("leads_rule.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    rule: Mapped[LeadRule | None] = relationship()

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in self.fields or () if f.get("name") in FIELD_NAMES]

    @property
    def required(self) -> list[str]:
        return [f["name"] for f in self.fields or () if f.get("required")]


class LeadRule(db.Model):
    """Automatic assignment: which leads (all criteria must match; empty = any) go to whom."""

    __audit__ = "leads_rule"  # changes recorded in the audit trail (conveyor.audit)
    __audit_skip__ = ("rr_cursor",)  # moved by every assignment
    __tablename__ = "leads_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=100)
    # Comma-separated values, compared case-insensitively; empty matches anything.
    industry: Mapped[str] = mapped_column(String(300), default="")
    region: Mapped[str] = mapped_column(String(300), default="")
    size: Mapped[str] = mapped_column(String(120), default="")
    source: Mapped[str] = mapped_column(String(300), default="")
    # Local hours [hour_from, hour_to) in the default time zone; wraps past midnight.
    hour_from: Mapped[int | None] = mapped_column(Integer)
    hour_to: Mapped[int | None] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(20), default="round_robin")
    rr_cursor: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sellers: Mapped[list[LeadRuleSeller]] = relationship(
        back_populates="rule", cascade="all, delete-orphan", order_by="LeadRuleSeller.user_id")


class LeadRuleSeller(db.Model):
    __tablename__ = "leads_rule_seller"
    __table_args__ = (UniqueConstraint("rule_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("leads_rule.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    rule: Mapped[LeadRule] = relationship(back_populates="sellers")


class LeadAssignment(db.Model):
    """Every change of a lead's owner: who, from whom, why, by whom, when. Shown on the card."""

    __tablename__ = "leads_assignment"
    __table_args__ = (Index("ix_leads_assignment_lead_at", "lead_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads_lead.id", ondelete="CASCADE"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    previous_owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(40))  # rule | manual | stale | sweep | import
    detail: Mapped[str] = mapped_column(String(300), default="")
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LeadActivity(db.Model):
    """Follow-up and history: notes, calls, status changes, merges of duplicate submissions."""

    __tablename__ = "leads_activity"
    __table_args__ = (Index("ix_leads_activity_lead_at", "lead_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads_lead.id", ondelete="CASCADE"))
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LeadImport(db.Model):
    """One run of the lead processor: parse and preview, then import; progress is polled."""

    __tablename__ = "leads_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(80), default="")
    filename: Mapped[str] = mapped_column(String(255), default="")
    encoding: Mapped[str] = mapped_column(String(20), default="")
    # parsing -> ready -> importing -> done; or failed / cancelled
    status: Mapped[str] = mapped_column(String(20), default="parsing")
    owner_mode: Mapped[str] = mapped_column(String(10), default="rules")  # rules | user | none
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    valid_rows: Mapped[int] = mapped_column(Integer, default=0)
    error_rows: Mapped[int] = mapped_column(Integer, default=0)
    merge_rows: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    merged: Mapped[int] = mapped_column(Integer, default=0)
    assigned: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def percent(self) -> int:
        if self.status in ("parsing", "ready"):
            total = self.total_rows or 1
            return min(100, int(100 * self.processed / total))
        if self.status == "importing":
            total = self.valid_rows or 1
            return min(100, int(100 * (self.imported + self.assigned) / (2 * total)))
        return 100

    @classmethod
    def __record_rule__(cls, owner_ids: Any, user: Any) -> ColumnElement[bool]:
        return cls.created_by_id.in_(owner_ids)


class LeadImportRow(db.Model):
    """A parsed row staged for preview; valid rows become leads in one INSERT ... SELECT."""

    __tablename__ = "leads_import_row"
    __table_args__ = (Index("ix_leads_import_row_import_row", "import_id", "row_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("leads_import.id", ondelete="CASCADE"))
    row_no: Mapped[int] = mapped_column(Integer)
    company: Mapped[str] = mapped_column(String(200), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    email_normalized: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    phone_e164: Mapped[str] = mapped_column(String(20), default="")
    company_normalized: Mapped[str] = mapped_column(String(200), default="")
    tax_id: Mapped[str] = mapped_column(String(40), default="")
    industry: Mapped[str] = mapped_column(String(80), default="")
    region: Mapped[str] = mapped_column(String(80), default="")
    size: Mapped[str] = mapped_column(String(20), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    products: Mapped[str] = mapped_column(String(500), default="")
    dedupe_key: Mapped[str | None] = mapped_column(String(300))
    customer_id: Mapped[int | None] = mapped_column(Integer)
    contact_id: Mapped[int | None] = mapped_column(Integer)
    merge_lead_id: Mapped[int | None] = mapped_column(Integer)
    errors: Mapped[str] = mapped_column(Text, default="")  # one "field: message" per line


MODELS = [LeadRule, LeadRuleSeller, LeadForm, LeadImport, Lead, LeadAssignment, LeadActivity,
          LeadImportRow]


def open_criteria() -> ColumnElement[bool]:
    return Lead.status.in_(OPEN_STATUSES)


def unassigned_open() -> ColumnElement[bool]:
    return and_(Lead.owner_id.is_(None), open_criteria())

