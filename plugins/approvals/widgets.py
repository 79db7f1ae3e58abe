"""Home widgets (the approver's queue, approved this week, sent back; a requester's open
requests) and the deal card's panel (the deal's requests, its discount, why moves are blocked)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import render_template
from sqlalchemy import func, select

from conveyor import Panel, Widget, can, db
from conveyor.i18n import _l
from conveyor.queries import written_limit
from conveyor.types import utcnow

from . import discount, services
from .forms import ChangesForm, DecisionForm, DiscountForm
from .models import APPROVED, CHANGES, ApprovalRequest

WIDGET_ROWS = 10


def week_start(now: datetime) -> datetime:
    """Monday 00:00 (UTC) of ``now``'s week."""
    day = now - timedelta(days=now.weekday())
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


def render_queue(user: Any) -> str:
    rows = list(db.session.execute(services.queue_statement(user, WIDGET_ROWS + 1),
                                   services.queue_params(user)))
    return render_template("approvals/widget_queue.html", rows=rows[:WIDGET_ROWS],
                           more=len(rows) > WIDGET_ROWS, now=utcnow())


def _decided_by(user: Any, status: str, since: datetime | None = None) -> tuple[list[Any], int]:
    criteria = [ApprovalRequest.decided_by_id == user.id, ApprovalRequest.status == status]
    if since is not None:
        criteria.append(ApprovalRequest.decided_at >= since)
    rows = list(db.session.execute(services.rows_statement(*criteria)
                                   .order_by(ApprovalRequest.decided_at.desc())
                                   .limit(written_limit(WIDGET_ROWS))))
    count = db.session.scalar(select(func.count()).select_from(ApprovalRequest).where(*criteria))
    return rows, int(count or 0)


def render_approved_week(user: Any) -> str:
    rows, count = _decided_by(user, APPROVED, week_start(utcnow()))
    return render_template("approvals/widget_decided.html", rows=rows, count=count,
                           widget="approved-week", title=_l("Approved this week"),
                           empty=_l("Nothing approved this week yet."), now=utcnow())


def render_sent_back(user: Any) -> str:
    rows, count = _decided_by(user, CHANGES)
    return render_template("approvals/widget_decided.html", rows=rows, count=count,
                           widget="sent-back", title=_l("Sent back for changes"),
                           empty=_l("Nothing is waiting for changes."), now=utcnow())


def render_my_requests(user: Any) -> str:
    rows = list(db.session.execute(services.mine_statement(WIDGET_ROWS, open_only=True),
                                   {"uid": user.id}))
    return render_template("approvals/widget_mine.html", rows=rows, now=utcnow(),
                           labels=services.STATUS_LABELS)


def render_deal_panel(deal: Any, user: Any) -> str:
    """The deal's requests (newest first, with their history), its discount against the
    owner's limit, and the actions the user may take."""
    requests = list(db.session.scalars(
        select(ApprovalRequest).where(ApprovalRequest.deal_id == deal.id)
        .order_by(ApprovalRequest.id.desc()).limit(written_limit(WIDGET_ROWS))))
    steps = services.history([r.id for r in requests])
    deciding = {r.id for r in requests if r.status == "pending"
                and can(user, "approvals.decide") and services.is_approver(r, user)}
    percent = discount.of_deal(deal.id)
    limit = discount.limit_for(deal.owner) if deal.owner is not None else discount.limit_for(user)
    form = DiscountForm(formdata=None)
    form.percent.data = percent
    return render_template(
        "approvals/panel_deal.html", deal=deal, requests=requests, steps=steps,
        deciding=deciding, labels=services.STATUS_LABELS, percent=percent, limit=limit,
        discount_form=form, decision=DecisionForm(formdata=None),
        changes=ChangesForm(formdata=None), now=utcnow(),
        may_request=can(user, "approvals.request"), may_edit=can(user, "deals.edit"))


WIDGETS = [
    Widget("approvals.queue", _l("Waiting for my approval"), "approvals.decide", render_queue),
    Widget("approvals.approved_week", _l("Approved this week"), "approvals.decide",
           render_approved_week),
    Widget("approvals.sent_back", _l("Sent back for changes"), "approvals.decide",
           render_sent_back),
    Widget("approvals.my_requests", _l("My approval requests"), "approvals.request",
           render_my_requests),
]
PANELS = [Panel("approvals.deal", _l("Approvals"), "deal", "approvals.view", render_deal_panel,
                order=30)]
