"""/api/v1/leads: list (q, filters, keyset pages), get, create, update, assign, convert, history;
and the public capture endpoint described in the same OpenAPI document."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint, abort
from sqlalchemy import select
from werkzeug.routing import Map, Rule

from conveyor import can, db, require, scoped
from conveyor.api.common import errors, field_error, id_rule, keyset_page
from conveyor.queries import written_limit

from .assignment import AssignError, assign_lead
from .conversion import convert_lead
from .models import Lead, LeadActivity, LeadAssignment
from .schemas import (
    AssignSchema,
    ConversionSchema,
    ConvertSchema,
    LeadCreateSchema,
    LeadHistorySchema,
    LeadPageSchema,
    LeadPatchSchema,
    LeadQuerySchema,
    LeadSchema,
    PublicLeadSchema,
)
from .services import LeadError, change_status, create_lead, update_lead
from .views import filtered_leads

blp = Blueprint("leads_api", __name__, url_prefix="/api/v1/leads",
                description="Leads: captured on the website, imported, or entered by hand; "
                            "a seller sees their own, a manager the team's and the unassigned.")
TAG = "leads"


def visible_lead(lead_id: int) -> Lead:
    lead = db.session.scalar(scoped(Lead, current_user).where(Lead.id == lead_id))
    if lead is None:
        abort(404, message="No such lead, or you may not see it.")
    return lead


def _lead_error(exc: LeadError | AssignError) -> None:
    db.session.rollback()
    field_error(exc.field, exc.message)


@blp.route("", tags=[TAG])
class Leads(MethodView):
    @require("leads.view")
    @errors(401, 403)
    @blp.arguments(LeadQuerySchema, location="query")
    @blp.response(200, LeadPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List leads

        Newest first, a page at a time (`pagination.next_before`). Filters combine with AND.
        """
        query = filtered_leads(args, current_user)
        if args.get("unassigned"):
            query = query.where(Lead.owner_id.is_(None))
        page, headers = keyset_page(query, Lead.id, args)
        return page, 200, headers

    @require("leads.edit")
    @errors(401, 403)
    @blp.arguments(LeadCreateSchema)
    @blp.response(201, LeadSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a lead

        Deduplicated like every lead: if the email or phone matches an open lead, the details
        are added to that lead and it is returned with `merged: true`. Without `owner_id` the
        assignment rules decide. Emits `LeadCaptured` (and `LeadAssigned`).
        """
        owner_id = data.pop("owner_id", None)
        source = data.pop("source", "api")
        if owner_id is not None and not can(current_user, "leads.assign") \
                and owner_id != current_user.id:
            field_error("owner_id", "Only someone who may assign leads can choose the owner.")
        if owner_id is not None:
            from conveyor.models import User

            from .assignment import assignable_ids

            if db.session.scalar(assignable_ids(current_user).where(User.id == owner_id)) is None:
                field_error("owner_id", "Unknown user, or one you may not assign leads to.")
        try:
            lead = create_lead(data, source=source, by=current_user, owner_id=owner_id)
        except LeadError as exc:
            _lead_error(exc)
        db.session.commit()
        return lead


@blp.route(f"/{id_rule('lead_id')}", tags=[TAG])
class LeadItem(MethodView):
    @require("leads.view")
    @errors(401, 403, 404)
    @blp.response(200, LeadSchema)
    def get(self, lead_id: int) -> Any:
        """Get a lead"""
        return visible_lead(lead_id)

    @require("leads.edit")
    @errors(401, 403, 404)
    @blp.arguments(LeadPatchSchema)
    @blp.response(200, LeadSchema)
    def patch(self, data: dict[str, Any], lead_id: int) -> Any:
        """Update a lead

        Send only the fields to change. `status` moves the lead (a disqualification needs
        `disqualify_reason`); emits `LeadStatusChanged`.
        """
        lead = visible_lead(lead_id)
        status = data.pop("status", None)
        reason = data.pop("disqualify_reason", "")
        try:
            if data:
                update_lead(lead, data, by=current_user)
            if status is not None:
                change_status(lead, status, by=current_user, reason=reason)
        except LeadError as exc:
            _lead_error(exc)
        db.session.commit()
        return lead


@blp.route(f"/{id_rule('lead_id')}/assign", tags=[TAG])
class LeadAssign(MethodView):
    @require("leads.assign")
    @errors(401, 403, 404)
    @blp.arguments(AssignSchema)
    @blp.response(200, LeadSchema)
    def post(self, data: dict[str, Any], lead_id: int) -> Any:
        """Assign a lead

        To a user within your record scope, or `null` to unassign. Recorded in the lead's
        assignment history with reason `manual`; emits `LeadAssigned`.
        """
        lead = visible_lead(lead_id)
        try:
            assign_lead(lead, data["owner_id"], by=current_user, detail=data.get("note", ""))
        except AssignError as exc:
            _lead_error(exc)
        db.session.commit()
        return lead


@blp.route(f"/{id_rule('lead_id')}/convert", tags=[TAG])
class LeadConvert(MethodView):
    @require("leads.edit")
    @errors(401, 403, 404)
    @blp.arguments(ConvertSchema)
    @blp.response(201, ConversionSchema)
    def post(self, data: dict[str, Any], lead_id: int) -> Any:
        """Convert a qualified lead

        Links the matched customer and contact or creates them, and opens a deal at the first
        stage; the lead's source and history go onto the customer's timeline. Emits
        `LeadConverted`. 422 unless the lead is qualified.
        """
        lead = visible_lead(lead_id)
        if not (can(current_user, "customers.edit") and can(current_user, "deals.edit")):
            abort(403, message="Converting needs customers.edit and deals.edit.")
        try:
            result = convert_lead(lead, by=current_user, deal_title=data.get("deal_title", ""))
        except LeadError as exc:
            _lead_error(exc)
        db.session.commit()
        return {"lead": lead, "customer_id": result.customer.id,
                "contact_id": result.contact.id if result.contact else None,
                "deal_id": result.deal.id}


@blp.route(f"/{id_rule('lead_id')}/history", tags=[TAG])
class LeadHistory(MethodView):
    @require("leads.view")
    @errors(401, 403, 404)
    @blp.response(200, LeadHistorySchema)
    def get(self, lead_id: int) -> Any:
        """A lead's assignments and activities, newest first (at most 200 of each)"""
        lead = visible_lead(lead_id)
        return {
            "assignments": list(db.session.scalars(
                select(LeadAssignment).where(LeadAssignment.lead_id == lead.id)
                .order_by(LeadAssignment.at.desc(), LeadAssignment.id.desc())
                .limit(written_limit(200)))),
            "activities": list(db.session.scalars(
                select(LeadActivity).where(LeadActivity.lead_id == lead.id)
                .order_by(LeadActivity.at.desc(), LeadActivity.id.desc())
                .limit(written_limit(200)))),
        }


def document_public_endpoint(api: Any) -> None:
    """Describe ``POST /public/leads/{form_key}`` (a plain Flask view) in the OpenAPI file."""
    api.spec.components.schema("PublicLead", schema=PublicLeadSchema)
    ref = {"$ref": "#/components/schemas/PublicLead"}
    message = {"type": "object", "properties": {
        "code": {"type": "integer"}, "message": {"type": "string"},
        "errors": {"type": "object", "description": "{json|form: {field: [message]}}"}}}
    answer = {"application/json": {"schema": message}}
    rule = Rule("/public/leads/<form_key>", defaults={})
    Map([rule])  # binds the rule, as smorest's path helper expects a routed one
    api.spec.path(rule=rule, operations={
        "post": {
            "tags": ["web-to-lead"], "security": [],
            "summary": "Capture a lead from a website form",
            "description": (
                "No authentication. Takes a form post or JSON with the fields the form defines. "
                "Browsers may post only from the form's allowed origins (CORS). Rate-limited per "
                "client address (setting leads.public_rate_limit). The lead is stored before "
                "the answer; assignment notifications follow after it."),
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": ref},
                "application/x-www-form-urlencoded": {"schema": ref}}},
            "responses": {
                "200": {"description": "Stored (or a honeypot hit, answered the same)",
                        "content": {"application/json": {"schema": {
                            "type": "object", "properties": {"ok": {"type": "boolean"},
                                                             "message": {"type": "string"}}}}}},
                "303": {"description": "A browser's form post (Accept names text/html): "
                        "redirect to the form's thank-you page. Other clients get JSON, "
                        "errors included"},
                "400": {"description": "Malformed body", "content": answer},
                "403": {"description": "Origin not allowed for this form", "content": answer},
                "404": {"description": "No such active form", "content": answer},
                "413": {"description": "Body larger than leads.max_body_bytes",
                        "content": answer},
                "422": {"description": "Field errors", "content": answer},
                "429": {"description": "Too many posts from this address"},
            }},
        "options": {
            "tags": ["web-to-lead"], "security": [], "summary": "CORS preflight",
            "responses": {"204": {"description": "Allowed origin"},
                          "403": {"description": "Origin not allowed"}}},
    })
