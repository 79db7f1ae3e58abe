"""The core's write operations: one place that records history, posts to the timeline and
emits events, shared by the web screens, the API, the CLI and plugins.

It also keeps ``deal_stage_totals`` (count and amount per stage, owner and currency) right: the
flush listeners at the bottom turn every inserted, changed or deleted ``Deal`` into upserts of that
table in the same transaction, whoever made the change through the ORM. Bulk SQL that bypasses the
ORM (a generator, a demo seed) calls :func:`rebuild_deal_totals` afterwards."""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from flask import current_app
from flask_babel import LazyString, force_locale
from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.orm import Session

from . import events as ev
from . import stage_gates
from .dialects import dialect_module
from .extensions import db
from .i18n import _l
from .models import Customer, Deal, Notification, Pipeline, Stage, StageHistory, TimelineEntry
from .models.deals import DealStageTotal
from .types import utcnow

# What a timeline kind is called on the cards: the code stays in the data, people read the label.
TIMELINE_KINDS: dict[str, Any] = {
    "customer.created": _l("customer created"), "deal.created": _l("deal created"),
    "deal.stage_changed": _l("stage changed"), "deal.deleted": _l("deal deleted"),
    "contact.added": _l("contact added"), "contact.removed": _l("contact removed"),
}


def timeline_kind(kind: str, label: Any) -> None:
    """Name a timeline kind for people: the cards show ``label`` instead of the code ``kind``.
    Give a lazy string (``_l("call logged")``), so it is read in the reader's language; a
    plugin calls this once, at import, for each kind it posts."""
    TIMELINE_KINDS[kind] = label


def timeline_label(kind: str) -> str:
    """The label of a timeline kind in the request's language; an unnamed kind shows its code."""
    label = TIMELINE_KINDS.get(kind)
    return str(label) if label is not None else kind


def in_company_language(text: Any) -> str:
    """A lazy string rendered in the configured default language: for text stored once and read
    by everyone (a timeline entry), where no single reader's language applies."""
    if not isinstance(text, LazyString):
        return str(text)
    with force_locale(current_app.config["CONVEYOR"]["default_locale"]):
        return str(text)


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
    if deal is not None and deal.id is None:  # a deal not flushed yet: the same flush inserts both
        entry.deal = deal
    db.session.add(entry)
    return entry


def notify(user: Any, message: Any, url: str = "", kind: str = "") -> Notification:
    """Leave an in-app notification for ``user`` (a User or an id); shown in their header.

    ``message`` is stored as text. Give a lazy string (``_l("Lead %(label)s is yours now.",
    label=...)``) and it is written in the recipient's language — their setting, else the
    configured default — not in the language of whoever (or whatever job) caused it."""
    user_id = user if isinstance(user, int) else user.id
    if isinstance(message, LazyString):
        with force_locale(recipient_locale(user)):
            message = str(message)
    note = Notification(user_id=user_id, message=str(message)[:500], url=url[:500],
                        kind=kind[:60])
    db.session.add(note)
    return note


def recipient_locale(user: Any) -> str:
    """The language to write to ``user`` (a User or an id) in: their setting, else what their
    browser asked for at their last sign-in, else the configured default. Looked up once per
    user and session: a batch notifying a few sellers about many leads asks once per seller."""
    from .models import User

    config = current_app.config["CONVEYOR"]
    if isinstance(user, User):
        choices = (user.locale, user.browser_locale)
    else:
        known = db.session.info.setdefault("conveyor_recipient_locales", {})
        if int(user) not in known:
            known[int(user)] = db.session.execute(
                select(User.locale, User.browser_locale).where(User.id == int(user))).first() \
                or (None, None)
        choices = tuple(known[int(user)])
    return next((locale for locale in choices if locale in config["languages"]),
                config["default_locale"])


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
    """Add a customer owned by ``by`` unless ``data`` names an owner; timeline and
    ``CustomerCreated`` included. Returns the flushed customer (it has an id)."""
    data = dict(data)
    data.setdefault("owner_id", getattr(by, "id", None))
    customer = Customer(**data)
    db.session.add(customer)
    db.session.flush()
    post_timeline("customer.created", customer=customer, by=by)
    ev.emit(ev.CustomerCreated(customer=customer, by=by))
    return customer


def update_customer(customer: Customer, data: dict[str, Any], by: Any) -> dict[str, Any]:
    """Apply ``data``; returns the changes as ``{field: (old, new)}`` and emits
    ``CustomerUpdated`` when there are any."""
    changes = _changes(customer, data)
    if changes:
        db.session.flush()
        ev.emit(ev.CustomerUpdated(customer=customer, by=by, changes=changes))
    return changes


def create_deal(data: dict[str, Any], by: Any) -> Deal:
    """Add a deal in its stage (the default pipeline's first open stage unless ``data`` gives
    ``stage``/``stage_id``), with its first history row, timeline entry and ``DealCreated``.
    Returns the flushed deal."""
    data = dict(data)
    from .pipelines import current_pipelines

    stage: Any = data.pop("stage", None)
    if stage is None and data.get("stage_id"):
        # From the per-process snapshot (no SELECT), the table for a stage it doesn't know yet.
        stage_id = data.pop("stage_id")
        stage = next((s for s in current_pipelines().all_stages() if s.id == stage_id),
                     None) or db.session.get(Stage, stage_id)
    data.pop("stage_id", None)
    if stage is not None:
        pipeline_id = stage.pipeline_id
    else:  # the default pipeline's first open stage, from the per-process snapshot: no SELECT
        snapshot = current_pipelines().get()
        if snapshot is None or not any(s.is_open for s in snapshot.stages):
            pipeline = default_pipeline()
            pipeline_id, stage = pipeline.id, first_stage(pipeline)
        else:
            pipeline_id = snapshot.id
            stage = next(s for s in snapshot.stages if s.is_open)
    data.setdefault("owner_id", getattr(by, "id", None))
    data.setdefault("currency", current_app.config["CONVEYOR"]["default_currency"])
    data.setdefault("amount", Decimal("0"))
    now = utcnow()
    deal = Deal(pipeline_id=pipeline_id, stage_id=stage.id, stage_entered_at=now,
                created_at=now, **data)
    if isinstance(stage, Stage):
        deal.stage = stage
    if stage.is_closed:
        deal.closed_at = now
    stage_gates.check_move(deal, None, stage.id, by)  # before the deal joins the session
    db.session.add(deal)
    # The deal, its first history row and its timeline entry in one flush: the summaries kept
    # by the flush listeners see a new deal with all of its history (nothing to read back).
    db.session.add(StageHistory(deal=deal, from_stage_id=None, to_stage_id=stage.id, at=now,
                                by_id=getattr(by, "id", None)))
    post_timeline("deal.created", deal.title, deal=deal, by=by)
    db.session.flush()
    ev.emit(ev.DealCreated(deal=deal, by=by))
    return deal


def update_deal(deal: Deal, data: dict[str, Any], by: Any) -> dict[str, Any]:
    """Apply ``data`` (a ``stage_id`` in it moves the deal through :func:`move_deal`); returns
    the field changes as ``{field: (old, new)}``."""
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


StageGateRefused = stage_gates.StageGateRefused


def move_deal(deal: Deal, stage: Stage | None, by: Any, lost_reason: str = "") -> Deal:
    """Change a deal's stage: history row, timeline entry, events (won / lost / reopened).

    The stage gates that apply are asked first (:mod:`conveyor.stage_gates`): a refusal raises
    :class:`StageGateRefused` before anything changed."""
    if stage is None or stage.pipeline_id != deal.pipeline_id:
        raise StageError("stage does not belong to the deal's pipeline")
    old = deal.stage
    if old.id == stage.id:
        return deal
    stage_gates.check_move(deal, old.id, stage.id, by)
    now = utcnow()
    deal.stage = stage
    deal.stage_id = stage.id
    deal.stage_entered_at = now
    if stage.is_lost:
        deal.lost_reason = lost_reason or deal.lost_reason
    elif not stage.is_lost:
        deal.lost_reason = ""
    deal.closed_at = now if stage.is_closed else None
    db.session.add(StageHistory(deal_id=deal.id, from_stage_id=old.id, to_stage_id=stage.id,
                                at=now, by_id=getattr(by, "id", None)))
    post_timeline("deal.stage_changed", f"{old.percent}% → {stage.percent}%", deal=deal, by=by,
                  data={"from": old.id, "to": stage.id})
    # The UPDATE, the history row and the timeline entry in one flush: the flush listeners
    # (stage totals, the plugins' summaries, the audit trail) run once for the move.
    db.session.flush()
    ev.emit(ev.DealStageChanged(deal=deal, old=old, new=stage, by=by))
    if stage.is_won:
        ev.emit(ev.DealWon(deal=deal, by=by))
    elif stage.is_lost:
        ev.emit(ev.DealLost(deal=deal, by=by, reason=deal.lost_reason))
    elif old.is_closed:
        ev.emit(ev.DealReopened(deal=deal, old=old, by=by))
    return deal


def delete_deal(deal: Deal, by: Any) -> None:
    """Delete a deal; its history and timeline go with it (database cascade), the customer's
    timeline keeps a ``deal.deleted`` entry and the stage totals lose it when the session
    flushes (so a commit's StaleDataError / IntegrityError still surfaces at the commit)."""
    post_timeline("deal.deleted", deal.title, customer=deal.customer_id, by=by)
    db.session.delete(deal)
    ev.emit(ev.DealDeleted(deal_id=deal.id, customer_id=deal.customer_id, title=deal.title,
                           owner_id=deal.owner_id, by=by))


# --- stage totals ------------------------------------------------------------------------------

TotalsKey = tuple[int, int, str]  # (stage_id, owner_id or 0, currency)
_TRACKED = ("stage_id", "owner_id", "currency", "amount")
_OLD = "conveyor_deal_totals_old"


def _persisted(deal: Deal) -> tuple[TotalsKey, Decimal]:
    """The key and amount the database holds for ``deal`` (before this flush's changes).
    The tracked columns have ``active_history``, so a changed value's old one is known."""
    state = inspect(deal)
    values = []
    for name in _TRACKED:
        history = state.attrs[name].load_history()
        if history.added or history.deleted:  # changed: the old value (None leaves no trace)
            values.append(history.deleted[0] if history.deleted else None)
        else:
            values.append(history.unchanged[0] if history.unchanged else None)
    stage_id, owner_id, currency, amount = values
    return (stage_id, owner_id or 0, currency), Decimal(amount or 0)


def _current(deal: Deal) -> tuple[TotalsKey, Decimal]:
    return (deal.stage_id, deal.owner_id or 0, deal.currency), Decimal(deal.amount or 0)


@event.listens_for(Session, "before_flush")
def _totals_before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    """Note what the database holds for deals about to change or go, while it still does."""
    old: dict[int, tuple[Deal, tuple[TotalsKey, Decimal] | None, bool]] = {}
    for obj in session.deleted:
        if isinstance(obj, Deal):
            old[id(obj)] = (obj, _persisted(obj), True)
    for obj in session.dirty:
        if isinstance(obj, Deal) and id(obj) not in old and session.is_modified(obj):
            old[id(obj)] = (obj, _persisted(obj), False)
    flush_context.attributes[_OLD] = old


@event.listens_for(Session, "after_flush")
def _totals_after_flush(session: Session, flush_context: Any) -> None:
    """Turn the flushed deal changes into one upsert per (stage, owner, currency) touched."""
    deltas: dict[TotalsKey, list[Any]] = {}

    def add(key: TotalsKey, count: int, amount: Decimal) -> None:
        entry = deltas.setdefault(key, [0, Decimal("0")])
        entry[0] += count
        entry[1] += amount

    for obj in session.new:
        if isinstance(obj, Deal):
            key, amount = _current(obj)
            add(key, 1, amount)
    for obj, (key, amount), gone in flush_context.attributes.get(_OLD, {}).values():
        if gone:
            add(key, -1, -amount)
            continue
        new_key, new_amount = _current(obj)
        if (new_key, new_amount) != (key, amount):
            add(key, -1, -amount)
            add(new_key, 1, new_amount)
    if deltas:
        _apply_totals(session.connection(), deltas)


def _apply_totals(conn: Connection, deltas: dict[TotalsKey, list[Any]]) -> None:
    """Add the deltas, keys in sorted order (two transactions touching the same rows lock them in
    the same order: no deadlock). SQLite and PostgreSQL upsert every key in one statement
    (executed for each row: a stage move's two keys, the old stage's and the new one's)."""
    table = DealStageTotal.__table__
    upsert = _upsert_statement(conn.dialect.name)
    rows = [{"stage_id": stage_id, "owner_id": owner_id, "currency": currency, "count": count,
             "amount": amount}
            for (stage_id, owner_id, currency), (count, amount) in sorted(deltas.items())
            if count or amount]
    if upsert is not None:
        if rows:
            conn.execute(upsert, rows)
        return
    for row in rows:
        key = {k: row[k] for k in ("stage_id", "owner_id", "currency")}
        count, amount = row["count"], row["amount"]
        changed = conn.execute(update(table).where(*(table.c[k] == v for k, v in key.items()))
                               .values(count=table.c.count + count,
                                       amount=table.c.amount + amount)).rowcount
        if not changed:
            conn.execute(insert(table).values(**key, count=count, amount=amount))


@lru_cache(maxsize=4)
def _upsert_statement(dialect_name: str) -> Any:
    """The totals' upsert with bind parameters, built once per dialect (building it cost more
    than running it on every deal write); ``None`` where there is no upsert."""
    dialect = dialect_module(dialect_name)
    if dialect is None:
        return None
    table = DealStageTotal.__table__
    stmt = dialect.insert(table).values(
        {name: bindparam(name, type_=table.c[name].type)
         for name in ("stage_id", "owner_id", "currency", "count", "amount")})
    return stmt.on_conflict_do_update(
        index_elements=[table.c.stage_id, table.c.owner_id, table.c.currency],
        set_={"count": table.c.count + stmt.excluded.count,
              "amount": table.c.amount + stmt.excluded.amount})


def rebuild_deal_totals(session: Any = None) -> int:
    """Recompute ``deal_stage_totals`` from ``deals`` with one INSERT … SELECT (after a bulk load
    that bypassed the ORM, or to repair it); returns the number of rows written. The caller
    commits."""
    session = session or db.session
    table = DealStageTotal.__table__
    owner = func.coalesce(Deal.owner_id, 0)
    session.execute(delete(table))
    session.execute(insert(table).from_select(
        ["stage_id", "owner_id", "currency", "count", "amount"],
        select(Deal.stage_id, owner, Deal.currency, func.count(),
               func.coalesce(func.sum(Deal.amount), 0))
        .group_by(Deal.stage_id, owner, Deal.currency)))
    return int(session.scalar(select(func.count()).select_from(table)) or 0)
