"""Screens: the approver's queue and one's requests, a request with its history, the decisions,
sending a record for approval, and a deal's discount."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from conveyor import can, db, get_visible_or_404, require, setting
from conveyor.i18n import _
from conveyor.models import Deal, User
from conveyor.role_layers import current_roles
from conveyor.types import utcnow

from . import discount, services
from .forms import ChangesForm, DecisionForm, DiscountForm, RequestForm
from .models import ApprovalRequest
from .resources import Approver

bp = Blueprint("approvals", __name__, url_prefix="/approvals", template_folder="templates")
ID = "<int(max=2147483647):request_id>"
MAX_ID = 2147483647


@bp.app_template_filter("approval_age")
def approval_age(since: datetime, now: datetime) -> str:
    """How long a request has waited, in words, to the minute (so the words are memoized)."""
    from conveyor.web import _duration

    waited = now - since
    return _duration(timedelta(minutes=max(int(waited.total_seconds() // 60), 0)))


def safe_next(target: str | None) -> str | None:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) <= 10 and 0 < int(raw) <= MAX_ID else None


def visible_request(request_id: int) -> ApprovalRequest:
    """The request when the user is its requester, an approver, or may see its record (the
    resource's loader applies the record rules); 404 otherwise, never a hint it exists."""
    found = db.session.get(ApprovalRequest, request_id)
    if found is None:
        abort(404)
    if found.requested_by_id == current_user.id or services.is_approver(found, current_user):
        return found
    spec = services.approvables().get(found.resource)
    if spec is None or spec.load(found.record_id, current_user) is None:
        abort(404)
    return found


@bp.get("/")
@require("approvals.view")
def index() -> Any:
    """The approver's queue (oldest first, with each request's age) and one's own requests."""
    size = int(setting("approvals.queue_size"))
    after = int_arg("after")
    queue = list(db.session.execute(services.queue_statement(current_user, size + 1, after),
                                    services.queue_params(current_user, after))) \
        if can(current_user, "approvals.decide") else []
    more = len(queue) > size
    queue = queue[:size]
    mine = list(db.session.execute(services.mine_statement(size), {"uid": current_user.id}))
    return render_template("approvals/index.html", queue=queue, mine=mine, now=utcnow(),
                           next_after=queue[-1].id if more else None, labels=services.STATUS_LABELS)


@bp.get(f"/{ID}")
@require("approvals.view")
def detail(request_id: int) -> Any:
    item = visible_request(request_id)
    steps = services.history([item.id])[item.id]
    requester = db.session.get(User, item.requested_by_id)
    approver = db.session.get(User, item.approver_id) if item.approver_id else None
    current = services.current_version(item)
    spec = services.approvables().get(item.resource)
    return render_template(
        "approvals/detail.html", item=item, steps=steps, requester=requester,
        terms=spec.terms(item.version) if spec is not None else None,
        approver=approver, labels=services.STATUS_LABELS, changed=current != item.version,
        may_decide=item.status == "pending" and can(current_user, "approvals.decide")
        and services.is_approver(item, current_user),
        may_withdraw=item.status in ("pending", "changes_requested")
        and item.requested_by_id == current_user.id,
        decision=DecisionForm(formdata=None), changes=ChangesForm(formdata=None), now=utcnow())


def _back(item: ApprovalRequest, form: Any) -> Any:
    return redirect(safe_next(form.next.data) or url_for(".detail", request_id=item.id))


def _refused(error: services.ApprovalError) -> None:
    flash(str(error.message), "error")


def _decide(item: ApprovalRequest, form: Any, step: Callable[[], Any], done: str) -> Any:
    """Run one step of the request and commit it: someone who may not take it gets 403, a step
    the request's state refuses is flashed, and either way back to where the form was."""
    try:
        step()
        db.session.commit()
    except services.NotAllowed:
        db.session.rollback()
        abort(403)
    except services.ApprovalError as error:
        db.session.rollback()
        _refused(error)
        return _back(item, form)
    flash(done, "success")
    return _back(item, form)


@bp.post(f"/{ID}/approve")
@require("approvals.decide")
def approve(request_id: int) -> Any:
    item = visible_request(request_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        flash(_("The form expired or was sent from elsewhere. Please try again."), "error")
        return _back(item, form)
    return _decide(item, form, lambda: services.approve(item, current_user,
                                                        form.comment.data or ""), _("Approved."))


@bp.post(f"/{ID}/request-changes")
@require("approvals.decide")
def request_changes(request_id: int) -> Any:
    item = visible_request(request_id)
    form = ChangesForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return _back(item, form)
    return _decide(item, form, lambda: services.request_changes(item, current_user,
                                                                form.comment.data),
                   _("Sent back for changes."))


@bp.post(f"/{ID}/withdraw")
@require("approvals.request")
def withdraw(request_id: int) -> Any:
    item = visible_request(request_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _back(item, form)
    return _decide(item, form, lambda: services.withdraw(item, current_user,
                                                         form.comment.data or ""),
                   _("Request withdrawn."))


def approver_choices() -> list[tuple[str, str]]:
    """"", the resource's own rule; "manager"; "role:<name>"; "user:<id>"."""
    roles = current_roles()
    users = db.session.execute(select(User.id, User.display_name, User.username).where(
        User.active.is_(True), User.id != current_user.id).order_by(User.username).limit(200))
    return [("", _("The usual approver")), ("manager", _("My manager"))] + [
        (f"role:{name}", _("Any %(role)s", role=str(role.title))) for name, role in
        sorted(roles.items())] + [(f"user:{u.id}", u.display_name or u.username) for u in users]


def parse_approver(value: str) -> Approver | None:
    if value == "manager":
        return Approver.manager()
    kind, _sep, rest = (value or "").partition(":")
    if kind == "role" and rest:
        return Approver.of_role(rest)
    if kind == "user" and rest.isdigit():
        return Approver.of_user(int(rest))
    return None


@bp.route("/request/<string(maxlength=60):resource>/<int(max=2147483647):record_id>",
          methods=["GET", "POST"])
@require("approvals.request")
def create(resource: str, record_id: int) -> Any:
    """Send a record (its current version) for approval."""
    spec = services.approvables().get(resource) or abort(404)
    record = spec.load(record_id, current_user) or abort(404)
    form = RequestForm()
    form.approver.choices = approver_choices()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    elif form.validate_on_submit():
        try:
            item = services.request_approval(resource, record, current_user,
                                             parse_approver(form.approver.data or ""),
                                             form.note.data or "")
            db.session.commit()
        except services.ApprovalError as error:
            db.session.rollback()
            if error.field in ("approver_id", "approver_role"):
                form.approver.errors.append(str(error.message))
            else:
                _refused(error)
        else:
            flash(_("Sent for approval."), "success")
            return redirect(safe_next(form.next.data) or url_for(".detail", request_id=item.id))
    return render_template("approvals/request_form.html", form=form, spec=spec,
                           title=spec.title(record)), 400 if request.method == "POST" else 200


@bp.post("/deals/<int(max=2147483647):deal_id>/discount")
@require("deals.edit")
def deal_discount(deal_id: int) -> Any:
    """Set a deal's discount; above the owner's limit the deal's terms go to the manager."""
    deal = get_visible_or_404(Deal, deal_id, current_user)
    form = DiscountForm()
    back = url_for("deals.card", deal_id=deal.id)
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(_("Discount: %(error)s", error=error), "error")
        return redirect(back)
    try:
        made = discount.set_deal_discount(deal, form.percent.data, current_user)
        db.session.commit()
    except services.ApprovalError as error:
        db.session.rollback()
        _refused(error)
        return redirect(back)
    if made is not None and made.status == "pending":
        flash(_("Discount saved. It is above the owner's limit, so the deal's terms were sent "
                "to the manager for approval."), "success")
    else:
        flash(_("Discount saved."), "success")
    return redirect(back)
