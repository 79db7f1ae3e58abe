"""Web-to-lead: ``POST /public/leads/<form_key>`` from the company's website.

Defences, in the order they apply: the form must exist and be active (404); a browser's
``Origin`` must be one the form allows (403, and no CORS headers); a per-address rate limit
(429, Flask-Limiter); a size limit (413); a honeypot field a person never sees (a filled one is
answered like a success and dropped); strict validation of each field (422 with messages).

The lead is committed before the answer — one INSERT and the commit (see intake.py). Dedupe
against other leads, linking to known customers, the rules and the seller's notification follow
right after, in batches, in the intake thread; a lead a crashed process left unfinished is picked
up by the sweep (``conveyor leads reassign-stale``).
"""
from __future__ import annotations

import logging
import re
from typing import Any

from flask import Blueprint, g, jsonify, redirect, render_template, request

from conveyor import csrf, db, limiter, public, setting
from conveyor.models import COMPANY_SIZES
from conveyor.safe_json import JSONProblem
from conveyor.safe_json import loads as json_loads

from .intake import FormInfo, cached_form, store
from .models import LIMITS
from .normalize import clean_multiline, clean_text, normalize_phone
from .services import IDENTITY, LeadError
from .texts import _

log = logging.getLogger("conveyor.leads.public")
bp = Blueprint("leads_public", __name__, url_prefix="/public/leads", template_folder="templates")
csrf.exempt(bp)  # a cross-origin post from the company website cannot carry our CSRF token
HONEYPOT = "website"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_KEYS = 50
CORS_HEADERS = "Content-Type, Accept, X-Requested-With"


def _limit() -> str:
    return setting("leads.public_rate_limit") or "1000 per second"


def _unlimited() -> bool:
    return not (setting("leads.public_rate_limit") or "").strip()


def load_form(key: str) -> FormInfo | None:
    if "leads_form" not in g:
        g.leads_form = cached_form(key)
    return g.leads_form


def origin_allowed(form: FormInfo, origin: str | None) -> bool:
    """No Origin (a server posting) is allowed; a browser's must be listed (or ``*``)."""
    if not origin:
        return True
    allowed = {o.rstrip("/").lower() for o in form.allowed_origins or ()}
    return "*" in allowed or origin.rstrip("/").lower() in allowed


def wants_json() -> bool:
    """JSON for everyone but a browser: a page only when the client names text/html and
    prefers it to JSON (a browser's form post); a script, curl or ``Accept: */*`` gets JSON."""
    if request.is_json:
        return True
    return not wants_html()


def wants_html() -> bool:
    accept = request.accept_mimetypes
    named = any(value == "text/html" for value, _q in accept)
    return named and accept.quality("text/html") >= accept.quality("application/json")


def _error(status: int, message: str, errors: dict[str, list[str]] | None = None,
           form: FormInfo | None = None) -> Any:
    if wants_json():
        body: dict[str, Any] = {"code": status, "message": message}
        if errors:
            body["errors"] = {"json" if request.is_json else "form": errors}
        return jsonify(body), status
    return render_template("leads/public_error.html", message=message, errors=errors or {},
                           form=form, labels=_labels()), status


def _labels() -> dict[str, Any]:
    from .forms import FIELD_LABELS

    return FIELD_LABELS


@bp.route("/<form_key>", methods=["POST", "OPTIONS"], provide_automatic_options=False)
@limiter.limit(_limit, methods=["POST"], exempt_when=_unlimited)
@public
def capture(form_key: str) -> Any:
    form = load_form(form_key)
    if form is None:
        return _error(404, _("No such form, or it no longer accepts leads."))
    origin = request.headers.get("Origin")
    if not origin_allowed(form, origin):
        return _error(403, _("This website may not send leads to this form."))
    if request.method == "OPTIONS":
        response = jsonify()
        response.status_code = 204
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
        response.headers["Access-Control-Max-Age"] = "86400"
        return response
    limit = setting("leads.max_body_bytes")
    if (request.content_length or 0) > limit:
        return _error(413, _("The form sent too much data."))
    request.max_content_length = limit  # also caps chunked bodies without a length
    try:
        raw, problem = _payload()
    except JSONProblem as exc:  # a lone surrogate or a huge number: the field says which
        return _error(422, _("Please correct the marked fields."), exc.errors, form)
    if problem:
        return _error(400, problem)
    if str(raw.get(HONEYPOT) or "").strip():
        log.info("honeypot filled on form %s from %s; dropped", form.key, request.remote_addr)
        return _success(form)
    data, errors = validate(form, raw)
    if errors:
        return _error(422, _("Please correct the marked fields."), errors, form)
    try:
        store(data, form)  # committed before we answer; dedupe, linking, rules follow
    except LeadError as exc:
        db.session.rollback()
        return _error(422, _("Please correct the marked fields."), {exc.field: [exc.message]}, form)
    return _success(form)


def _payload() -> tuple[dict[str, Any], str]:
    if request.is_json:
        try:
            body = json_loads(request.get_data(cache=True))  # limits: conveyor.safe_json
        except JSONProblem as exc:
            if exc.errors:
                raise
            return {}, exc.message
        if not isinstance(body, dict):
            return {}, _("Send a JSON object of field names and values.")
        if len(body) > MAX_KEYS:
            return {}, _("Too many fields.")
        return body, ""
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {}, _("Send the form as application/x-www-form-urlencoded or JSON.")
    if request.files:
        return {}, _("This form does not accept files.")
    if len(request.form) > MAX_KEYS:
        return {}, _("Too many fields.")
    return request.form.to_dict(flat=True), ""


def validate(form: FormInfo, raw: dict[str, Any]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The form's own fields, cleaned; messages per field for anything wrong."""
    errors: dict[str, list[str]] = {}
    data: dict[str, str] = {}
    short_max = setting("leads.max_field_length")
    for name in form.field_names:
        value = raw.get(name)
        if value is None or value == "":
            if name in form.required:
                errors[name] = [_("This field is required.")]
            continue
        if not isinstance(value, str):
            errors[name] = [_("Send this field as text.")]
            continue
        text = clean_multiline(value) if name == "notes" else clean_text(value)
        limit = setting("leads.max_notes_length") if name == "notes" else short_max
        limit = min(limit, LIMITS[name])
        if len(text) > limit:
            errors[name] = [_("At most %(n)s characters.", n=limit)]
        elif not text and name in form.required:
            errors[name] = [_("This field is required.")]
        elif name == "email" and not EMAIL_RE.match(text):
            errors[name] = [_("Enter an email address such as name@example.com.")]
        elif name == "phone" and not normalize_phone(text, setting("leads.default_region")):
            errors[name] = [_("Enter a valid phone number, e.g. +7 495 123-45-67.")]
        elif name == "size" and text not in COMPANY_SIZES:
            errors[name] = [_("Choose one of: %(sizes)s.", sizes=", ".join(COMPANY_SIZES))]
        elif text:
            data[name] = text
    if not errors and not any(data.get(k) for k in IDENTITY):
        first = next((f for f in form.field_names if f in IDENTITY), "email")
        errors[first] = [_("Give at least a company, a name, an email or a phone.")]
    return data, errors


def _success(form: FormInfo) -> Any:
    if wants_json():
        return jsonify(ok=True, message=_("Thank you! We will contact you soon."))
    if form.thank_you_url:
        return redirect(form.thank_you_url, 303)
    return render_template("leads/public_thanks.html", form=form)


@bp.errorhandler(413)
@bp.errorhandler(429)
def _limits(error: Any) -> Any:
    """Too big or too many: answered in the caller's format (JSON for a script)."""
    if error.code == 429:
        return _error(429, _("Too many submissions from your address. Please wait a minute."))
    return _error(413, _("The form sent too much data."))


@bp.after_request
def _cors(response: Any) -> Any:
    """CORS headers for the form's allowed origins only — on errors (422, 429) as well, so the
    website's script can read the messages."""
    origin = request.headers.get("Origin")
    if not origin or not request.view_args or "form_key" not in request.view_args:
        return response
    form = load_form(request.view_args["form_key"])
    if form is not None and origin_allowed(form, origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.vary.add("Origin")
    return response
