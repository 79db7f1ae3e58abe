"""Templates, documents, their lines and files, the numbering counters, our company's legal
entity and customers' legal details.

Files are never rewritten: every render is a new ``DocumentFile`` row and a new file on disk
(named by its SHA-256), so a final document's files stay what was sent.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from conveyor import db, scope
from conveyor.models import Deal
from conveyor.types import UTCDateTime, utcnow

KINDS = ("contract", "invoice", "act", "offer")
LANGUAGES = ("en", "ru", "zh")
STATUSES = ("draft", "final", "sent", "cancelled")
MONEY = Numeric(14, 2)
QUANTITY = Numeric(14, 3)
RATE = Numeric(5, 2)


class Template(db.Model):
    """A Word template. Versions of one template share ``family``; a new upload is a new row
    (the old one is retired), so documents keep pointing at what they were rendered from."""

    __tablename__ = "documents_template"
    __table_args__ = (Index("ix_documents_template_kind_lang", "kind", "language", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    family: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    # builtin: the file name in the plugin's builtin/ folder; else relative to the storage folder.
    path: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Document(db.Model):
    """A numbered contract, invoice, act or offer of one deal."""

    __tablename__ = "documents_document"
    __table_args__ = (
        UniqueConstraint("number", name="uq_documents_document_number"),
        Index("ix_documents_document_deal_kind", "deal_id", "kind"),
        Index("ix_documents_document_kind_status", "kind", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"),
                                             index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents_template.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(60))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    language: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    vat_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    # Sent back for changes (by a customer or the lawyer): shown in the assistant's queue.
    changes_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    changes_note: Mapped[str] = mapped_column(Text, default="")
    # pending / ready / unavailable / failed — the PDF of the newest version.
    pdf_status: Mapped[str] = mapped_column(String(20), default="pending")
    pdf_error: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    deal: Mapped[Deal] = relationship()
    lines: Mapped[list[DocumentLine]] = relationship(
        back_populates="document", cascade="all, delete-orphan",
        order_by="DocumentLine.position")
    files: Mapped[list[DocumentFile]] = relationship(
        back_populates="document", order_by="DocumentFile.id")

    @classmethod
    def __record_rule__(cls, owner_ids: Any, user: Any) -> ColumnElement[bool]:
        """A document is visible with its deal (the deal's rule and every plugin's filters)."""
        return cls.deal_id.in_(select(Deal.id).where(scope(Deal, user)))

    @property
    def version(self) -> int:
        return max((f.version for f in self.files), default=0)

    def file(self, fmt: str) -> DocumentFile | None:
        """The newest file of this format."""
        found = [f for f in self.files if f.format == fmt]
        return found[-1] if found else None


class DocumentLine(db.Model):
    """A product or service on a document; sums are computed on the server."""

    __tablename__ = "documents_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents_document.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(10), default="service")  # product / service
    name: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY, default=Decimal("1"))
    unit: Mapped[str] = mapped_column(String(20), default="")
    price: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    vat_rate: Mapped[Decimal] = mapped_column(RATE, default=Decimal("0"))
    net: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    vat: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))

    document: Mapped[Document] = relationship(back_populates="lines")


class DocumentFile(db.Model):
    """One rendered file of one version of a document; never changed after it is written."""

    __tablename__ = "documents_file"
    __table_args__ = (UniqueConstraint("document_id", "version", "format",
                                       name="uq_documents_file_version_format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents_document.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(10))  # docx / pdf
    path: Mapped[str] = mapped_column(String(300))  # relative to the storage folder
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    document: Mapped[Document] = relationship(back_populates="files")


class Counter(db.Model):
    """The last number given per (kind, year). Incremented by an UPDATE in the transaction that
    creates the document: the row lock serialises concurrent writers and a rollback gives the
    number back, so numbers have no gaps and are never reused."""

    __tablename__ = "documents_counter"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Send(db.Model):
    """A document e-mailed to someone: the outbox row carrying it, and how it ended."""

    __tablename__ = "documents_send"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents_document.id", ondelete="CASCADE"), index=True)
    to: Mapped[str] = mapped_column(String(254))
    outbox_id: Mapped[int | None] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(12), default="queued")  # queued / sent / failed
    error: Mapped[str] = mapped_column(String(500), default="")
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Company(db.Model):
    """Our own legal entity (one row, id 1): the seller's side of every document."""

    __tablename__ = "documents_company"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    tax_id: Mapped[str] = mapped_column(String(40), default="")  # ИНН / 统一社会信用代码 / VAT no.
    kpp: Mapped[str] = mapped_column(String(9), default="")
    reg_number: Mapped[str] = mapped_column(String(40), default="")  # ОГРН / company no.
    bank_name: Mapped[str] = mapped_column(String(300), default="")
    bank_account: Mapped[str] = mapped_column(String(40), default="")
    bank_code: Mapped[str] = mapped_column(String(20), default="")  # БИК / SWIFT
    corr_account: Mapped[str] = mapped_column(String(40), default="")
    signatory_name: Mapped[str] = mapped_column(String(200), default="")
    signatory_title: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    logo_path: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LegalDetails(db.Model):
    """A customer's legal details for documents, validated by country (RU, CN, other)."""

    __tablename__ = "documents_legal"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    country: Mapped[str] = mapped_column(String(2), default="")
    legal_name: Mapped[str] = mapped_column(String(300), default="")
    inn: Mapped[str] = mapped_column(String(12), default="")
    kpp: Mapped[str] = mapped_column(String(9), default="")
    uscc: Mapped[str] = mapped_column(String(18), default="")
    tax_id: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    bank_name: Mapped[str] = mapped_column(String(300), default="")
    bank_account: Mapped[str] = mapped_column(String(40), default="")
    bank_code: Mapped[str] = mapped_column(String(20), default="")
    signatory_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @classmethod
    def __record_rule__(cls, owner_ids: Any, user: Any) -> ColumnElement[bool]:
        from conveyor.models import Customer

        return cls.customer_id.in_(select(Customer.id).where(scope(Customer, user)))


class Batch(db.Model):
    """A bulk "invoice all of these": how far its jobs got, for the progress bar."""

    __tablename__ = "documents_batch"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(10), default="en")
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


MODELS = [Batch, Template, Document, DocumentLine, DocumentFile, Counter, Send, Company,
          LegalDetails]
