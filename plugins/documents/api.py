"""REST: /api/v1/document-templates, /api/v1/deals/{id}/documents, /api/v1/documents/{id}
(its files, lines, status, sending), /api/v1/amount-in-words, /api/v1/customers/{id}/legal."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint, abort
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from conveyor import csrf, db, get_visible_or_404, require
from conveyor.models import Contact, Customer, Deal

from .contracts import approvals_of
from .forms import PDF_LABELS
from .models import Document, LegalDetails, Template
from .schemas import (
    CreateDocumentSchema,
    DocumentListSchema,
    DocumentSchema,
    FileListSchema,
    LegalSchema,
    LinesSchema,
    SendResultSchema,
    SendSchema,
    StatusSchema,
    TemplateSchema,
    WordsQuerySchema,
    WordsSchema,
)
from .services import (
    DocumentError,
    change_status,
    create_document,
    ensure_builtin_templates,
    file_url,
    finalize,
    render_version,
    request_pdf,
    send_document,
    set_lines,
)
from .words import amount_in_words

blp = Blueprint("documents_api", __name__, url_prefix="/api/v1/documents",
                description="Documents generated from Word templates: contracts, invoices, "
                            "acts, offers; their DOCX and PDF files.")
templates_blp = Blueprint("documents_api_templates", __name__,
                          url_prefix="/api/v1/document-templates",
                          description="Word templates documents are generated from.")
deals_blp = Blueprint("documents_api_deals", __name__, url_prefix="/api/v1/deals",
                      description="A deal's documents.")
words_blp = Blueprint("documents_api_words", __name__, url_prefix="/api/v1/amount-in-words",
                      description="Amounts in words (en, ru, zh) as documents write them.")
legal_blp = Blueprint("documents_api_legal", __name__, url_prefix="/api/v1/customers",
                      description="Customers' legal details for documents.")
BLUEPRINTS = [templates_blp, deals_blp, blp, words_blp, legal_blp]
for _bp in BLUEPRINTS:
    csrf.exempt(_bp)
DEAL = "<int(max=2147483647):deal_id>"
DOC = "<int(max=2147483647):document_id>"


def serialise(document: Document, approvals: dict[int, Any] | None = None) -> dict[str, Any]:
    """``approval``: a contract's latest approval request (approvals plugin), else null;
    ``approvals``: those of a page of documents, read at once."""
    """A document as the API shows it (``amount`` is the total with VAT)."""
    docx, pdf = document.file("docx"), document.file("pdf")
    if pdf is not None and docx is not None and pdf.version != docx.version:
        pdf = None
    return {
        "id": document.id, "deal_id": document.deal_id, "customer_id": document.customer_id,
        "template_id": document.template_id, "number": document.number, "kind": document.kind,
        "status": document.status, "language": document.language, "total": document.total,
        "subtotal": document.subtotal, "vat_total": document.vat_total,
        "currency": document.currency,
        "amount_in_words": amount_in_words(document.total, document.currency,
                                           document.language),
        "lines": document.lines,
        "files": {"docx": file_url(docx, external=True), "pdf": file_url(pdf, external=True)},
        "version": document.version, "pdf_status": document.pdf_status,
        "pdf_message": str(PDF_LABELS.get(document.pdf_status, "")),
        "changes_requested": document.changes_requested, "created_at": document.created_at,
        "finalized_at": document.finalized_at, "sent_at": document.sent_at,
        "approval": (approvals_of([document]) if approvals is None else approvals).get(
            document.id),
    }


def _document(document_id: int) -> Document:
    return get_visible_or_404(Document, document_id, current_user,
                              options=(selectinload(Document.files),
                                       selectinload(Document.lines)))


def _fail(exc: DocumentError) -> None:
    db.session.rollback()
    abort(exc.status, errors={"json": {exc.field: [str(exc.message)]}})


@templates_blp.route("")
class Templates(MethodView):
    @require("documents.view")
    @templates_blp.response(200, TemplateSchema(many=True))
    def get(self) -> list[Template]:
        """Active templates (built-in and uploaded): id, kind, language, name."""
        ensure_builtin_templates()
        rows = list(db.session.scalars(select(Template).where(Template.active.is_(True))
                                       .order_by(Template.kind, Template.language,
                                                 Template.builtin, Template.id)))
        db.session.commit()
        return rows


@deals_blp.route(f"/{DEAL}/documents")
class DealDocuments(MethodView):
    @require("documents.view")
    @deals_blp.response(200, DocumentListSchema)
    def get(self, deal_id: int) -> dict[str, Any]:
        """The deal's documents, newest first (404 for a deal you may not see)."""
        get_visible_or_404(Deal, deal_id, current_user)
        rows = list(db.session.scalars(select(Document).where(Document.deal_id == deal_id)
                                       .options(selectinload(Document.files),
                                                selectinload(Document.lines))
                                       .order_by(Document.id.desc()).limit(500)))
        states = approvals_of(rows)
        return {"items": [serialise(d, states) for d in rows]}

    @require("documents.create")
    @deals_blp.arguments(CreateDocumentSchema)
    @deals_blp.response(201, DocumentSchema)
    def post(self, data: dict[str, Any], deal_id: int) -> dict[str, Any]:
        """Generate a numbered draft from ``kind`` + ``language`` or ``template_id``; lines
        default to the deal's title and amount. The PDF follows (``files.pdf`` null until
        then; ``pdf_status`` says why)."""
        deal = get_visible_or_404(Deal, deal_id, current_user)
        try:
            document = create_document(deal, current_user._get_current_object(),
                                       kind=data.get("kind"), language=data.get("language"),
                                       template_id=data.get("template_id"),
                                       lines=data.get("lines"))
            db.session.commit()
        except DocumentError as exc:
            _fail(exc)
        return serialise(_document(document.id))


@blp.route(f"/{DOC}")
class DocumentOne(MethodView):
    @require("documents.view")
    @blp.response(200, DocumentSchema)
    def get(self, document_id: int) -> dict[str, Any]:
        return serialise(_document(document_id))


@blp.route(f"/{DOC}/files")
class DocumentFiles(MethodView):
    @require("documents.view")
    @blp.response(200, FileListSchema)
    def get(self, document_id: int) -> dict[str, Any]:
        """Every file of every version, with its SHA-256 (files never change once written)."""
        document = _document(document_id)
        return {"items": [{"id": f.id, "version": f.version, "format": f.format,
                           "sha256": f.sha256, "size": f.size, "created_at": f.created_at,
                           "url": file_url(f, external=True)} for f in document.files]}


@blp.route(f"/{DOC}/lines")
class DocumentLines(MethodView):
    @require("documents.create")
    @blp.arguments(LinesSchema)
    @blp.response(200, DocumentSchema)
    def put(self, data: dict[str, Any], document_id: int) -> dict[str, Any]:
        """Replace a draft's lines (sums computed on the server) and render a new version."""
        document = _document(document_id)
        try:
            set_lines(document, data["lines"])
            render_version(document, current_user._get_current_object())
            db.session.commit()
        except DocumentError as exc:
            _fail(exc)
        return serialise(_document(document_id))


@blp.route(f"/{DOC}/status")
class DocumentStatus(MethodView):
    @require("documents.create")
    @blp.arguments(StatusSchema)
    @blp.response(200, DocumentSchema)
    def post(self, data: dict[str, Any], document_id: int) -> dict[str, Any]:
        """``finalize`` a draft, ``cancel``, ``request_changes`` (back to draft, flagged), or
        ``convert``: make the PDF of the newest version again (the converter was down)."""
        document = _document(document_id)
        by = current_user._get_current_object()
        try:
            if data["action"] == "finalize":
                finalize(document, by)
            elif data["action"] == "convert":
                request_pdf(document)
            else:
                change_status(document, data["action"], by, data["note"])
            db.session.commit()
        except DocumentError as exc:
            _fail(exc)
        return serialise(_document(document_id))


@blp.route(f"/{DOC}/send")
class DocumentSend(MethodView):
    @require("documents.create")
    @blp.arguments(SendSchema)
    @blp.response(202, SendResultSchema)
    def post(self, data: dict[str, Any], document_id: int) -> Any:
        """E-mail a final document (DOCX and PDF attached) in its language; 202: queued."""
        document = _document(document_id)
        try:
            send = send_document(document, data["to"], current_user._get_current_object())
            db.session.commit()
        except DocumentError as exc:
            _fail(exc)
        return {"id": send.id, "document_id": document_id, "to": send.to,
                "status": send.status}


@words_blp.route("")
class Words(MethodView):
    @require("documents.view")
    @words_blp.arguments(WordsQuerySchema, location="query")
    @words_blp.response(200, WordsSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """An amount in words: ``?amount=21&currency=RUB&language=ru``."""
        amount = args["amount"]
        return {"amount": f"{amount:.2f}", "currency": args["currency"].upper(),
                "language": args["language"],
                "words": amount_in_words(amount, args["currency"], args["language"])}


@legal_blp.route("/<int(max=2147483647):customer_id>/legal")
class Legal(MethodView):
    @require("documents.view")
    @legal_blp.response(200, LegalSchema)
    def get(self, customer_id: int) -> Any:
        customer = get_visible_or_404(Customer, customer_id, current_user)
        return db.session.get(LegalDetails, customer.id) or LegalDetails(customer_id=customer.id)

    @require("documents.legal")
    @legal_blp.arguments(LegalSchema)
    @legal_blp.response(200, LegalSchema)
    def put(self, data: dict[str, Any], customer_id: int) -> Any:
        """Set the customer's legal details: ИНН checked by its check digits, КПП by format,
        统一社会信用代码 by its check character; 422 names the field."""
        customer = get_visible_or_404(Customer, customer_id, current_user)
        contact_id = data.get("signatory_contact_id")
        if contact_id is not None and db.session.scalar(select(Contact.id).where(
                Contact.id == contact_id, Contact.customer_id == customer.id)) is None:
            abort(422, errors={"json": {"signatory_contact_id": ["Not a contact of this "
                                                                 "customer."]}})
        row = db.session.get(LegalDetails, customer.id)
        if row is None:
            row = LegalDetails(customer_id=customer.id)
            db.session.add(row)
        for key, value in data.items():
            setattr(row, key, value)
        db.session.commit()
        return row


