"""Contacts: listed and created under their customer, read and changed at /contacts/{id}.

A contact is visible exactly when its customer is (``Contact.__record_rule__``).
"""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import or_

from .. import crm
from ..extensions import db
from ..models import Contact
from ..permissions import require, scoped
from .common import acting_user, errors, id_rule, keyset_page, not_found, saving, with_extra_fields
from .customers import visible_customer
from .fastdump import dumped
from .schemas import (
    ContactCreateSchema,
    ContactPageSchema,
    ContactPatchSchema,
    ContactQuerySchema,
    ContactSchema,
)

blp = Blueprint("api_contacts", __name__, url_prefix="/api/v1",
                description="The people who work at a customer.")
TAG = "contacts"


def visible_contact(contact_id: int) -> Contact:
    contact = db.session.scalar(scoped(Contact, current_user).where(Contact.id == contact_id))
    if contact is None:
        not_found("contact")
    return contact


@blp.route(f"/customers/{id_rule('customer_id')}/contacts", tags=[TAG])
class CustomerContacts(MethodView):
    @require("customers.view")
    @errors(401, 403, 404)
    @blp.arguments(ContactQuerySchema, location="query")
    @blp.response(200, ContactPageSchema)
    def get(self, args: dict[str, Any], customer_id: int) -> Any:
        """List a customer's contacts

        Newest first, keyset pagination like every list.
        """
        customer = visible_customer(customer_id)
        query = scoped(Contact, current_user).where(Contact.customer_id == customer.id)
        if args.get("q"):
            like = f"%{args['q']}%"
            query = query.where(or_(Contact.name.ilike(like), Contact.email.ilike(like)))
        if args.get("decision_maker") is not None:
            query = query.where(Contact.decision_maker.is_(args["decision_maker"]))
        page, headers = keyset_page(query, Contact.id, args)
        with_extra_fields("contact", page["items"])
        return dumped(ContactPageSchema, page, 200, headers)

    @require("customers.edit")
    @errors(401, 403, 404)
    @blp.arguments(ContactCreateSchema)
    @blp.response(201, ContactSchema)
    def post(self, data: dict[str, Any], customer_id: int) -> Any:
        """Add a contact to a customer

        Posts `contact.added` to the customer's timeline, as the web form does.
        """
        customer = visible_customer(customer_id)
        with saving():
            contact = Contact(customer=customer, **data)
            db.session.add(contact)
            crm.post_timeline("contact.added", contact.name, customer=customer, by=acting_user())
        with_extra_fields("contact", [contact])
        return contact


@blp.route(f"/contacts/{id_rule('contact_id')}", tags=[TAG])
class ContactItem(MethodView):
    @require("customers.view")
    @errors(401, 403, 404)
    @blp.response(200, ContactSchema)
    def get(self, contact_id: int) -> Any:
        """Get a contact"""
        contact = visible_contact(contact_id)
        with_extra_fields("contact", [contact])
        return dumped(ContactSchema, contact)

    @require("customers.edit")
    @errors(401, 403, 404)
    @blp.arguments(ContactPatchSchema)
    @blp.response(200, ContactSchema)
    def patch(self, data: dict[str, Any], contact_id: int) -> Any:
        """Update a contact

        Send only the fields to change.
        """
        contact = visible_contact(contact_id)
        with saving():
            for key, value in data.items():
                setattr(contact, key, value)
        with_extra_fields("contact", [contact])
        return contact

    @require("customers.edit")
    @errors(401, 403, 404)
    @blp.response(204)
    def delete(self, contact_id: int) -> Any:
        """Delete a contact

        Posts `contact.removed` to the customer's timeline.
        """
        contact = visible_contact(contact_id)
        with saving():
            crm.post_timeline("contact.removed", contact.name, customer=contact.customer_id,
                              by=acting_user())
            db.session.delete(contact)
        return None
