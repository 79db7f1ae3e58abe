"""The customer card panel and the seller's and manager's home widgets."""
from __future__ import annotations

from typing import Any

from flask import render_template
from sqlalchemy import select

from conveyor import Panel, Widget, can, db
from conveyor.i18n import _l
from conveyor.models import User
from conveyor.queries import written_limit
from conveyor.types import utcnow

from . import reports as rep
from .models import TYPES, RelationshipState, RelationshipTransition, cause_label, type_labels
from .won import won_by_type

HISTORY_ON_CARD = 10


def render_panel(customer: Any, user: Any) -> str:
    """Type, since when, why (and who), override marker, recent history: two queries."""
    state = db.session.get(RelationshipState, customer.id)
    T = RelationshipTransition
    history = db.session.execute(
        select(T, User).outerjoin(User, User.id == T.by_id).where(T.customer_id == customer.id)
        .order_by(T.at.desc(), T.id.desc()).limit(written_limit(HISTORY_ON_CARD))).all()
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(
        {i for i in (getattr(state, "by_id", None), getattr(state, "override_by_id", None))
         if i is not None})))} if state is not None else {}
    return render_template("relationships/panel.html", customer=customer, state=state,
                           history=history, people=people, labels=type_labels(),
                           cause_label=cause_label,
                           can_override=can(user, "relationships.override"))


def _month_moves(user: Any, owner_id: int | None = None) -> dict[int | None, rep.SellerRow]:
    low, high = rep.period_bounds(*rep.this_month(utcnow()))
    return rep.transition_counts(user, low, high, owner_id=owner_id)


def _month_won(user: Any, owner_id: int | None = None) -> Any:
    return won_by_type(user, *rep.this_month(utcnow()), owner_id=owner_id)


def render_mine(user: Any) -> str:
    counts = rep.type_counts(user, owner_id=user.id).get(user.id) or rep.SellerRow(user.id, "")
    moves = _month_moves(user, owner_id=user.id).get(user.id) or rep.SellerRow(user.id, "")
    return render_template("relationships/widget_mine.html", counts=counts, moves=moves,
                           won=_month_won(user, owner_id=user.id), types=TYPES,
                           labels=type_labels())


def render_team(user: Any) -> str:
    counts = rep.type_counts(user)
    moves = _month_moves(user)
    keys = set(counts) | set(moves)
    rows = rep.seller_rows(keys)
    for key, row in rows.items():
        if key in counts:
            row.counts = counts[key].counts
        if key in moves:
            row.up, row.down = moves[key].up, moves[key].down
    ordered = rep.sorted_rows(rows)
    return render_template("relationships/widget_team.html", rows=ordered,
                           totals=rep.column_totals(ordered), won=_month_won(user),
                           types=TYPES, labels=type_labels())


PANELS = [Panel("relationships.type", _l("Relationship"), "customer", "relationships.view",
                render_panel, order=10)]
WIDGETS = [
    Widget("relationships.mine", _l("My customers by relationship"), "relationships.view",
           render_mine),
    Widget("relationships.team", _l("Team relationships"), "relationships.reports", render_team),
]
