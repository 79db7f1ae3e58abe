"""Admin screens (permission leads.forms): capture forms with their copy-paste HTML snippet, and
the assignment rules."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload, selectinload

from conveyor import db, require
from conveyor.models import User
from conveyor.queries import written_limit

from .forms import FIELD_LABELS, CaptureForm, RuleForm, origins_from_text
from .models import LeadForm, LeadRule, LeadRuleSeller
from .public import HONEYPOT
from .texts import _
from .views import bp

FORM_ID = "<int(max=2147483647):form_id>"
RULE_ID = "<int(max=2147483647):rule_id>"


@bp.get("/forms/")
@require("leads.forms")
def forms_index() -> Any:
    forms = list(db.session.scalars(select(LeadForm).options(selectinload(LeadForm.rule))
                                    .order_by(LeadForm.key).limit(written_limit(500))))
    return render_template("leads/forms_index.html", forms=forms)


def _rule_choices(form: CaptureForm) -> None:
    form.rule_id.choices = [(0, _("Only the general rules"))] + [
        (r.id, r.name) for r in db.session.scalars(select(LeadRule).order_by(LeadRule.position,
                                                                             LeadRule.id))]


def _save_form(obj: LeadForm, form: CaptureForm) -> None:
    required = set(form.required.data or ())
    obj.key = form.key.data.strip()
    obj.name = form.name.data.strip()
    obj.source = (form.source.data or "").strip()
    obj.fields = [{"name": n, "required": n in required} for n in FIELD_LABELS
                  if n in (form.fields.data or ())]
    obj.thank_you_url = (form.thank_you_url.data or "").strip()
    obj.allowed_origins = origins_from_text(form.allowed_origins.data or "")
    obj.rule_id = form.rule_id.data or None
    obj.active = bool(form.active.data)


@bp.route("/forms/new", methods=["GET", "POST"])
@bp.route(f"/forms/{FORM_ID}/edit", methods=["GET", "POST"])
@require("leads.forms")
def form_edit(form_id: int | None = None) -> Any:
    obj = db.session.get(LeadForm, form_id) if form_id else LeadForm()
    if obj is None:
        abort(404)
    form = CaptureForm(obj=obj if form_id else None)
    _rule_choices(form)
    if request.method == "GET" and form_id:
        form.fields.data = obj.field_names
        form.required.data = obj.required
        form.allowed_origins.data = "\n".join(obj.allowed_origins or ())
        form.rule_id.data = obj.rule_id or 0
    elif request.method == "GET":
        form.fields.data, form.required.data = ["company", "name", "email", "phone"], ["email"]
    if form.validate_on_submit():
        _save_form(obj, form)
        db.session.add(obj)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            form.key.errors.append(_("Another form has this key."))
        else:
            flash(_("Form saved."), "success")
            return redirect(url_for(".form_snippet", form_id=obj.id))
    return render_template("leads/form_edit.html", form=form, obj=obj if form_id else None), \
        400 if request.method == "POST" else 200


@bp.get(f"/forms/{FORM_ID}/snippet")
@require("leads.forms")
def form_snippet(form_id: int) -> Any:
    obj = db.session.get(LeadForm, form_id)
    if obj is None:
        abort(404)
    action = url_for("leads_public.capture", form_key=obj.key, _external=True)
    snippet = render_template("leads/snippet.txt", form=obj, action=action, labels=FIELD_LABELS,
                              honeypot=HONEYPOT)
    return render_template("leads/snippet.html", form=obj, snippet=snippet, action=action)


@bp.get("/rules/")
@require("leads.forms")
def rules_index() -> Any:
    rules = list(db.session.scalars(select(LeadRule).options(selectinload(LeadRule.sellers))
                                    .order_by(LeadRule.position, LeadRule.id)
                                    .limit(written_limit(500))))
    ids = {s.user_id for r in rules for s in r.sellers}
    people = {u.id: u for u in db.session.scalars(
        select(User).where(User.id.in_(ids)).options(lazyload(User.role_grants),
                                                     lazyload(User.memberships)))} if ids else {}
    return render_template("leads/rules_index.html", rules=rules, people=people,
                           rule_keys={**FIELD_LABELS, "source": _("Source")})


def _seller_choices(form: RuleForm) -> None:
    form.sellers.choices = [(u.id, u.label) for u in db.session.scalars(
        select(User).where(User.active.is_(True)).order_by(User.username)
        .options(lazyload(User.role_grants), lazyload(User.memberships)))]


@bp.route("/rules/new", methods=["GET", "POST"])
@bp.route(f"/rules/{RULE_ID}/edit", methods=["GET", "POST"])
@require("leads.forms")
def rule_edit(rule_id: int | None = None) -> Any:
    rule = db.session.get(LeadRule, rule_id) if rule_id else LeadRule(rr_cursor=0)
    if rule is None:
        abort(404)
    form = RuleForm(obj=rule if rule_id else None)
    _seller_choices(form)
    if request.method == "GET" and rule_id:
        form.sellers.data = [s.user_id for s in rule.sellers]
    if form.validate_on_submit():
        for key in ("name", "industry", "region", "size", "source", "strategy"):
            setattr(rule, key, (getattr(form, key).data or "").strip())
        rule.active, rule.position = bool(form.active.data), form.position.data
        rule.hour_from, rule.hour_to = form.hour_from.data, form.hour_to.data
        wanted = set(form.sellers.data or ())
        rule.sellers = [s for s in rule.sellers if s.user_id in wanted] + [
            LeadRuleSeller(user_id=u) for u in sorted(wanted - {s.user_id for s in rule.sellers})]
        db.session.add(rule)
        db.session.commit()
        flash(_("Rule saved."), "success")
        return redirect(url_for(".rules_index"))
    count = db.session.scalar(select(func.count()).select_from(LeadForm)
                              .where(LeadForm.rule_id == rule.id)) if rule_id else 0
    return render_template("leads/rule_edit.html", form=form, rule=rule if rule_id else None,
                           form_count=count), 400 if request.method == "POST" else 200
