"""Lead screens: the list (search, filters, keyset pages, bulk assign) and the lead card with
its assignment history, activities, status actions and conversion."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import lazyload

from conveyor import can, db, get_visible_or_404, require, scope, scoped, setting
from conveyor.models import Customer, User
from conveyor.queries import written_limit
from conveyor.web.listing import before_arg, keyset_page

from .assignment import AssignError, assign_lead, assignable_ids
from .conversion import convert_lead
from .forms import (
    ACTIVITY_LABELS,
    ASSIGNMENT_REASONS,
    SOURCE_LABELS,
    STATUS_LABELS,
    SYSTEM_ACTIVITY_LABELS,
    ActivityForm,
    AssignForm,
    ConvertForm,
    LeadForm,
    StatusForm,
)
from .models import STATUSES, Lead, LeadActivity, LeadAssignment
from .normalize import normalize_phone
from .services import TRANSITIONS, LeadError, add_activity, change_status, create_lead, update_lead
from .texts import _

bp = Blueprint("leads", __name__, url_prefix="/leads", template_folder="templates")


@bp.app_template_filter("lead_source")
def _lead_source(code: str) -> Any:
    """A lead's source in the reader's language where the plugins set it (a phone call); a
    form's or an import's source is the admin's own words."""
    return SOURCE_LABELS.get(code, code)


@bp.app_template_filter("lead_reason")
def _lead_reason(code: str) -> Any:
    return ASSIGNMENT_REASONS.get(code, code)


@bp.app_template_filter("lead_activity")
def _lead_activity(code: str) -> Any:
    return ACTIVITY_LABELS.get(code) or SYSTEM_ACTIVITY_LABELS.get(code, code)
ID = "<int(max=2147483647):lead_id>"
EDITABLE = ("company", "name", "email", "phone", "tax_id", "industry", "region", "size",
            "products", "notes")


def users_by_id(ids: set[int | None]) -> dict[int, User]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(
        select(User).where(User.id.in_(ids)).options(lazyload(User.role_grants),
                                                      lazyload(User.memberships)))}


def assignable_users() -> list[User]:
    return list(db.session.scalars(
        select(User).where(User.id.in_(assignable_ids(current_user))).order_by(User.username)
        .options(lazyload(User.role_grants), lazyload(User.memberships))))


def filtered_leads(args: Any, user: Any) -> Any:
    """The scoped query for the list's filters; shared by the web list and the API."""
    query = scoped(Lead, user)
    q = (args.get("q") or "").strip()[:100]
    if q:
        conds = [Lead.company.icontains(q, autoescape=True),
                 Lead.name.icontains(q, autoescape=True),
                 Lead.email_normalized.contains(q.lower(), autoescape=True)]
        phone = normalize_phone(q, setting("leads.default_region")) \
            if sum(ch.isdigit() for ch in q) >= 5 else ""
        if phone:
            conds.append(Lead.phone_e164 == phone)
        query = query.where(or_(*conds))
    status = args.get("status") or ""
    if status == "open":
        query = query.where(Lead.status.in_(("new", "in_progress", "qualified")))
    elif status in STATUSES:
        query = query.where(Lead.status == status)
    source = (args.get("source") or "").strip()[:80]
    if source:
        query = query.where(Lead.source == source)
    owner = str(args.get("owner") or args.get("owner_id") or "")
    if owner == "none":
        query = query.where(Lead.owner_id.is_(None))
    elif owner.isdigit() and len(owner) < 10:
        query = query.where(Lead.owner_id == int(owner))
    return query


@bp.get("/")
@require("leads.view")
def index() -> Any:
    page = keyset_page(filtered_leads(request.args, current_user), Lead.id, before_arg())
    owners = users_by_id({lead.owner_id for lead in page.items})
    sources = [s for (s,) in db.session.execute(
        select(Lead.source).where(scope(Lead, current_user)).where(Lead.source != "")
        .group_by(Lead.source).order_by(Lead.source).limit(written_limit(100)))]
    people = assignable_users()
    args = {k: v for k, v in request.args.items() if k != "before"}
    return render_template("leads/index.html", page=page, owners=owners, sources=sources,
                           people=people, args=args, statuses=STATUS_LABELS,
                           can_assign=can(current_user, "leads.assign"))


@bp.post("/assign")
@require("leads.assign")
def bulk_assign() -> Any:
    """Assign the ticked leads (those the manager may see) to one person."""
    form = AssignForm()
    form.owner_id.choices = [(0, "—")] + [(u.id, u.label) for u in assignable_users()]
    raw = [i for i in request.form.getlist("lead_id") if i.isdigit() and len(i) < 10][:500]
    back = request.form.get("next") or url_for(".index")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for(".index")
    if not form.validate_on_submit() or not raw:
        flash(_("Tick the leads and choose the person to assign them to."), "error")
        return redirect(back)
    leads = list(db.session.scalars(scoped(Lead, current_user).where(Lead.id.in_(map(int, raw)))))
    owner_id = form.owner_id.data or None
    try:
        done = sum(assign_lead(lead, owner_id, by=current_user, reason="manual",
                               detail=form.note.data or "") for lead in leads)
    except AssignError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back)
    db.session.commit()
    flash(_("%(n)s leads assigned.", n=done), "success")
    return redirect(back)


@bp.route("/new", methods=["GET", "POST"])
@require("leads.edit")
def create() -> Any:
    form = LeadForm()
    if form.validate_on_submit():
        data = {k: getattr(form, k).data or "" for k in EDITABLE}
        try:
            lead = create_lead(data, source=(form.source.data or "").strip() or "manual",
                               by=current_user)
        except LeadError as exc:
            db.session.rollback()
            getattr(form, exc.field, form.company).errors.append(exc.message)
        else:
            db.session.commit()
            flash(_("The details matched lead #%(id)s; they were added to it.", id=lead.id)
                  if lead.merged else _("Lead created."), "success")
            return redirect(url_for(".card", lead_id=lead.id))
    return render_template("leads/form.html", form=form, lead=None), \
        400 if request.method == "POST" else 200


@bp.route(f"/{ID}/edit", methods=["GET", "POST"])
@require("leads.edit")
def edit(lead_id: int) -> Any:
    lead = get_visible_or_404(Lead, lead_id, current_user)
    form = LeadForm(obj=lead)
    del form.source
    if form.validate_on_submit():
        try:
            update_lead(lead, {k: getattr(form, k).data or "" for k in EDITABLE}, by=current_user)
        except LeadError as exc:
            db.session.rollback()
            getattr(form, exc.field, form.company).errors.append(exc.message)
        else:
            db.session.commit()
            flash(_("Lead saved."), "success")
            return redirect(url_for(".card", lead_id=lead.id))
    return render_template("leads/form.html", form=form, lead=lead), \
        400 if request.method == "POST" else 200


def _status_choices(lead: Lead) -> list[tuple[str, Any]]:
    return [(s, STATUS_LABELS[s]) for s in TRANSITIONS.get(lead.status, ())]


def render_card(lead: Lead, status: int = 200, **forms: Any) -> Any:
    assignments = list(db.session.scalars(
        select(LeadAssignment).where(LeadAssignment.lead_id == lead.id)
        .order_by(LeadAssignment.at.desc(), LeadAssignment.id.desc()).limit(written_limit(100))))
    activities = list(db.session.scalars(
        select(LeadActivity).where(LeadActivity.lead_id == lead.id)
        .order_by(LeadActivity.at.desc(), LeadActivity.id.desc()).limit(written_limit(100))))
    people = users_by_id({lead.owner_id, *(a.owner_id for a in assignments),
                          *(a.previous_owner_id for a in assignments),
                          *(a.by_id for a in assignments), *(a.by_id for a in activities)})
    same = [c for c in (Lead.email_normalized == lead.email_normalized if lead.email_normalized
                        else None,
                        Lead.phone_e164 == lead.phone_e164 if lead.phone_e164 else None) if
            c is not None]
    related = list(db.session.scalars(scoped(Lead, current_user).where(or_(*same))
                                      .where(Lead.id != lead.id).order_by(Lead.id.desc())
                                      .limit(written_limit(10)))) if same else []
    customer = db.session.scalar(scoped(Customer, current_user).where(
        Customer.id == lead.customer_id)) if lead.customer_id else None
    status_form = forms.get("status_form") or StatusForm()
    status_form.status.choices = _status_choices(lead)
    assign_form = forms.get("assign_form")
    if assign_form is None and can(current_user, "leads.assign"):
        assign_form = AssignForm(owner_id=lead.owner_id or 0)
    if assign_form is not None:
        assign_form.owner_id.choices = [(0, _("Unassigned"))] + [
            (u.id, u.label) for u in assignable_users()]
    return render_template(
        "leads/card.html", lead=lead, assignments=assignments, activities=activities,
        people=people, related=related, customer=customer, statuses=STATUS_LABELS,
        status_form=status_form,
        activity_form=forms.get("activity_form") or ActivityForm(), assign_form=assign_form,
        convert_form=forms.get("convert_form") or ConvertForm()), status


@bp.get(f"/{ID}")
@require("leads.view")
def card(lead_id: int) -> Any:
    return render_card(get_visible_or_404(Lead, lead_id, current_user))


def _done(lead: Lead, message: str) -> Any:
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".card", lead_id=lead.id))


@bp.post(f"/{ID}/status")
@require("leads.edit")
def status(lead_id: int) -> Any:
    lead = get_visible_or_404(Lead, lead_id, current_user)
    form = StatusForm()
    form.status.choices = _status_choices(lead)
    if form.validate_on_submit():
        try:
            change_status(lead, form.status.data, by=current_user,
                          reason=form.disqualify_reason.data or "")
        except LeadError as exc:
            db.session.rollback()
            field = form.disqualify_reason if exc.field == "disqualify_reason" else form.status
            field.errors.append(exc.message)
        else:
            return _done(lead, _("Status changed."))
    return render_card(lead, 400, status_form=form)


@bp.post(f"/{ID}/activities")
@require("leads.edit")
def activity(lead_id: int) -> Any:
    lead = get_visible_or_404(Lead, lead_id, current_user)
    form = ActivityForm()
    if form.validate_on_submit():
        try:
            add_activity(lead, form.kind.data, form.note.data, by=current_user)
        except LeadError as exc:
            db.session.rollback()
            getattr(form, exc.field, form.note).errors.append(exc.message)
        else:
            return _done(lead, _("Activity logged."))
    return render_card(lead, 400, activity_form=form)


@bp.post(f"/{ID}/assign")
@require("leads.assign")
def assign(lead_id: int) -> Any:
    lead = get_visible_or_404(Lead, lead_id, current_user)
    form = AssignForm()
    form.owner_id.choices = [(0, "—")] + [(u.id, u.label) for u in assignable_users()]
    if form.validate_on_submit():
        try:
            changed = assign_lead(lead, form.owner_id.data or None, by=current_user,
                                  detail=form.note.data or "")
        except AssignError as exc:
            db.session.rollback()
            form.owner_id.errors.append(exc.message)
        else:
            return _done(lead, _("Lead assigned.") if changed else _("The owner is unchanged."))
    return render_card(lead, 400, assign_form=form)


@bp.post(f"/{ID}/convert")
@require("leads.edit")
def convert(lead_id: int) -> Any:
    lead = get_visible_or_404(Lead, lead_id, current_user)
    if not can(current_user, "customers.edit") or not can(current_user, "deals.edit"):
        abort(403)
    form = ConvertForm()
    if form.validate_on_submit():
        try:
            result = convert_lead(lead, by=current_user, deal_title=form.deal_title.data or "")
        except LeadError as exc:
            db.session.rollback()
            form.deal_title.errors.append(exc.message)
        else:
            db.session.commit()
            flash(_("Converted: customer, contact and deal created or linked."), "success")
            return redirect(url_for("deals.card", deal_id=result.deal.id))
    return render_card(lead, 400, convert_form=form)
