"""Customers: list with search and filters, card, create/edit, contacts."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from .. import crm
from ..extensions import db
from ..i18n import _
from ..models import Contact, Customer, Deal, TimelineEntry, User
from ..permissions import get_visible_or_404, owner_ids, require, scope, scope_of, scoped
from . import panels_for
from .forms import ContactForm, CustomerForm
from .listing import before_arg, keyset_page

bp = Blueprint("customers", __name__, url_prefix="/customers")
ID = "<int(max=2147483647):customer_id>"


def list_filters(target: str) -> list[Any]:
    return [f for f in current_app.extensions["conveyor"].list_filters if f.model == target]


def assignable_users(user: Any) -> list[User]:
    """Whom this user may hand a record to: themselves, their team, or anyone (scope all)."""
    query = select(User).where(User.active.is_(True)).order_by(User.username)
    if scope_of(user) != "all":
        query = query.where(User.id.in_(owner_ids(user)))
    return list(db.session.scalars(query))


@bp.get("/")
@require("customers.view")
def index() -> Any:
    query = scoped(Customer, current_user)
    q = request.args.get("q", "").strip()[:100]
    if q:
        like = f"%{q}%"
        query = query.where(or_(Customer.name.ilike(like), Customer.tax_id.ilike(like),
                                Customer.id.in_(select(Contact.customer_id).where(
                                    or_(Contact.name.ilike(like), Contact.email.ilike(like))))))
    for key in ("industry", "region", "size"):
        value = request.args.get(key, "").strip()[:80]
        if value:
            query = query.where(getattr(Customer, key) == value)
    owner = request.args.get("owner", "")
    if owner.isdigit() and len(owner) < 10:
        query = query.where(Customer.owner_id == int(owner))
    filters = list_filters("customer")
    for f in filters:
        value = request.args.get(f.name, "")
        if value:
            query = f.apply(query, value)
    page = keyset_page(query, Customer.id, before_arg())
    args = {k: v for k, v in request.args.items() if k != "before"}
    facets = {
        key: [v for (v,) in db.session.execute(
            select(getattr(Customer, key)).where(scope(Customer, current_user))
            .where(getattr(Customer, key) != "").group_by(getattr(Customer, key))
            .order_by(getattr(Customer, key)).limit(200))]
        for key in ("industry", "region")
    }
    owners = {u.id: u for u in db.session.scalars(
        select(User).where(User.id.in_({c.owner_id for c in page.items if c.owner_id})))}
    return render_template("customers/index.html", page=page, args=args, q=q, facets=facets,
                           filters=filters, owners=owners,
                           assignable=assignable_users(current_user))


def _owner_choices(form: CustomerForm) -> None:
    form.owner_id.choices = [(u.id, u.label) for u in assignable_users(current_user)]


@bp.route("/new", methods=["GET", "POST"])
@require("customers.edit")
def create() -> Any:
    form = CustomerForm()
    _owner_choices(form)
    if request.method == "GET":
        form.owner_id.data = current_user.id
    if form.validate_on_submit():
        data = _customer_data(form)
        customer = crm.create_customer(data, current_user)
        db.session.commit()
        flash(_("Customer created."), "success")
        return redirect(url_for(".card", customer_id=customer.id))
    return render_template("customers/form.html", form=form, customer=None), \
        400 if request.method == "POST" else 200


def _customer_data(form: CustomerForm) -> dict[str, Any]:
    return {k: (getattr(form, k).data or "").strip() if k != "owner_id" else
            (getattr(form, k).data or current_user.id)
            for k in ("name", "industry", "region", "size", "tax_id", "address", "owner_id")}


@bp.get(f"/{ID}")
@require("customers.view")
def card(customer_id: int) -> Any:
    customer = get_visible_or_404(Customer, customer_id, current_user)
    deals = list(db.session.scalars(
        select(Deal).options(selectinload(Deal.stage))
        .where(Deal.customer_id == customer.id).where(scope(Deal, current_user))
        .order_by(Deal.id.desc()).limit(100)))
    timeline = list(db.session.scalars(
        select(TimelineEntry).options(selectinload(TimelineEntry.by))
        .where(TimelineEntry.customer_id == customer.id)
        # Entries about a deal show only to those who may see that deal.
        .where(or_(TimelineEntry.deal_id.is_(None), TimelineEntry.deal_id.in_(
            select(Deal.id).where(scope(Deal, current_user)))))
        .order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc()).limit(50)))
    deal_count = db.session.scalar(select(func.count()).select_from(Deal)
                                   .where(Deal.customer_id == customer.id)
                                   .where(scope(Deal, current_user)))
    actions = [a for group in current_app.extensions["conveyor"].hook.customer_actions(
        customer=customer, user=current_user, request=request) for a in (group or ())]
    return render_template("customers/card.html", customer=customer, deals=deals,
                           deal_count=deal_count, timeline=timeline, contact_form=ContactForm(),
                           panels=panels_for("customer"), actions=actions)


@bp.route(f"/{ID}/edit", methods=["GET", "POST"])
@require("customers.edit")
def edit(customer_id: int) -> Any:
    customer = get_visible_or_404(Customer, customer_id, current_user)
    form = CustomerForm(obj=customer)
    _owner_choices(form)
    if customer.owner_id and customer.owner_id not in dict(form.owner_id.choices):
        form.owner_id.choices.insert(0, (customer.owner_id, customer.owner.label))
    if form.validate_on_submit():
        crm.update_customer(customer, _customer_data(form), current_user)
        db.session.commit()
        flash(_("Customer saved."), "success")
        return redirect(url_for(".card", customer_id=customer.id))
    return render_template("customers/form.html", form=form, customer=customer), \
        400 if request.method == "POST" else 200


@bp.post(f"/{ID}/contacts")
@require("customers.edit")
def add_contact(customer_id: int) -> Any:
    customer = get_visible_or_404(Customer, customer_id, current_user)
    form = ContactForm()
    if form.validate_on_submit():
        contact = Contact(customer=customer, name=form.name.data.strip(),
                          position=(form.position.data or "").strip(),
                          phone=(form.phone.data or "").strip(),
                          email=(form.email.data or "").strip().lower(),
                          decision_maker=bool(form.decision_maker.data))
        db.session.add(contact)
        crm.post_timeline("contact.added", contact.name, customer=customer, by=current_user)
        db.session.commit()
        flash(_("Contact added."), "success")
        return redirect(url_for(".card", customer_id=customer.id))
    deals = list(db.session.scalars(select(Deal).where(Deal.customer_id == customer.id)
                                    .where(scope(Deal, current_user)).limit(100)))
    return render_template("customers/card.html", customer=customer, deals=deals,
                           deal_count=len(deals), timeline=[], contact_form=form,
                           panels=panels_for("customer"), actions=[]), 400


@bp.post(f"/{ID}/delete")
@require("customers.delete")
def delete(customer_id: int) -> Any:
    customer = get_visible_or_404(Customer, customer_id, current_user)
    if db.session.scalar(select(func.count()).select_from(Deal)
                         .where(Deal.customer_id == customer.id)):
        flash(_("This customer has deals; delete or move them first."), "error")
        return redirect(url_for(".card", customer_id=customer.id))
    db.session.delete(customer)
    db.session.commit()
    flash(_("Customer deleted."), "success")
    return redirect(url_for(".index"))


