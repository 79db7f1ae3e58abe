"""/api/v1/customers: list with filters, get, create, update; delete refused while it has deals."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint, abort
from sqlalchemy import bindparam, func, or_, select

from .. import crm
from ..extensions import db
from ..models import Contact, Customer, Deal, User
from ..permissions import owner_ids, require, scope_of, scoped
from .common import (
    acting_user,
    apply_list_filters,
    errors,
    field_error,
    id_rule,
    keyset_page,
    keyset_statement_page,
    list_statement,
    not_found,
    page_size,
    saving,
    with_extra_fields,
)
from .fastdump import dumped
from .schemas import (
    CustomerCreateSchema,
    CustomerPageSchema,
    CustomerPatchSchema,
    CustomerQuerySchema,
    CustomerSchema,
)

blp = Blueprint("api_customers", __name__, url_prefix="/api/v1/customers",
                description="Companies the team sells to. A seller sees their own, a manager "
                            "the team's, an admin all.")
TAG = "customers"


def visible_customer(customer_id: int) -> Customer:
    """The customer if the current user may see it; 404 otherwise (never a hint it exists)."""
    customer = db.session.scalar(scoped(Customer, current_user).where(Customer.id == customer_id))
    if customer is None:
        not_found("customer")
    return customer


def check_assignable(owner_id: int, field: str = "owner_id") -> None:
    """A record may be handed to an active user within the giver's own record scope."""
    query = select(User.id).where(User.id == owner_id, User.active.is_(True))
    if scope_of(current_user) != "all":
        query = query.where(User.id.in_(owner_ids(current_user)))
    if db.session.scalar(query) is None:
        field_error(field, "Unknown user, or one you may not assign records to.")


@blp.route("", tags=[TAG])
class Customers(MethodView):
    @require("customers.view")
    @errors(401, 403)
    @blp.arguments(CustomerQuerySchema, location="query")
    @blp.response(200, CustomerPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List customers

        Newest first, a page at a time: follow `pagination.next_before` (or the `Link`
        header). Filters combine with AND.
        """
        given = tuple(k for k in ("q", "industry", "region", "size", "owner_id")
                      if args.get(k) not in (None, ""))
        params = {k: f"%{args[k]}%" if k == "q" else args[k] for k in given}

        def where(query: Any) -> Any:
            for key in given:
                if key == "q":
                    like = bindparam("q")
                    query = query.where(or_(
                        Customer.name.ilike(like), Customer.tax_id.ilike(like),
                        Customer.id.in_(select(Contact.customer_id).where(
                            or_(Contact.name.ilike(like), Contact.email.ilike(like))))))
                else:
                    query = query.where(getattr(Customer, key) == bindparam(key))
            return query

        if args.get("filter"):  # plugin filters build their own criteria: built afresh
            query = apply_list_filters(where(scoped(Customer, current_user)), "customer",
                                       args["filter"])
            page, headers = keyset_page(query, Customer.id, args, params)
        else:
            statement = list_statement(Customer, current_user, given, page_size(args), where)
            page, headers = keyset_statement_page(statement, params, args)
        with_extra_fields("customer", page["items"])
        return dumped(CustomerPageSchema, page, 200, headers)

    @require("customers.edit")
    @errors(401, 403)
    @blp.arguments(CustomerCreateSchema)
    @blp.response(201, CustomerSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a customer

        The owner is you unless `owner_id` names someone whose records you may see.
        """
        if "owner_id" in data:
            check_assignable(data["owner_id"])
        with saving():
            customer = crm.create_customer(data, acting_user())
        with_extra_fields("customer", [customer])
        return customer


@blp.route(f"/{id_rule('customer_id')}", tags=[TAG])
class CustomerItem(MethodView):
    @require("customers.view")
    @errors(401, 403, 404)
    @blp.response(200, CustomerSchema)
    def get(self, customer_id: int) -> Any:
        """Get a customer"""
        customer = visible_customer(customer_id)
        with_extra_fields("customer", [customer])
        return dumped(CustomerSchema, customer)

    @require("customers.edit")
    @errors(401, 403, 404)
    @blp.arguments(CustomerPatchSchema)
    @blp.response(200, CustomerSchema)
    def patch(self, data: dict[str, Any], customer_id: int) -> Any:
        """Update a customer

        Send only the fields to change. Emits `CustomerUpdated` when something changed.
        """
        customer = visible_customer(customer_id)
        if "owner_id" in data and data["owner_id"] != customer.owner_id:
            check_assignable(data["owner_id"])
        with saving():
            crm.update_customer(customer, data, acting_user())
        with_extra_fields("customer", [customer])
        return customer

    @require("customers.delete")
    @errors(401, 403, 404, 409)
    @blp.response(204)
    def delete(self, customer_id: int) -> Any:
        """Delete a customer

        Refused with 409 while the customer has deals: delete or move them first. Its
        contacts and timeline go with it.
        """
        customer = visible_customer(customer_id)
        has_deals = db.session.scalar(select(func.count()).select_from(Deal)
                                      .where(Deal.customer_id == customer.id))
        if has_deals:
            abort(409, message="This customer has deals; delete or move them first.")
        with saving():
            db.session.delete(customer)
        return None
