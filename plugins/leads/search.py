"""Leads in the search box: found by company, person, e-mail, tax id or phone (any format),
within the lead record rule (own/team, plus the unassigned ones for whoever may assign)."""
from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import Select, select

from conveyor import SearchHit, SearchIndex, SearchKind
from conveyor.i18n import _l

from .models import Lead
from .texts import _

# The same index leads_0002 creates.
INDEX = SearchIndex("leads", "leads_lead", ("company", "name", "email", "tax_id"), ("phone",))


def rows(ids: Any) -> Select[Any]:
    return select(Lead.id, Lead.company, Lead.name, Lead.email, Lead.phone, Lead.tax_id,
                  Lead.status).where(Lead.id.in_(ids))


def hit(row: Any) -> SearchHit:
    title = row.company or row.name or row.email or row.phone or f"#{row.id}"
    person = row.name if row.company else ""
    detail = " · ".join(p for p in (person, row.tax_id and _("Tax ID %(tax_id)s",
                                                              tax_id=row.tax_id)) if p)
    return SearchHit("leads", row.id, title, detail, url_for("leads.card", lead_id=row.id),
                     (row.phone,) if row.phone else (), (row.email,) if row.email else ())


def kinds() -> list[SearchKind]:
    return [SearchKind("leads", _l("Leads"), Lead, "leads.view", INDEX, rows, hit, order=40)]
