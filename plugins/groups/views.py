"""The marketer's screens: groups, their filter builder, members, export, push, unsubscribes."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select

from conveyor import can, colleagues, db, get_visible_or_404, require, scope, scoped
from conveyor.i18n import _
from conveyor.models import Customer, User
from conveyor.queries import written_limit

from .export import csv_response, request_push
from .forms import FILTER_LABELS, KIND_LABELS, MODE_LABELS, PUSH_LABELS, EntityForm, GroupForm
from .models import Group, GroupPush
from .services import (
    GroupError,
    add_member,
    export_counts,
    lead_model,
    leads_enabled,
    member_page,
    remove_member,
    save_group,
)

bp = Blueprint("groups", __name__, url_prefix="/groups", template_folder="templates")
ID = "<int(max=2147483647):group_id>"
PAGE = 50


def before_arg() -> int | None:
    raw = request.args.get("before", "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


@bp.get("/")
@require("groups.view")
def index() -> Any:
    query = scoped(Group, current_user)
    before = before_arg()
    if before is not None:
        query = query.where(Group.id < before)
    groups = list(db.session.scalars(query.order_by(Group.id.desc())
                                     .limit(written_limit(PAGE + 1))))
    next_before = groups[PAGE - 1].id if len(groups) > PAGE else None
    groups = groups[:PAGE]
    ids = [g.id for g in groups]
    latest = select(func.max(GroupPush.id)).where(GroupPush.group_id.in_(ids)).group_by(
        GroupPush.group_id)
    pushes = {p.group_id: p for p in db.session.scalars(
        select(GroupPush).where(GroupPush.id.in_(latest)))} if ids else {}
    return render_template("groups/index.html", groups=groups, pushes=pushes,
                           next_before=next_before, kinds=KIND_LABELS, modes=MODE_LABELS,
                           push_labels=PUSH_LABELS, leads_enabled=leads_enabled())


def _owner_choices(form: GroupForm) -> None:
    query = colleagues(current_user)
    form.owner_id.choices = [("", _("Anyone"))] + [(u.id, u.label)
                                                   for u in db.session.scalars(query)]
    if leads_enabled():
        from conveyor.plugins.leads.forms import STATUS_LABELS
        from conveyor.plugins.leads.models import STATUSES

        form.status.choices = [("", _("Any"))] + [(s, STATUS_LABELS.get(s, s)) for s in STATUSES]
    else:
        form.kind.choices = [c for c in form.kind.choices if c[0] != "leads"]
        form.status.choices = [("", _("Any"))]


def _save(form: GroupForm, group: Group | None) -> Any:
    _owner_choices(form)
    if group is not None and request.method == "GET":
        form.load_filters(group.filters)
    if form.validate_on_submit():
        data = {"name": form.name.data, "kind": form.kind.data, "mode": form.mode.data,
                "webhook_url": form.webhook_url.data, "filters": form.filters()}
        try:
            saved = save_group(group, data, by=current_user._get_current_object())
            db.session.commit()
        except GroupError as exc:
            db.session.rollback()
            getattr(form, exc.field, form.name).errors.append(exc.message)
        else:
            flash(_("Group saved."), "success")
            return redirect(url_for(".show", group_id=saved.id))
    return render_template("groups/form.html", form=form, group=group), \
        400 if request.method == "POST" else 200


@bp.route("/new", methods=["GET", "POST"])
@require("groups.edit")
def create() -> Any:
    return _save(GroupForm(), None)


@bp.route(f"/{ID}/edit", methods=["GET", "POST"])
@require("groups.edit")
def edit(group_id: int) -> Any:
    group = get_visible_or_404(Group, group_id, current_user)
    form = GroupForm(obj=group)
    form.kind.data = group.kind  # fixed once created: members would not fit the other kind
    return _save(form, group)


@bp.post(f"/{ID}/delete")
@require("groups.edit")
def delete(group_id: int) -> Any:
    group = get_visible_or_404(Group, group_id, current_user)
    db.session.delete(group)
    db.session.commit()
    flash(_("Group deleted."), "success")
    return redirect(url_for(".index"))


def _search(group: Group, q: str) -> list[Any]:
    """Candidates to add by hand: visible customers or leads matching ``q``."""
    q = q.strip()[:100]
    if not q or group.mode != "manual":
        return []
    like = f"%{q}%"
    if group.kind == "leads":
        lead = lead_model()
        if lead is None:
            return []
        query = select(lead).where(scope(lead, current_user), or_(
            lead.company.ilike(like), lead.name.ilike(like), lead.email.ilike(like)))
        return list(db.session.scalars(query.order_by(lead.id.desc()).limit(written_limit(20))))
    return list(db.session.scalars(select(Customer).where(
        scope(Customer, current_user), Customer.name.ilike(like)).order_by(Customer.name)
        .limit(written_limit(20))))


@bp.get(f"/{ID}")
@require("groups.view")
def show(group_id: int) -> Any:
    group = get_visible_or_404(Group, group_id, current_user)
    if group.kind == "leads" and not leads_enabled():
        return render_template("groups/show.html", group=group, disabled=True, items=[],
                               addresses={}, pushes=[], found=[], q="", counts=(0, 0),
                               next_before=None, kinds=KIND_LABELS, modes=MODE_LABELS), 409
    items, addresses, next_before = member_page(group, current_user, before_arg(), PAGE)
    pushes = list(db.session.scalars(select(GroupPush).where(GroupPush.group_id == group.id)
                                     .order_by(GroupPush.id.desc()).limit(written_limit(5))))
    q = request.args.get("q", "")
    found = _search(group, q) if can(current_user, "groups.edit") else []
    owner = db.session.get(User, group.filters["owner_id"]) if "owner_id" in (
        group.filters or {}) else None
    return render_template("groups/show.html", group=group, disabled=False, items=items,
                           addresses=addresses, next_before=next_before, pushes=pushes,
                           found=found, q=q, counts=export_counts(group, current_user),
                           kinds=KIND_LABELS, modes=MODE_LABELS, filter_labels=FILTER_LABELS,
                           push_labels=PUSH_LABELS, owner=owner)


@bp.post(f"/{ID}/members")
@require("groups.edit")
def add(group_id: int) -> Any:
    group = get_visible_or_404(Group, group_id, current_user)
    form = EntityForm()
    if not form.validate_on_submit():
        abort(400, description=_("Choose someone to add."))
    try:
        added = add_member(group, form.entity_id.data, by=current_user._get_current_object())
        db.session.commit()
    except GroupError as exc:
        db.session.rollback()
        abort(404 if exc.field in ("customer_id", "lead_id") else 400, description=exc.message)
    flash(_("Added to the group.") if added else _("Already in the group."), "success")
    return redirect(url_for(".show", group_id=group.id))


@bp.post(f"/{ID}/members/<int(max=2147483647):entity_id>/remove")
@require("groups.edit")
def remove(group_id: int, entity_id: int) -> Any:
    group = get_visible_or_404(Group, group_id, current_user)
    if not remove_member(group, entity_id):
        abort(404)
    db.session.commit()
    flash(_("Removed from the group."), "success")
    return redirect(url_for(".show", group_id=group.id))


@bp.get(f"/{ID}/export.csv")
@require("groups.view")
def export(group_id: int) -> Any:
    group = get_visible_or_404(Group, group_id, current_user)
    if group.kind == "leads" and not leads_enabled():
        abort(409, description=_("Lead groups need the leads plugin, which is disabled."))
    return csv_response(group, current_user._get_current_object())


@bp.post(f"/{ID}/push")
@require("groups.edit")
def push(group_id: int) -> Any:
    group = get_visible_or_404(Group, group_id, current_user)
    if group.kind == "leads" and not leads_enabled():
        abort(409, description=_("Lead groups need the leads plugin, which is disabled."))
    try:
        request_push(group, by=current_user._get_current_object())
        db.session.commit()
    except GroupError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("The push has started; its result appears below."), "info")
    return redirect(url_for(".show", group_id=group.id))


from . import unsubscribe_views  # noqa: E402,F401 - registers its routes on bp
