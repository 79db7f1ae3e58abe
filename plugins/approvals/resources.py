"""Approvable resources: what plugins register (``register_approvables``), and the plugin's own
"deal" resource — a deal's commercial terms, which the discount rule sends to the manager."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import select

from conveyor import db, scoped
from conveyor.i18n import _l
from conveyor.models import Deal

from .models import MANAGER, ROLE, USER, DealDiscount

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


@dataclass(frozen=True)
class Approver:
    """An approver rule: any holder of a role, a named user, or the requester's manager."""

    rule: str
    role: str | None = None
    user_id: int | None = None

    @classmethod
    def of_role(cls, role: str) -> Approver:
        return cls(ROLE, role=role)

    @classmethod
    def of_user(cls, user_id: int) -> Approver:
        return cls(USER, user_id=user_id)

    @classmethod
    def manager(cls) -> Approver:
        return cls(MANAGER)


@dataclass(frozen=True)
class Approvable:
    """A kind of record that can be sent for approval (see ``register_approvables``)."""

    name: str
    label: Any
    load: Callable[[int, Any], Any]
    version: Callable[[Any], str]
    title: Callable[[Any], str]
    url: Callable[[Any], str]
    deal_id: Callable[[Any], int | None] = field(default=lambda record: None)
    approver: Approver = field(default_factory=lambda: Approver(MANAGER))
    # How a request's version reads to a person (amounts, percentages), or None: the version is
    # shown as it is stored (a sha256 says nothing more formatted).
    terms: Callable[[str], list[Term] | None] = field(default=lambda version: None)


@dataclass(frozen=True)
class Term:
    """One labelled figure of a version, formatted by the page in the reader's locale: an
    ``amount`` in ``currency`` (money) or a ``ratio`` (a percentage, 0.15 for 15 %)."""

    label: Any
    amount: Decimal | None = None
    currency: str | None = None
    ratio: Decimal | None = None

    @property
    def digits(self) -> int:
        """Decimals to show of the percentage, as many as it has: "15 %", "12.5 %", "7.25 %"."""
        if self.ratio is None:
            return 0
        exponent = (self.ratio * 100).normalize().as_tuple().exponent
        return max(0, -exponent) if isinstance(exponent, int) else 0


def approvables(app: Any = None) -> dict[str, Approvable]:
    """The registered resources by name, collected once per app."""
    app = app or current_app
    state = app.extensions["conveyor"]
    found = app.extensions.get("approvals_resources")
    if found is None:
        found = {}
        for group in state.hook.register_approvables():
            for item in group or ():
                if item.name in found or not set(item.name) <= NAME_CHARS:
                    raise ValueError(f"approvable {item.name!r} is declared twice or misnamed")
                found[item.name] = item
        app.extensions["approvals_resources"] = found
    return found  # type: ignore[no-any-return]


# --- the "deal" resource -------------------------------------------------------------------------


def discount_of(deal_id: int) -> Decimal:
    return db.session.scalar(select(DealDiscount.percent).where(
        DealDiscount.deal_id == deal_id)) or Decimal("0")


def load_deal(record_id: int, user: Any) -> Deal | None:
    if user is None:
        return db.session.get(Deal, record_id)
    return db.session.scalar(scoped(Deal, user).where(Deal.id == record_id))


def deal_terms(deal: Deal, percent: Decimal | None = None) -> str:
    """The deal's version for approvals: the terms a manager agrees to. Moving the deal along
    the pipeline keeps them; a new amount or discount needs approving again. ``percent``: the
    discount when the caller read it already."""
    percent = discount_of(deal.id) if percent is None else percent
    return f"{Decimal(deal.amount):.2f} {deal.currency} -{Decimal(percent):.2f}%"


_TERMS = re.compile(r"(-?\d+\.\d{2}) ([A-Z]{3}) -(\d+\.\d{2})%")


def read_deal_terms(version: str) -> list[Term] | None:
    """:func:`deal_terms`' string ("1095500.00 CNY -15.00%") as the amount and the discount,
    for the request's page to format in the reader's locale; None for anything else."""
    found = _TERMS.fullmatch(version or "")
    if found is None:
        return None
    amount, currency, percent = found.groups()
    return [Term(_l("Amount"), amount=Decimal(amount), currency=currency),
            Term(_l("Discount"), ratio=Decimal(percent) / 100)]


DEAL = Approvable(
    name="deal", label=_l("Deal terms (amount and discount)"), load=load_deal,
    version=deal_terms, title=lambda deal: deal.title, url=lambda deal: f"/deals/{deal.id}",
    deal_id=lambda deal: deal.id, approver=Approver(MANAGER), terms=read_deal_terms)
