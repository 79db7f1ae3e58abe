"""The activities screens: the list, the form, one-click done and reschedule, recurring series,
and a deal's stage move with its next step."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import and_, or_, select

from conveyor import can, current_pipelines, db, get_visible_or_404, move_deal, require, scoped
from conveyor.i18n import _
from conveyor.models import Customer, Deal, Stage
from conveyor.queries import written_limit

from .forms import (
    MAX_ID,
    ActivityForm,
    DoneForm,
    MoveWithStepForm,
    QuickForm,
    RescheduleForm,
    SeriesForm,
)
from .models import STATUSES, VISIT_KINDS, Activity, Series
from .recurrence import create_series, stop_series, update_series
from .services import (
    KIND_LABELS,
    STATUS_LABELS,
    VISIT_LABELS,
    ActivityError,
    assignable,
    complete,
    create_activity,
    customers_by_id,
    deals_by_id,
    kind_choices,
    kind_label,
    kinds,
    next_step_stage_percents,
    reschedule,
    set_status,
    update_activity,
    users_by_id,
    visible,
)
from .texts import action_context
from .zones import day_bounds, local_to_utc, local_today, utc_to_local, zone_of

bp = Blueprint("activities", __name__, url_prefix="/activities", template_folder="templates",
               static_folder="static", static_url_path="/static")
ID = "<int(max=2147483647):activity_id>"
SERIES_ID = "<int(max=2147483647):series_id>"
DEAL_ID = "<int(max=2147483647):deal_id>"
PAGE = 50


def safe_next(default: str) -> str:
    """Back where the one-click form was (a same-site path only)."""
    target = request.form.get("next") or request.args.get("next") or ""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def _visible_activity(activity_id: int) -> Activity:
    activity = db.session.scalar(select(Activity).where(Activity.id == activity_id,
                                                        visible(current_user)))
    if activity is None:
        abort(404)
    return activity


def _me() -> Any:
    return current_user._get_current_object()


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def labels() -> dict[str, Any]:
    return {"kind_label": kind_label, "status_labels": STATUS_LABELS,
            "visit_labels": VISIT_LABELS, "kind_labels": KIND_LABELS}


@bp.get("/")
@require("activities.use")
def index() -> Any:
    """Activities I may see, planned first by due time; filters by person, status, kind."""
    zone = zone_of(current_user)
    people = assignable(current_user)
    query = select(Activity).where(visible(current_user))
    who = request.args.get("assignee", "me")
    if who == "me":
        query = query.where(Activity.assignee_id == current_user.id)
    elif who.isdigit() and len(who) < 10:
        query = query.where(Activity.assignee_id == int(who))
    status = request.args.get("status", "planned")
    if status in STATUSES:
        query = query.where(Activity.status == status)
    kind = request.args.get("kind", "")
    if kind in kinds():
        query = query.where(Activity.kind == kind)
    when = request.args.get("when", "")
    start, end = day_bounds(local_today(zone), zone)
    if when == "overdue":
        query = query.where(Activity.due_at < start, Activity.status == "planned")
    elif when == "today":
        query = query.where(Activity.due_at >= start, Activity.due_at < end)
    elif when == "upcoming":
        query = query.where(Activity.due_at >= end)
    after_id = _int_arg("after_id")
    after_due = request.args.get("after_due", "")
    if after_id is not None and after_due:
        try:
            moment = datetime.fromisoformat(after_due)
        except ValueError:
            abort(400)
        if moment.tzinfo is None:
            abort(400)
        query = query.where(or_(Activity.due_at > moment,
                                and_(Activity.due_at == moment, Activity.id > after_id)))
    rows = list(db.session.scalars(query.order_by(Activity.due_at, Activity.id)
                                   .limit(written_limit(PAGE + 1))))
    more = rows[PAGE - 1] if len(rows) > PAGE else None
    rows = rows[:PAGE]
    args = {k: v for k, v in request.args.items() if k not in ("after_id", "after_due")}
    next_args = dict(args, after_id=more.id, after_due=more.due_at.isoformat()) if more else None
    return render_template(
        "activities/index.html", rows=rows, people=people, args=args, next_args=next_args,
        users=users_by_id({a.assignee_id for a in rows}),
        customers=customers_by_id({a.customer_id for a in rows if a.customer_id}),
        deals=deals_by_id({a.deal_id for a in rows if a.deal_id}), kinds=kind_choices(),
        today_start=start, zone=zone, **labels(), **action_context())


def _setup(form: Any, activity: Activity | None = None) -> None:
    form.kind.choices = kind_choices()
    people = assignable(current_user)
    if activity is not None and activity.assignee_id not in {p.id for p in people}:
        people = [*people, *users_by_id({activity.assignee_id}).values()]
    form.assignee_id.choices = [(p.id, p.label) for p in people]
    if hasattr(form, "visit_kind"):
        form.visit_kind.choices = [("", "—")] + [(k, str(VISIT_LABELS[k])) for k in VISIT_KINDS]
    if hasattr(form, "status"):
        form.status.choices = [(s, str(STATUS_LABELS[s])) for s in STATUSES]
    if hasattr(form, "lead_id") and "leads" not in (
            current_app.config["CONVEYOR"].get("plugins") or ()):
        del form.lead_id  # not shown without leads: its error would refuse the form unseen


def _form_data(form: ActivityForm) -> dict[str, Any]:
    zone = zone_of(current_user)
    data = {k: getattr(form, k).data for k in (
        "kind", "title", "notes", "duration_minutes", "assignee_id", "customer_id", "deal_id",
        "visit_kind", "progress", "reminder_minutes")}
    data["visit_kind"] = data["visit_kind"] or None
    if getattr(form, "lead_id", None) is not None and form.lead_id.data:
        data["lead_id"] = form.lead_id.data
    data["due_at"] = local_to_utc(form.due_at.data, zone) if form.due_at.data else None
    return data


def _linked(form: Any) -> tuple[Customer | None, Deal | None]:
    """The customer and deal the form names, shown above it — only ids within the column's
    range (a refused form re-renders with whatever was typed) and records the user may see
    (an id in the address must not reveal another seller's customer name)."""
    def one(model: Any, value: Any) -> Any:
        if not isinstance(value, int) or not 1 <= value <= MAX_ID:
            return None
        return db.session.scalar(scoped(model, current_user).where(model.id == value))

    return one(Customer, form.customer_id.data), one(Deal, form.deal_id.data)


@bp.route("/new", methods=["GET", "POST"])
@require("activities.use")
def new() -> Any:
    form = ActivityForm()
    _setup(form)
    if request.method == "GET":
        form.assignee_id.data = current_user.id
        form.customer_id.data = _int_arg("customer_id")
        form.deal_id.data = _int_arg("deal_id")
        if request.args.get("kind") in kinds():
            form.kind.data = request.args["kind"]
        zone = zone_of(current_user)
        tomorrow = local_today(zone) + timedelta(days=1)
        form.due_at.data = datetime.combine(tomorrow, time(9))
    if form.validate_on_submit():
        try:
            if form.frequency.data:
                local = form.due_at.data
                data = _form_data(form)
                data.update(frequency=form.frequency.data, interval=form.interval.data or 1,
                            until=form.until.data, start_date=local.date(),
                            local_time=local.time())
                create_series(data, by=_me())
            else:
                create_activity(_form_data(form), by=_me())
            db.session.commit()
        except ActivityError as exc:
            db.session.rollback()
            getattr(form, exc.field, form.title).errors = [exc.message]
        else:
            flash(_("Activity planned."), "success")
            return redirect(safe_next(url_for(".index")))
    customer, deal = _linked(form)
    return render_template("activities/form.html", form=form, activity=None, customer=customer,
                           deal=deal, **labels()), 400 if request.method == "POST" else 200


@bp.route(f"/{ID}/edit", methods=["GET", "POST"])
@require("activities.use")
def edit(activity_id: int) -> Any:
    activity = _visible_activity(activity_id)
    form = ActivityForm(obj=activity if request.method == "GET" else None)
    _setup(form, activity)
    del form.frequency, form.interval, form.until
    if request.method == "GET":
        form.due_at.data = utc_to_local(activity.due_at, zone_of(current_user))
        form.visit_kind.data = activity.visit_kind or ""
    if form.validate_on_submit():
        data = _form_data(form)
        data["status"] = form.status.data or activity.status
        data["result"] = form.result.data or ""
        try:
            update_activity(activity, data, by=_me())
            db.session.commit()
        except ActivityError as exc:
            db.session.rollback()
            getattr(form, exc.field, form.title).errors = [exc.message]
        else:
            flash(_("Activity saved."), "success")
            return redirect(safe_next(url_for(".index")))
    customer, deal = _linked(form)
    return render_template("activities/form.html", form=form, activity=activity,
                           customer=customer, deal=deal, **labels()), \
        400 if request.method == "POST" else 200


def _form_errors(form: Any) -> str:
    messages = [e for errors in form.errors.values() for e in errors]
    return "; ".join(str(m) for m in messages) or _("Check the form.")


def _one_click(form: Any, act: Callable[[], Any], success: Callable[[], tuple[str, str]], *,
               refused: Callable[[Any], str] | None, back: str | None = None) -> Any:
    """What every one-click form does (done, cancel, reschedule, the quick add, the move with a
    next step): check the form (and its CSRF token), act, commit, flash, and go back where the
    form was with a 303. A refused form flashes ``refused(form)`` (400 when ``None``); an
    :class:`ActivityError` (or a refused stage move) is rolled back and flashed."""
    back = back or safe_next(url_for(".index"))
    if not form.validate_on_submit():
        if refused is None:
            abort(400)
        flash(refused(form), "error")
        return redirect(back, 303)
    try:
        act()
        db.session.commit()
    except (ActivityError, ValueError) as exc:
        db.session.rollback()
        flash(getattr(exc, "message", str(exc)), "error")
    else:
        flash(*success())
    return redirect(back, 303)


@bp.post(f"/{ID}/done")
@require("activities.use")
def done(activity_id: int) -> Any:
    activity = _visible_activity(activity_id)
    form = DoneForm()
    return _one_click(
        form, lambda: complete(activity, by=_me(), result=form.result.data or "",
                               progress=form.progress.data),
        lambda: (_("Done: %(title)s", title=activity.title), "success"),
        refused=lambda _f: _("The form expired or was sent from elsewhere. Please try again."))


@bp.post(f"/{ID}/cancel")
@require("activities.use")
def cancel(activity_id: int) -> Any:
    activity = _visible_activity(activity_id)
    form = DoneForm()
    return _one_click(
        form, lambda: set_status(activity, "cancelled", by=_me(), result=form.result.data or ""),
        lambda: (_("Cancelled: %(title)s", title=activity.title), "info"), refused=None)


@bp.post(f"/{ID}/reschedule")
@require("activities.use")
def move(activity_id: int) -> Any:
    """+1 day, next Monday or a picked date (My day, the list, the panels)."""
    activity = _visible_activity(activity_id)
    form = RescheduleForm()
    return _one_click(
        form, lambda: reschedule(activity, form.how.data, by=_me(), on=form.on.data),
        lambda: (_("Moved: %(title)s", title=activity.title), "success"),
        refused=lambda _f: _("Choose a date."))


@bp.post("/quick")
@require("activities.use")
def quick() -> Any:
    """The panels' quick add: the next step of a deal or a customer."""
    form = QuickForm()
    form.kind.choices = kind_choices()
    return _one_click(
        form, lambda: create_activity(
            {"kind": form.kind.data, "title": form.title.data,
             "due_at": local_to_utc(form.due_at.data, zone_of(current_user)),
             "customer_id": form.customer_id.data, "deal_id": form.deal_id.data}, by=_me()),
        lambda: (_("Activity planned."), "success"), refused=_form_errors)


@bp.route(f"/series/{SERIES_ID}/edit", methods=["GET", "POST"])
@require("activities.use")
def series_edit(series_id: int) -> Any:
    series = db.session.get(Series, series_id)
    if series is None or not _series_visible(series):
        abort(404)
    form = SeriesForm(obj=series if request.method == "GET" else None)
    _setup(form)
    if form.validate_on_submit():
        data = {k: getattr(form, k).data for k in (
            "kind", "title", "start_date", "local_time", "frequency", "interval", "until",
            "duration_minutes", "assignee_id", "reminder_minutes", "notes")}
        data.update(customer_id=series.customer_id, deal_id=series.deal_id,
                    visit_kind=series.visit_kind)
        try:
            update_series(series, data, by=_me())
            db.session.commit()
        except ActivityError as exc:
            db.session.rollback()
            getattr(form, exc.field, form.title).errors = [exc.message]
        else:
            flash(_("The series was changed; its coming occurrences follow."), "success")
            return redirect(url_for(".index"))
    return render_template("activities/series_form.html", form=form, series=series), \
        400 if request.method == "POST" else 200


@bp.post(f"/series/{SERIES_ID}/stop")
@require("activities.use")
def series_stop(series_id: int) -> Any:
    series = db.session.get(Series, series_id)
    if series is None or not _series_visible(series):
        abort(404)
    stop_series(series)
    db.session.commit()
    flash(_("The series was ended."), "info")
    return redirect(url_for(".index"), 303)


def _series_visible(series: Series) -> bool:
    """A series is seen through its occurrences: visible when one of them is."""
    return series.creator_id == current_user.id or db.session.scalar(
        select(Activity.id).where(Activity.series_id == series.id, visible(current_user))
        .limit(1)) is not None


@bp.post(f"/deals/{DEAL_ID}/move")
@require("activities.use")
def deal_move(deal_id: int) -> Any:
    """Move a deal's stage and plan its next step in one form and one transaction."""
    if not can(current_user, "deals.edit"):
        abort(403)
    deal = get_visible_or_404(Deal, deal_id, current_user)
    form = MoveWithStepForm()
    form.kind.choices = kind_choices()
    pipeline = current_pipelines().get(deal.pipeline_id)
    asked = next_step_stage_percents()
    form.stage_id.choices = [(s.id, s.name) for s in pipeline.stages
                             if s.percent in asked and not s.is_lost] if pipeline else []
    if not form.stage_id.choices:
        abort(404)  # no stage asks for the next step: the core's own stage form moves deals
    def act() -> None:
        create_activity({"kind": form.kind.data, "title": form.title.data,
                         "due_at": local_to_utc(form.due_at.data, zone_of(current_user)),
                         "deal_id": deal.id}, by=_me())
        move_deal(deal, db.session.get(Stage, form.stage_id.data), _me())

    return _one_click(form, act, lambda: (_("Stage changed and next step planned."), "success"),
                      refused=_form_errors, back=url_for("deals.card", deal_id=deal.id))
