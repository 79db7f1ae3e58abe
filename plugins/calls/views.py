"""The telemarketer's screens: my queue, log a call, call history, statistics."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select

from conveyor import can, db, require, scope
from conveyor.i18n import _
from conveyor.models import Contact, Customer, User
from conveyor.queries import written_limit
from conveyor.types import utcnow

from .forms import RESULT_LABELS, HistoryForm, LogCallForm, QueueItemForm, StatsForm, to_utc
from .models import Call, QueueItem
from .services import (
    CallError,
    add_queue_item,
    callable_customer,
    log_call,
    my_queue,
    open_queue_item,
    skip_queue_item,
    visible_calls,
)
from .stats import call_stats, day_bounds, totals
from .tables import stats_csv_response, users_by_id, visible_people
from .whom import Whom, openable_ids, whom

bp = Blueprint("calls", __name__, url_prefix="/calls", template_folder="templates")
ID = "<int(max=2147483647):item_id>"
PAGE = 50


@bp.get("/")
@require("calls.log")
def index() -> Any:
    due, later = my_queue(current_user)
    recent = list(db.session.scalars(select(Call).where(Call.owner_id == current_user.id)
                                     .order_by(Call.id.desc()).limit(written_limit(10))))
    return render_template("calls/index.html", due=due, later=later, recent=recent,
                           who=whom([*due, *later, *recent], current_user, phones=True),
                           results=RESULT_LABELS)


def search_customers(q: str, user: Any, limit: int = 20) -> list[Customer]:
    """Visible customers whose name, contact name or contact phone matches ``q``."""
    q = q.strip()[:100]
    if not q:
        return []
    like = f"%{q}%"
    conditions = [Customer.name.ilike(like), Contact.name.ilike(like)]
    digits = "".join(ch for ch in q if ch.isdigit())
    if len(digits) >= 3:
        phone = Contact.phone
        for ch in (" ", "-", "(", ")", ".", "+"):
            phone = func.replace(phone, ch, "")
        conditions.append(phone.like(f"%{digits}%"))
    matching = select(Contact.customer_id).where(or_(*conditions[1:]))
    query = (select(Customer).where(scope(Customer, user, "calls.log"))
             .where(or_(Customer.name.ilike(like), Customer.id.in_(matching)))
             .order_by(Customer.name).limit(written_limit(limit)))
    return list(db.session.scalars(query))


@bp.route("/log", methods=["GET", "POST"])
@require("calls.log")
def log() -> Any:
    form = LogCallForm()
    customer, refused = None, None
    if request.method == "GET":
        _prefill(form)
    try:
        item = open_queue_item(form.queue_item_id.data, current_user)
        customer = callable_customer(form.customer_id.data, item, current_user)
    except CallError as exc:
        if request.method == "GET":
            abort(404)
        refused = exc
    contacts = list(db.session.scalars(select(Contact).where(
        Contact.customer_id == customer.id).order_by(Contact.name))) if customer else []
    form.contact_id.choices = [("", "—")] + [(c.id, c.name) for c in contacts]
    q = request.args.get("q", "")
    found = search_customers(q, current_user) if q else []
    valid = form.validate_on_submit()
    if refused is not None:  # after validate(), which resets the fields' errors
        getattr(form, refused.field).errors.append(refused.message)
    elif valid:
        data = {k: getattr(form, k).data for k in (
            "customer_id", "contact_id", "queue_item_id", "name", "company", "phone", "email",
            "result", "interested", "products", "notes")}
        data["call_back_at"] = to_utc(form.call_back_at.data)
        try:
            call = log_call(data, by=current_user._get_current_object())
            db.session.commit()
        except CallError as exc:
            db.session.rollback()
            getattr(form, exc.field, form.name).errors = [exc.message]
        else:
            flash(_("Call logged."), "success")
            if call.lead_id:
                flash(_("A lead was created for this interest."), "success")
            if call.call_back_at:
                flash(_("The call back is in your queue."), "info")
            return redirect(url_for(".index"))
    status = 400 if request.method == "POST" else 200
    openable = customer is not None and bool(openable_ids({customer.id}, current_user))
    return render_template("calls/log.html", form=form, customer=customer, q=q, found=found,
                           contacts=contacts, openable=openable), status


def _prefill(form: LogCallForm) -> None:
    """From ?queue_item= (the queue's "call" action) or ?customer_id= (a search result)."""
    raw = request.args.get("queue_item", "")
    if raw.isdigit() and len(raw) < 10:
        item = db.session.scalar(select(QueueItem).where(
            QueueItem.id == int(raw), QueueItem.owner_id == current_user.id,
            QueueItem.done_at.is_(None)))
        if item is None:
            abort(404)
        for key, value in item.as_prefill().items():
            getattr(form, key).data = value
        form.notes.data = item.notes
    raw = request.args.get("customer_id", "")
    if raw.isdigit() and len(raw) < 10:
        form.customer_id.data = int(raw)


@bp.route("/queue/new", methods=["GET", "POST"])
@require("calls.log")
def queue_new() -> Any:
    form = QueueItemForm()
    people = visible_people(current_user) if can(current_user, "calls.view_team") else []
    form.owner_id.choices = [(current_user.id, current_user.label)] + [
        (u.id, u.label) for u in people if u.id != current_user.id]
    if request.method == "GET":
        form.owner_id.data = current_user.id
        raw = request.args.get("customer_id", "")
        form.customer_id.data = int(raw) if raw.isdigit() and len(raw) < 10 else None
    if form.validate_on_submit():
        data = {k: getattr(form, k).data for k in (
            "customer_id", "owner_id", "name", "company", "phone", "priority", "notes")}
        data["due_at"] = to_utc(form.due_at.data)
        try:
            add_queue_item(data, by=current_user._get_current_object())
            db.session.commit()
        except CallError as exc:
            db.session.rollback()
            getattr(form, exc.field, form.name).errors = [exc.message]
        else:
            flash(_("Added to the queue."), "success")
            return redirect(url_for(".index"))
    return render_template("calls/queue_form.html", form=form), \
        400 if request.method == "POST" else 200


@bp.post(f"/queue/{ID}/skip")
@require("calls.log")
def queue_skip(item_id: int) -> Any:
    item = db.session.scalar(select(QueueItem).where(
        QueueItem.id == item_id, QueueItem.owner_id == current_user.id,
        QueueItem.done_at.is_(None)))
    if item is None:
        abort(404)
    skip_queue_item(item)
    db.session.commit()
    flash(_("Taken off the queue."), "info")
    return redirect(url_for(".index"))


def _range(form: StatsForm) -> tuple[date, date]:
    end = form.end.data or utcnow().date()
    start = form.start.data or end - timedelta(days=29)
    return start, end


@bp.get("/history")
@require("calls.log")
def history() -> Any:
    form = HistoryForm(request.args)
    people = visible_people(current_user) if can(current_user, "calls.view_team") else []
    form.owner.choices = [("", _("Everyone"))] + [(u.id, u.label) for u in people]
    if not form.validate():
        return render_template("calls/history.html", form=form, calls=[], next_before=None,
                               users={}, who=Whom(), results=RESULT_LABELS, args={}), 400
    start, end = _range(form)
    low, high = day_bounds(start, end)
    query = select(Call).where(visible_calls(current_user), Call.created_at >= low,
                               Call.created_at < high)
    if form.owner.data:
        query = query.where(Call.owner_id == form.owner.data)
    if form.result.data:
        query = query.where(Call.result == form.result.data)
    raw = request.args.get("before", "")
    if raw.isdigit() and len(raw) < 10:
        query = query.where(Call.id < int(raw))
    calls = list(db.session.scalars(query.order_by(Call.id.desc()).limit(written_limit(PAGE + 1))))
    next_before = calls[PAGE - 1].id if len(calls) > PAGE else None
    calls = calls[:PAGE]
    args = {k: v for k, v in request.args.items() if k != "before"}
    return render_template("calls/history.html", form=form, calls=calls, next_before=next_before,
                           users=users_by_id({c.owner_id for c in calls}),
                           who=whom(calls, current_user), results=RESULT_LABELS, args=args)


def _stats_form() -> tuple[StatsForm, list[User]]:
    form = StatsForm(request.args)
    people = visible_people(current_user) if can(current_user, "calls.view_team") else []
    form.owner.choices = [("", _("Everyone"))] + [(u.id, u.label) for u in people]
    return form, people


@bp.get("/stats")
@require("calls.log")
def stats() -> Any:
    form, _people = _stats_form()
    if not form.validate():
        return render_template("calls/stats.html", form=form, rows=[], users={}, sums={},
                               args={}), 400
    start, end = _range(form)
    rows = call_stats(current_user, form.period.data, start, end, form.owner.data)
    args = {k: v for k, v in request.args.items()}
    return render_template("calls/stats.html", form=form, rows=rows, sums=totals(rows),
                           users=users_by_id({r.owner_id for r in rows}), args=args,
                           start=start, end=end)


@bp.get("/stats.csv")
@require("calls.log")
def stats_export() -> Any:
    form, _people = _stats_form()
    if not form.validate():
        abort(400, description="; ".join(e for errs in form.errors.values() for e in errs))
    start, end = _range(form)
    rows = call_stats(current_user, form.period.data, start, end, form.owner.data)
    return stats_csv_response(rows, users_by_id({r.owner_id for r in rows}),
                              f"calls-{form.period.data}-{start}-{end}.csv")
