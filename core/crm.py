"""The core's write operations: one place that records history, posts to the timeline and
emits events, shared by the web screens, the API, the CLI and plugins."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import select

from . import events as ev
from .extensions import db
from .models import Customer, Deal, Notification, Pipeline, Stage, StageHistory, TimelineEntry
from .types import utcnow


def post_timeline(kind: str, message: str = "", *, customer: Customer | int | None = None,
                  deal: Deal | None = None, by: Any = None, data: dict[str, Any] | None = None,
                  ) -> TimelineEntry:
    """Add an entry to a customer's (and a deal's) timeline; plugins use it too."""
    customer_id = customer if isinstance(customer, int) or customer is None else customer.id
    if deal is not None and customer_id is None:
        customer_id = deal.customer_id
    entry = TimelineEntry(kind=kind, message=message, customer_id=customer_id,
                          deal_id=deal.id if deal is not None else None,
                          by_id=getattr(by, "id", None), data=data or {})
    db.session.add(entry)
    return entry


def notify(user: Any, message: str, url: str = "", kind: str = "") -> Notification:
    """Leave an in-app notification for ``user`` (a User or an id); shown in their header."""
    user_id = user if isinstance(user, int) else user.id
    note = Notification(user_id=user_id, message=message[:500], url=url[:500], kind=kind[:60])
    db.session.add(note)
    return note


def default_pipeline() -> Pipeline:
    pipeline = db.session.scalar(select(Pipeline).where(Pipeline.is_default.is_(True)))
    if pipeline is None:
        pipeline = db.session.scalar(select(Pipeline).order_by(Pipeline.id))
    if pipeline is None:
        raise LookupError("no pipeline: run `conveyor db upgrade`")
    return pipeline


def first_stage(pipeline: Pipeline) -> Stage:
    return next(s for s in pipeline.stages if not s.is_closed)


def _changes(obj: Any, data: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    changes = {}
    for key, value in data.items():
        old = getattr(obj, key)
        if old != value:
            changes[key] = (old, value)
            setattr(obj, key, value)
    return changes


def create_customer(data: dict[str, Any], by: Any) -> Customer:
    data = dict(data)
    data.setdefault("owner_id", getattr(by, "id", None))
    customer = Customer(**data)
    db.session.add(customer)
    db.session.flush()
    post_timeline("customer.created", customer=customer, by=by)
    ev.emit(ev.CustomerCreated(customer=customer, by=by))
    return customer


def update_customer(customer: Customer, data: dict[str, Any], by: Any) -> dict[str, Any]:
    changes = _changes(customer, data)
    if changes:
        db.session.flush()
        ev.emit(ev.CustomerUpdated(customer=customer, by=by, changes=changes))
    return changes


def create_deal(data: dict[str, Any], by: Any) -> Deal:
    data = dict(data)
    stage: Stage | None = data.pop("stage", None)
    if stage is None and data.get("stage_id"):
        stage = db.session.get(Stage, data.pop("stage_id"))
    data.pop("stage_id", None)
    pipeline = stage.pipeline if stage is not None else default_pipeline()
    stage = stage or first_stage(pipeline)
    data.setdefault("owner_id", getattr(by, "id", None))
    data.setdefault("currency", current_app.config["CONVEYOR"]["default_currency"])
    data.setdefault("amount", Decimal("0"))
    now = utcnow()
    deal = Deal(pipeline_id=pipeline.id, stage_id=stage.id, stage=stage, stage_entered_at=now,
                created_at=now, **data)
    if stage.is_closed:
        deal.closed_at = now
    db.session.add(deal)
    db.session.flush()
    db.session.add(StageHistory(deal_id=deal.id, from_stage_id=None, to_stage_id=stage.id, at=now,
                                by_id=getattr(by, "id", None)))
    post_timeline("deal.created", deal.title, deal=deal, by=by)
    ev.emit(ev.DealCreated(deal=deal, by=by))
    return deal


def update_deal(deal: Deal, data: dict[str, Any], by: Any) -> dict[str, Any]:
    data = dict(data)
    stage_id = data.pop("stage_id", None)
    lost_reason = data.pop("lost_reason", None)
    changes = _changes(deal, data)
    if changes:
        db.session.flush()
        ev.emit(ev.DealUpdated(deal=deal, by=by, changes=changes))
    if stage_id is not None and stage_id != deal.stage_id:
        move_deal(deal, db.session.get(Stage, stage_id), by, lost_reason=lost_reason or "")
    elif lost_reason is not None and lost_reason != deal.lost_reason:
        deal.lost_reason = lost_reason
    return changes


class StageError(ValueError):
    pass


def move_deal(deal: Deal, stage: Stage | None, by: Any, lost_reason: str = "") -> Deal:
    """Change a deal's stage: history row, timeline entry, events (won / lost / reopened)."""
    if stage is None or stage.pipeline_id != deal.pipeline_id:
        raise StageError("stage does not belong to the deal's pipeline")
    old = deal.stage
    if old.id == stage.id:
        return deal
    now = utcnow()
    deal.stage = stage
    deal.stage_id = stage.id
    deal.stage_entered_at = now
    if stage.is_lost:
        deal.lost_reason = lost_reason or deal.lost_reason
    elif not stage.is_lost:
        deal.lost_reason = ""
    deal.closed_at = now if stage.is_closed else None
    db.session.flush()
    db.session.add(StageHistory(deal_id=deal.id, from_stage_id=old.id, to_stage_id=stage.id,
                                at=now, by_id=getattr(by, "id", None)))
    post_timeline("deal.stage_changed", f"{old.percent}% → {stage.percent}%", deal=deal, by=by,
                  data={"from": old.id, "to": stage.id})
    ev.emit(ev.DealStageChanged(deal=deal, old=old, new=stage, by=by))
    if stage.is_won:
        ev.emit(ev.DealWon(deal=deal, by=by))
    elif stage.is_lost:
        ev.emit(ev.DealLost(deal=deal, by=by, reason=deal.lost_reason))
    elif old.is_closed:
        ev.emit(ev.DealReopened(deal=deal, old=old, by=by))
    return deal
