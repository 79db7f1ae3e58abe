"""Home-screen widgets: the marketer's sources, the seller's new leads, the manager's backlog.

Each widget runs a fixed number of queries whatever the number of leads (GROUP BY / LIMIT).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import render_template
from sqlalchemy import func, select

from conveyor import Widget, db, scope
from conveyor.i18n import _l
from conveyor.queries import written_limit
from conveyor.types import utcnow

from .assignment import stale_criteria, stale_cutoff
from .models import Lead, unassigned_open

WINDOW_DAYS = 30


def new_and_sources(user: Any) -> str:
    since = utcnow() - timedelta(days=WINDOW_DAYS)
    rows = db.session.execute(
        select(Lead.source, func.count()).where(scope(Lead, user))
        .where(Lead.created_at >= since).group_by(Lead.source)
        .order_by(func.count().desc()).limit(written_limit(10))).all()
    new_count = db.session.scalar(select(func.count()).select_from(Lead)
                                  .where(scope(Lead, user)).where(Lead.status == "new"))
    return render_template("leads/widgets/new_and_sources.html", rows=rows,
                           total=sum(c for _, c in rows), new_count=new_count, days=WINDOW_DAYS)


def my_new(user: Any) -> str:
    base = select(Lead).where(Lead.owner_id == user.id, Lead.status == "new")
    leads = list(db.session.scalars(base.order_by(Lead.id.desc()).limit(written_limit(8))))
    count = db.session.scalar(select(func.count()).select_from(base.subquery()))
    return render_template("leads/widgets/my_new.html", leads=leads, count=count)


def unassigned_stale(user: Any) -> str:
    visible = scope(Lead, user)
    unassigned_q = select(Lead).where(visible).where(unassigned_open())
    stale_q = select(Lead).where(visible).where(stale_criteria(stale_cutoff(utcnow())))
    unassigned = list(db.session.scalars(unassigned_q.order_by(Lead.id).limit(written_limit(5))))
    stale = list(db.session.scalars(stale_q.order_by(Lead.id).limit(written_limit(5))))
    counts = db.session.execute(select(
        select(func.count()).select_from(unassigned_q.subquery()).scalar_subquery(),
        select(func.count()).select_from(stale_q.subquery()).scalar_subquery())).one()
    return render_template("leads/widgets/unassigned_stale.html", unassigned=unassigned,
                           stale=stale, unassigned_count=counts[0], stale_count=counts[1])


WIDGETS = [
    Widget("leads.new_and_sources", _l("New leads and sources"), "leads.view", new_and_sources),
    Widget("leads.my_new", _l("My new leads"), "leads.view", my_new),
    Widget("leads.unassigned_stale", _l("Unassigned and stale leads"), "leads.assign",
           unassigned_stale),
]
