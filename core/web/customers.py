"""Customers: list with search and filters, card, create/edit, contacts."""
from __future__ import annotations

import time
from functools import lru_cache
from typing import Any, NamedTuple

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import aliased, joinedload

from .. import crm
from ..extensions import db
from ..i18n import _
from ..models import Contact, Customer, Deal, Stage, User
from ..permissions import (
    can,
    get_visible_or_404,
    owner_ids,
    require,
    scope,
    scope_of,
    scoped,
    scoped_statement,
)
from ..queries import written_limit
from . import panels_for
from .forms import ContactForm, CustomerForm
from .listing import before_arg, keyset_rows, only_paging, plain_rows
from .timeline import card_timeline

bp = Blueprint("customers", __name__, url_prefix="/customers")
ID = "<int(max=2147483647):customer_id>"
CARD_DEALS = 100  # the newest deals shown on a customer's card; the heading counts them all


def list_filters(target: str) -> list[Any]:
    return [f for f in current_app.extensions["conveyor"].list_filters if f.model == target]


class Person(NamedTuple):
    id: int
    label: str


def assignable_users(user: Any) -> list[Person]:
    """Whom this user may hand a record to: themselves, their team, or anyone (scope all).
    Ids and names only (for a select): no User objects to build."""
    kind = scope_of(user)
    if kind == "own":  # only themselves: no query
        return [Person(user.id, user.label)] if user.active else []

    def build() -> Any:
        query = (select(User.id, User.display_name, User.username)
                 .where(User.active.is_(True)).order_by(User.username))
        return query if kind == "all" else query.where(User.id.in_(owner_ids(user)))

    return [Person(uid, display or username) for uid, display, username in
            plain_rows(scoped_statement(User, user, ("assignable",), build))]


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
    page = keyset_rows(query, Customer.id, before_arg(), rows=customer_rows,
                       unfiltered=(Customer, current_user, "customers") if only_paging() else None)
    args = {k: v for k, v in request.args.items() if k != "before"}
    return render_template("customers/index.html", page=page, args=args, q=q,
                           suggestions=facet_suggestions(current_user), filters=filters,
                           assignable=assignable_users(current_user))


def customer_rows(ids: Any) -> Any:
    """A customers list row for the customers ``ids`` selects, the owner's names joined in."""
    owner = aliased(User, name="list_owner")
    return (select(Customer.id, Customer.name, Customer.industry, Customer.region,
                   Customer.size, owner.display_name.label("owner_display"),
                   owner.username.label("owner_username"))
            .outerjoin(owner, owner.id == Customer.owner_id).where(Customer.id.in_(ids)))


SUGGESTION_SOURCE = 500  # the newest visible customers whose industries and regions are offered
SUGGESTION_SECONDS = 120  # how long a user's suggestions are reused (per process)


def facet_suggestions(user: Any) -> dict[str, list[str]]:
    """Industries and regions to offer while typing a filter (an HTML datalist): those of the
    user's newest ``SUGGESTION_SOURCE`` visible customers, kept a couple of minutes per user.
    A bounded read down the primary key, where a DISTINCT over every visible customer would
    scan them all (100k); any value can still be typed and filters exactly."""
    cache = current_app.extensions.setdefault("conveyor_facet_suggestions", {})
    key = (getattr(user, "id", None), scope_of(user))
    now = time.monotonic()
    hit = cache.get(key)
    if hit is not None and now - hit[0] < SUGGESTION_SECONDS:
        return hit[1]
    recent = (select(Customer.industry, Customer.region).where(scope(Customer, user))
              .order_by(Customer.id.desc()).limit(SUGGESTION_SOURCE))
    industries: set[str] = set()
    regions: set[str] = set()
    for industry, region in db.session.execute(recent):
        if industry:
            industries.add(industry)
        if region:
            regions.add(region)
    found = {"industry": sorted(industries)[:200], "region": sorted(regions)[:200]}
    if len(cache) >= 5000:
        cache.clear()
    cache[key] = (now, found)
    return found


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
    customer = get_visible_or_404(Customer, customer_id, current_user,
                                  options=_card_options(), cache_key="card")
    sees_deals = can(current_user, "deals.view")  # a marketer sees customers, not their deals
    deals, deal_count = card_deals(customer) if sees_deals else ([], 0)
    panels = panels_for("customer")
    timeline = card_timeline("customer", customer.id, current_user, panels)
    actions = [a for group in current_app.extensions["conveyor"].hook.customer_actions(
        customer=customer, user=current_user, request=request) for a in (group or ())]
    return render_template("customers/card.html", customer=customer, deals=deals,
                           deal_count=deal_count, timeline=timeline,
                           panels=panels, actions=actions)


@lru_cache(maxsize=1)
def _card_options() -> tuple[Any, ...]:
    """Built once: the loader options are only read when the kept statement is first built."""
    return joinedload(Customer.contacts), joinedload(Customer.owner)


def card_deals(customer: Customer) -> tuple[list[Any], int]:
    """The newest ``CARD_DEALS`` visible deals of a customer with their stage, and how many
    there are in all: one statement (the count is a window over the rows before the LIMIT)."""
    statement = scoped_statement(Deal, current_user, ("card_deals", CARD_DEALS), lambda: (
        select(Deal.id, Deal.title, Deal.amount, Deal.currency, Stage.percent, Stage.name,
               Stage.is_won, Stage.is_lost, func.count().over().label("total"))
        .join(Stage, Stage.id == Deal.stage_id)
        .where(Deal.customer_id == bindparam("customer_id")).where(scope(Deal, current_user))
        .order_by(Deal.id.desc()).limit(written_limit(CARD_DEALS))))
    rows = plain_rows(statement, {"customer_id": customer.id})
    return rows, rows[0].total if rows else 0


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


@bp.get(f"/{ID}/contacts/new")
@require("customers.edit")
def new_contact(customer_id: int) -> Any:
    customer = get_visible_or_404(Customer, customer_id, current_user)
    return render_template("customers/contact_form.html", customer=customer,
                           form=contact_form())


def contact_form() -> ContactForm:
    """The contact form with its language choices: not known, then the app's languages."""
    from .profile import language_choices  # profile imports deals, which imports this module

    form = ContactForm()
    form.language.choices = [("", _("Not known")), *language_choices()]
    return form


@bp.post(f"/{ID}/contacts")
@require("customers.edit")
def add_contact(customer_id: int) -> Any:
    customer = get_visible_or_404(Customer, customer_id, current_user)
    form = contact_form()
    if form.validate_on_submit():
        contact = Contact(customer=customer, name=form.name.data.strip(),
                          position=(form.position.data or "").strip(),
                          phone=(form.phone.data or "").strip(),
                          email=(form.email.data or "").strip().lower(),
                          decision_maker=bool(form.decision_maker.data),
                          language=form.language.data or "")
        db.session.add(contact)
        crm.post_timeline("contact.added", contact.name, customer=customer, by=current_user)
        db.session.commit()
        flash(_("Contact added."), "success")
        return redirect(url_for(".card", customer_id=customer.id))
    return render_template("customers/contact_form.html", customer=customer, form=form), 400


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


