"""The documents screens: a deal's documents, one document, files (through the record rules),
bulk invoicing with its progress, templates, our legal entity and customers' legal details."""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from conveyor import can, db, get_visible_or_404, require, scope, setting
from conveyor.i18n import _
from conveyor.models import Contact, Customer, Deal
from conveyor.queries import written_limit

from . import contracts, storage
from .forms import (
    KIND_LABELS,
    LANGUAGE_LABELS,
    LEGAL_MESSAGES,
    PDF_LABELS,
    SERVICE_MESSAGES,
    STATUS_LABELS,
    CompanyForm,
    GenerateForm,
    LegalForm,
    LinesForm,
    NoteForm,
    PreviewForm,
    RevisionForm,
    SendForm,
    TemplateUploadForm,
    TemplateVersionForm,
)
from .legal import legal_errors
from .models import Batch, Document, DocumentFile, LegalDetails, Template
from .render import TemplateProblem, render_docx
from .services import (
    DOCX_TYPE,
    DocumentError,
    change_status,
    company,
    context_for,
    create_document,
    ensure_builtin_templates,
    example_context,
    finalize,
    flatten,
    render_version,
    request_pdf,
    retire_template,
    send_document,
    set_lines,
    start_bulk_invoices,
    template_bytes,
    upload_template,
    upload_version,
)

bp = Blueprint("documents", __name__, url_prefix="/documents", template_folder="templates",
               static_folder="static", static_url_path="/static")
ID = "<int(max=2147483647):{}>"
LABELS = {"kinds": KIND_LABELS, "statuses": STATUS_LABELS, "doc_languages": LANGUAGE_LABELS,
          "pdf": PDF_LABELS}


def _document(document_id: int) -> Document:
    return get_visible_or_404(Document, document_id, current_user,
                              options=(selectinload(Document.files),
                                       selectinload(Document.lines)))


def _error(exc: DocumentError) -> None:
    message = str(exc.message)
    flash(str(SERVICE_MESSAGES.get(message, message)), "error")


@bp.get("/")
@require("documents.view")
def index() -> Any:
    """The documents one may see, newest first; ``?kind=contract`` for the lawyer's list."""
    query = select(Document, Deal.title, Customer.name).join(Deal, Deal.id == Document.deal_id) \
        .join(Customer, Customer.id == Document.customer_id).where(scope(Document, current_user))
    kind, status = request.args.get("kind"), request.args.get("status")
    if kind in KIND_LABELS:
        query = query.where(Document.kind == kind)
    if status in STATUS_LABELS:
        query = query.where(Document.status == status)
    rows = db.session.execute(query.order_by(Document.id.desc()).limit(written_limit(100))).all()
    return render_template("documents/index.html", rows=rows, kind=kind, status=status, **LABELS)


@bp.post(f"/deal/{ID.format('deal_id')}/new")
@require("documents.create")
def generate(deal_id: int) -> Any:
    deal = get_visible_or_404(Deal, deal_id, current_user)
    form = GenerateForm()
    if not form.validate_on_submit():
        flash(_("Choose a kind and a language."), "error")
        return redirect(url_for("deals.card", deal_id=deal.id) if _has("deals.card")
                        else url_for("documents.index"))
    try:
        document = create_document(deal, current_user._get_current_object(),
                                   kind=form.kind.data, language=form.language.data)
        db.session.commit()
    except DocumentError as exc:
        db.session.rollback()
        _error(exc)
        return redirect(url_for("documents.index"))
    flash(_("%(number)s is ready.", number=document.number), "success")
    return redirect(url_for("documents.show", document_id=document.id))


def _has(endpoint: str) -> bool:
    from flask import current_app

    return endpoint in current_app.view_functions


@bp.get(f"/{ID.format('document_id')}")
@require("documents.view")
def show(document_id: int) -> Any:
    document = _document(document_id)
    return _page(document, _saved_lines(document))


def _saved_lines(document: Document) -> LinesForm:
    """The lines form as saved (a spare empty row on a draft)."""
    form = LinesForm(formdata=None, data={"lines": [
        {"kind": line.kind, "name": line.name, "quantity": line.quantity, "unit": line.unit,
         "price": line.price, "vat_rate": line.vat_rate} for line in document.lines]})
    if document.status == "draft":
        form.lines.append_entry()
    return form


def _page(document: Document, form: LinesForm, status: int = 200,
          send_form: SendForm | None = None) -> Any:
    """The document's page (``form``: its lines, as saved or as refused; ``send_form``: the
    send form as refused)."""
    deal = db.session.get(Deal, document.deal_id)
    if send_form is None:
        contact = db.session.get(Contact, document.contact_id) if document.contact_id else None
        send_form = SendForm(formdata=None, to=contact.email if contact else "")
    return render_template("documents/show.html", document=document, deal=deal, form=form,
                           send_form=send_form, note_form=NoteForm(),
                           revision_form=RevisionForm(),
                           approval=contracts.approval_of(document),
                           approvals_on=contracts.approvals_on(),
                           can_edit=can(current_user, "documents.create"), **LABELS), status


def _change(document_id: int, work: Callable[[], Any],
            saved: Callable[[Any], str] | None = None,
            refusals: tuple[type[Exception], ...] = ()) -> Response:
    """Commit one change to a document, or roll it back and say why on the document's page:
    every action there answers the same way (a flash and back to the page). ``refusals`` are
    other plugins' errors whose text is already the message."""
    try:
        result = work()
        db.session.commit()
    except TemplateProblem as exc:
        db.session.rollback()
        flash(_template_message(exc), "error")
    except DocumentError as exc:
        db.session.rollback()
        _error(exc)
    except refusals as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        if saved is not None:
            flash(saved(result), "success")
    return redirect(url_for("documents.show", document_id=document_id))


def _back(document_id: int, message: str) -> Response:
    flash(message, "error")
    return redirect(url_for("documents.show", document_id=document_id))


@bp.post(f"/{ID.format('document_id')}/lines")
@require("documents.create")
def save_lines(document_id: int) -> Any:
    document = _document(document_id)
    form = LinesForm()
    if not form.validate_on_submit():
        return _page(document, form, 422)

    def save() -> int:
        lines = form.cleaned()
        if not lines:
            raise DocumentError("lines", "A document needs at least one line.")
        set_lines(document, lines)
        render_version(document, current_user._get_current_object())
        return document.version

    return _change(document_id, save, lambda version: _("Saved: version %(version)s.",
                                                        version=version))


@bp.post(f"/{ID.format('document_id')}/<any(finalize,cancel,request_changes,render,pdf):action>")
@require("documents.create")
def act(document_id: int, action: str) -> Any:
    document = _document(document_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _back(document_id, _("The form expired or was sent from elsewhere. Please try again."))
    by = current_user._get_current_object()

    def apply() -> None:
        if action == "finalize":
            finalize(document, by)
        elif action == "render":
            render_version(document, by)
        elif action == "pdf":
            request_pdf(document)
        else:
            change_status(document, action, by, form.note.data or "")

    return _change(document_id, apply)


@bp.post(f"/{ID.format('document_id')}/revision")
@require("documents.create")
def revise(document_id: int) -> Any:
    """Upload a revised Word file of a draft: its next version (a contract whose approval is
    open goes back to the lawyers with it)."""
    document = _document(document_id)
    form = RevisionForm()
    if not form.validate_on_submit():
        return _back(document_id, _("Choose a Word file (.docx)."))
    data = form.file.data.read(int(setting("documents.max_upload_mb")) * 1024 * 1024 + 1)
    return _change(document_id,
                   lambda: upload_version(document, data, current_user._get_current_object()),
                   lambda file: _("Saved: version %(version)s.", version=file.version))


@bp.post(f"/{ID.format('document_id')}/approval")
@require("documents.create")
def send_for_approval(document_id: int) -> Any:
    """Send a contract (its newest file) to the lawyers."""
    document = _document(document_id)
    form = NoteForm()
    if not form.validate_on_submit() or document.kind != contracts.CONTRACT or \
            not contracts.approvals_on():
        abort(400)
    from conveyor.plugins.approvals.services import ApprovalError  # approvals is on here

    return _change(document_id,
                   lambda: contracts.send_for_approval(
                       document, current_user._get_current_object(), form.note.data or ""),
                   lambda _result: _("Sent to the lawyers for approval."), (ApprovalError,))


@bp.post(f"/{ID.format('document_id')}/send")
@require("documents.create")
def send(document_id: int) -> Any:
    document = _document(document_id)
    form = SendForm()
    if not form.validate_on_submit():
        # The form again with its field message, as every form answers a refusal; the page
        # shows the send form only for a final or sent document, so otherwise say it above.
        if document.status not in ("final", "sent"):
            for error in form.to.errors:
                flash(str(error), "error")
        return _page(document, _saved_lines(document), 422, send_form=form)
    to = form.to.data.strip()
    return _change(document_id,
                   lambda: send_document(document, to, current_user._get_current_object()),
                   lambda _result: _("Queued for sending to %(to)s.", to=to))


@bp.get(f"/files/{ID.format('file_id')}")
@require("documents.view")
def download(file_id: int) -> Response:
    """A file, only if its document's deal is visible (404 otherwise, as if it did not exist)."""
    row = db.session.execute(select(DocumentFile, Document.number).join(
        Document, Document.id == DocumentFile.document_id).where(
        DocumentFile.id == file_id).where(scope(Document, current_user))).first()
    if row is None:
        abort(404)
    file, number = row
    mimetype = "application/pdf" if file.format == "pdf" else DOCX_TYPE
    # Read whole (documents are small): no file handle outlives the request.
    path = storage.absolute(file.path)
    if not path.is_file():
        abort(404)  # the storage folder lost it: say so, not 500
    data = path.read_bytes()
    response = send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                         download_name=f"{number}-v{file.version}.{file.format}",
                         max_age=0, etag=file.sha256)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- bulk invoices -------------------------------------------------------------------------------

@bp.post("/bulk-invoices")
@require("documents.create")
def bulk() -> Any:
    form = GenerateForm(kind="invoice")
    ids = [int(v) for v in request.form.getlist("deal_id") if v.isdigit() and len(v) < 10]
    if not form.validate_on_submit() or not ids:
        flash(_("Choose the deals to invoice."), "error")
        return redirect(url_for("home.index") if _has("home.index") else url_for(
            "documents.index"))
    batch = start_bulk_invoices(ids[:1000], current_user._get_current_object(),
                                form.language.data)
    batch_id = batch.id
    db.session.commit()
    return redirect(url_for("documents.batch", batch_id=batch_id))


@bp.get("/bulk-invoices/<string(length=32):batch_id>")
@require("documents.create")
def batch(batch_id: str) -> Any:
    row = db.session.scalar(select(Batch).where(Batch.id == batch_id,
                                                Batch.user_id == current_user.id))
    if row is None:
        abort(404)
    if request.args.get("format") == "json":
        return {"done": row.done, "total": row.total, "failed": row.failed,
                "finished": row.finished_at is not None}
    return render_template("documents/batch.html", batch=row)


# --- templates -----------------------------------------------------------------------------------

@bp.route("/templates", methods=["GET", "POST"])
@require("documents.templates")
def templates() -> Any:
    ensure_builtin_templates()
    db.session.commit()
    form = TemplateUploadForm()
    status = 200
    if form.validate_on_submit():
        data = form.file.data.read(setting("documents.max_upload_mb") * 1024 * 1024 + 1)
        try:
            template = upload_template(data, kind=form.kind.data, language=form.language.data,
                                       name=form.name.data, by=current_user)
            db.session.commit()
            flash(_("Template uploaded."), "success")
            return redirect(url_for("documents.template", template_id=template.id))
        except TemplateProblem as exc:
            db.session.rollback()
            form.file.errors = [_template_message(exc)]
            status = 422
    elif form.is_submitted():
        status = 422
    rows = list(db.session.scalars(select(Template).order_by(
        Template.kind, Template.language, Template.active.desc(), Template.id.desc())))
    return render_template("documents/templates.html", templates=rows, form=form,
                           **LABELS), status


def _template_message(exc: TemplateProblem) -> str:
    """The problem in the reader's language; a render error keeps jinja's own words."""
    known = {
        "This is not a Word (.docx) file.": _("This is not a Word (.docx) file."),
        "Macro-enabled documents (.docm) are refused: save it as .docx.":
            _("Macro-enabled documents (.docm) are refused: save it as .docx."),
        "The file unpacks to far more than its size (a zip bomb?).":
            _("The file unpacks to far more than its size (a zip bomb?)."),
        "The file has too many parts to be a Word document.":
            _("The file has too many parts to be a Word document."),
        "This is not a Word (.docx) file (a template or another format?).":
            _("This is not a Word (.docx) file (a template or another format?)."),
    }
    if exc.message in known:
        return known[exc.message]
    if exc.message.startswith("The file is larger than"):
        return _("The file is larger than %(mb)s MB.", mb=setting("documents.max_upload_mb"))
    if exc.line:
        return _("Template error on line %(line)s («%(text)s»): %(error)s", line=exc.line - 1,
                 text=exc.text, error=exc.message.rpartition(": ")[2])
    return exc.message


@bp.route(f"/templates/{ID.format('template_id')}", methods=["GET", "POST"])
@require("documents.templates")
def template(template_id: int) -> Any:
    row = db.session.get(Template, template_id) or abort(404)
    form = TemplateVersionForm()
    status = 200
    if form.validate_on_submit() and row.active:
        data = form.file.data.read(setting("documents.max_upload_mb") * 1024 * 1024 + 1)
        try:
            new = upload_template(data, kind=row.kind, language=row.language, name=row.name,
                                  by=current_user, replaces=row)
            db.session.commit()
            flash(_("Version %(version)s uploaded.", version=new.version), "success")
            return redirect(url_for("documents.template", template_id=new.id))
        except TemplateProblem as exc:
            db.session.rollback()
            form.file.errors = [_template_message(exc)]
            status = 422
    from .render import placeholders

    try:
        used = placeholders(template_bytes(row))
    except Exception:  # noqa: BLE001 - a broken file still gets its page
        used = []
    examples = flatten(example_context(row.language))
    versions = list(db.session.scalars(select(Template).where(Template.family == row.family)
                                       .order_by(Template.version.desc())))
    return render_template("documents/template.html", template=row, form=form, used=used,
                           examples=examples, versions=versions, preview=PreviewForm(),
                           **LABELS), status


@bp.post(f"/templates/{ID.format('template_id')}/retire")
@require("documents.templates")
def retire(template_id: int) -> Any:
    row = db.session.get(Template, template_id) or abort(404)
    if not NoteForm().validate_on_submit():
        abort(400)
    retire_template(row)
    db.session.commit()
    flash(_("Template retired."), "success")
    return redirect(url_for("documents.templates"))


@bp.get(f"/templates/{ID.format('template_id')}/preview")
@require("documents.templates")
def preview(template_id: int) -> Any:
    """The template rendered against a deal one may see; nothing is stored or numbered."""
    row = db.session.get(Template, template_id) or abort(404)
    form = PreviewForm(request.args)
    if not form.validate():
        flash(_("Give the number of a deal."), "error")
        return redirect(url_for("documents.template", template_id=template_id))
    deal = get_visible_or_404(Deal, form.deal_id.data, current_user)
    draft = Document(deal=deal, deal_id=deal.id, customer_id=deal.customer_id, kind=row.kind,
                     number=_("PREVIEW"), year=0, seq=0, language=row.language,
                     currency=deal.currency)
    from .services import _default_lines, compute_totals

    draft.lines = _default_lines(deal, row.language)
    compute_totals(draft)
    try:
        context = context_for(draft)
        data = render_docx(template_bytes(row), context, row.language)
    except TemplateProblem as exc:
        db.session.rollback()
        flash(_template_message(exc), "error")
        return redirect(url_for("documents.template", template_id=template_id))
    finally:
        db.session.expunge_all()
        db.session.rollback()
    return send_file(io.BytesIO(data), mimetype=DOCX_TYPE, as_attachment=True,
                     download_name=f"preview-{row.kind}-{row.language}-{deal.id}.docx")


# --- our company, customers' legal details -------------------------------------------------------

@bp.route("/company", methods=["GET", "POST"])
@require("documents.company")
def company_page() -> Any:
    row = company()
    form = CompanyForm(obj=row)
    if form.validate_on_submit():
        logo = form.logo.data
        if logo and getattr(logo, "filename", ""):
            data = logo.read(1024 * 1024 + 1)
            if len(data) > 1024 * 1024 or not (data.startswith(b"\x89PNG\r\n\x1a\n")
                                               or data.startswith(b"\xff\xd8\xff")):
                form.logo.errors = [_("A PNG or JPEG image up to 1 MB.")]
                return render_template("documents/company.html", form=form, company=row), 422
            row.logo_path = storage.store(data, "logos", "png" if data[:1] == b"\x89"
                                          else "jpg")[0]
        for name in ("name", "address", "tax_id", "kpp", "reg_number", "bank_name",
                     "bank_account", "bank_code", "corr_account", "signatory_name",
                     "signatory_title", "email", "phone"):
            setattr(row, name, (getattr(form, name).data or "").strip())
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for("documents.company_page"))
    db.session.commit()
    return render_template("documents/company.html", form=form, company=row), \
        422 if form.is_submitted() else 200


@bp.route(f"/legal/{ID.format('customer_id')}", methods=["GET", "POST"])
@require("documents.legal")
def legal(customer_id: int) -> Any:
    customer = get_visible_or_404(Customer, customer_id, current_user)
    row = db.session.get(LegalDetails, customer.id)
    form = LegalForm(obj=row)
    form.signatory_contact_id.choices = [(0, "—")] + [(c.id, c.name) for c in customer.contacts]
    if form.validate_on_submit():
        data = {k: (getattr(form, k).data or "").strip() for k in (
            "country", "legal_name", "inn", "kpp", "uscc", "tax_id", "address", "bank_name",
            "bank_account", "bank_code")}
        data["uscc"] = data["uscc"].upper()
        data["kpp"] = data["kpp"].upper()
        errors = legal_errors(data)
        if errors:
            for key, code in errors.items():
                getattr(form, key).errors = [*getattr(form, key).errors,
                                             str(LEGAL_MESSAGES[code])]
            return render_template("documents/legal.html", form=form, customer=customer), 422
        if row is None:
            row = LegalDetails(customer_id=customer.id)
            db.session.add(row)
        for key, value in data.items():
            setattr(row, key, value)
        row.signatory_contact_id = form.signatory_contact_id.data or None
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for("documents.legal", customer_id=customer.id))
    return render_template("documents/legal.html", form=form, customer=customer), \
        422 if form.is_submitted() else 200
