"""Companies the team sells to and the people who work there."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, ColumnElement, ForeignKey, Index, String, Text, exists, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from .deals import Deal
    from .users import User

COMPANY_SIZES = ("1-10", "11-50", "51-200", "201-1000", "1000+")


class Customer(db.Model):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_owner_name", "owner_id", "name"),
        Index("ix_customers_name", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    industry: Mapped[str] = mapped_column(String(80), default="")
    region: Mapped[str] = mapped_column(String(80), default="")
    size: Mapped[str] = mapped_column(String(20), default="")
    tax_id: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    owner: Mapped[User | None] = relationship()
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="Contact.id"
    )
    deals: Mapped[list[Deal]] = relationship(back_populates="customer", order_by="Deal.id")

    def __repr__(self) -> str:
        return f"<Customer {self.id} {self.name!r}>"


class Contact(db.Model):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str] = mapped_column(String(120), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    decision_maker: Mapped[bool] = mapped_column(Boolean, default=False)
    # The language the contact reads (one of the app's ``languages``; "" not known): documents
    # and e-mails to the contact are in it.
    language: Mapped[str] = mapped_column(String(10), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="contacts")

    # The rule below depends on the owners alone (the user's id and record scope): statements
    # built with it may be kept per user (``permissions.scoped_statement``).
    __record_rule_by_owners__ = True

    @classmethod
    def __record_rule__(cls, owner_ids: Any, user: Any) -> ColumnElement[bool]:
        """A contact is visible with its customer: checked on the contact's own customer (one
        primary-key lookup), not against a list of every customer the user may see — SQLite
        built that list (4k customers for a seller at 100k) for each statement, ~1 ms, when a
        search or a card needs a handful of contacts. One owner (a seller's own records) is one
        comparison: a one-item IN list is re-rendered into the SQL on every run."""
        owners = (Customer.owner_id == owner_ids[0]
                  if isinstance(owner_ids, list) and len(owner_ids) == 1
                  else Customer.owner_id.in_(owner_ids))
        return exists(select(1).where(Customer.id == cls.customer_id, owners))
