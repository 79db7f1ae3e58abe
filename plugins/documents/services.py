"""The documents plugin's write operations: templates, documents and their lines, files,
PDF conversion, sending. Views and the API call these; events are emitted here."""
from __future__ import annotations

import logging
import socket
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

from flask import current_app, render_template, url_for
from sqlalchemy import select, update

from conveyor import Attachment, db, emit, enqueue, post_timeline, send_mail, setting
from conveyor.models import Contact, Customer, Deal, User
from conveyor.types import utcnow

from . import numbering, storage
from .events import (
    DocumentCreated,
    DocumentFinalized,
    DocumentSent,
    DocumentStatusChanged,
    DocumentVersionAdded,
)
from .models import (
    KINDS,
    LANGUAGES,
    Company,
    Document,
    DocumentFile,
    DocumentLine,
    LegalDetails,
    Send,
    Template,
)
from .render import Picture, TemplateProblem, check_docx, long_date, money, render_docx
from .words import amount_in_words

log = logging.getLogger(__name__)
CENT = Decimal("0.01")
CONVERT_JOB = "documents.convert"
BULK_JOB = "documents.bulk_invoice"
BUILTIN_NAMES = {
    ("contract", "en"): "Contract", ("contract", "ru"): "Договор", ("contract", "zh"): "合同",
    ("invoice", "en"): "Invoice", ("invoice", "ru"): "Счёт на оплату",
    ("invoice", "zh"): "付款通知书",
    ("act", "en"): "Acceptance certificate", ("act", "ru"): "Акт выполненных работ",
    ("act", "zh"): "验收确认书",
    ("offer", "en"): "Commercial offer", ("offer", "ru"): "Коммерческое предложение",
    ("offer", "zh"): "报价单",
}
MAIL_LOCALES = {"en": "en", "ru": "ru", "zh": "zh_Hans"}


class DocumentError(ValueError):
    """Bad input for a document operation: ``field`` and a message for the person."""

    def __init__(self, field: str, message: Any, status: int = 422) -> None:
        super().__init__(str(message))
        self.field, self.message, self.status = field, message, status


# --- templates -----------------------------------------------------------------------------------

def builtin_bytes(name: str) -> bytes:
    return resources.files("conveyor.plugins.documents").joinpath("builtin", name).read_bytes()


def ensure_builtin_templates() -> None:
    """Rows for the 12 built-in templates (cheap to call). The process remembers a database
    only once it found them all already there — rows it adds itself may yet be rolled back."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    flags = app.extensions.setdefault("documents_builtins", set())
    key = str(db.engine.url)
    if key in flags:
        return
    have = set(db.session.scalars(select(Template.family).where(Template.builtin.is_(True))))
    if len(have) >= len(BUILTIN_NAMES):
        flags.add(key)
        return
    for (kind, language), name in BUILTIN_NAMES.items():
        family = f"builtin-{kind}-{language}"
        if family in have:
            continue
        filename = f"{kind}_{language}.docx"
        data = builtin_bytes(filename)
        db.session.add(Template(family=family, kind=kind, language=language, name=name,
                                builtin=True, path=filename, sha256=storage.sha256(data),
                                size=len(data)))
    db.session.flush()


def template_bytes(template: Template) -> bytes:
    if template.builtin:
        return builtin_bytes(template.path)
    return storage.absolute(template.path).read_bytes()


def pick_template(kind: str | None, language: str | None, template_id: int | None) -> Template:
    """The template asked for by id, else the newest active one of (kind, language), uploaded
    ones before built-in ones."""
    ensure_builtin_templates()
    if template_id is not None:
        template = db.session.get(Template, template_id)
        if template is None or not template.active:
            raise DocumentError("template_id", "No such active template.")
        return template
    if kind not in KINDS:
        raise DocumentError("kind", "Give a kind (contract, invoice, act, offer) or a template.")
    language = language or "en"
    if language not in LANGUAGES:
        raise DocumentError("language", "Language must be one of en, ru, zh.")
    template = db.session.scalars(
        select(Template).where(Template.kind == kind, Template.language == language,
                               Template.active.is_(True))
        .order_by(Template.builtin, Template.id.desc()).limit(1)).first()
    if template is None:
        raise DocumentError("kind", "No active template of this kind and language.")
    return template


def upload_template(data: bytes, *, kind: str, language: str, name: str, by: Any,
                    replaces: Template | None = None) -> Template:
    """Check and store an uploaded DOCX as a template, or as the next version of ``replaces``
    (which is retired). Raises ``TemplateProblem`` for a file that can't be used."""
    check_docx(data, setting("documents.max_upload_mb") * 1024 * 1024,
               setting("documents.max_unpacked_mb") * 1024 * 1024)
    # A trial render with example data finds syntax errors and unknown names now, not later.
    render_docx(data, example_context(language), language)
    path, digest = storage.store(data, "templates", "docx")
    family = replaces.family if replaces else f"upload-{digest[:12]}"
    version = replaces.version + 1 if replaces else 1
    if replaces is not None:
        kind, language = replaces.kind, replaces.language
        retire_template(replaces)
    template = Template(family=family, kind=kind, language=language, name=name[:200],
                        version=version, path=path, sha256=digest, size=len(data),
                        created_by_id=getattr(by, "id", None))
    db.session.add(template)
    db.session.flush()
    return template


def retire_template(template: Template) -> None:
    template.active = False
    template.retired_at = utcnow()


# --- data for templates --------------------------------------------------------------------------

def company() -> Company:
    """Our legal entity (row 1, created empty on first use)."""
    row = db.session.get(Company, 1)
    if row is None:
        row = Company(id=1, name=setting("documents.company_name") or "")
        db.session.add(row)
        db.session.flush()
    return row


def _company_dict(row: Company) -> dict[str, Any]:
    keys = ("name", "address", "tax_id", "kpp", "reg_number", "bank_name", "bank_account",
            "bank_code", "corr_account", "signatory_name", "signatory_title", "email", "phone")
    values: dict[str, Any] = {k: getattr(row, k) for k in keys}
    values["logo"] = company_logo(row)
    return values


def company_logo(row: Company) -> Picture | str:
    """The logo uploaded on the legal entity page, as a picture for templates ("" if none)."""
    if not row.logo_path:
        return ""
    try:
        return Picture(storage.absolute(row.logo_path).read_bytes())
    except (OSError, ValueError):
        log.warning("documents: the company logo %s can't be read", row.logo_path)
        return ""


def signer_of(deal: Deal, legal: LegalDetails | None) -> Contact | None:
    """The contact who signs: the one named in the legal details, else the first decision
    maker, else the first contact."""
    contacts = list(deal.customer.contacts)
    if legal is not None and legal.signatory_contact_id:
        for contact in contacts:
            if contact.id == legal.signatory_contact_id:
                return contact
    makers = [c for c in contacts if c.decision_maker]
    return (makers or contacts or [None])[0]


def document_language(locale: str | None) -> str | None:
    """A contact's or user's language ("zh_Hans") as a document language ("zh"), or ``None``."""
    if not locale:
        return None
    code = locale.split("_")[0].split("-")[0].lower()
    return code if code in LANGUAGES else None


def contact_language(deal: Deal, legal: LegalDetails | None = None) -> str | None:
    """The language of a document for ``deal`` when none is asked for: the signing contact's,
    else the customer's other contacts'; ``None`` when no contact's language is known."""
    legal = legal if legal is not None else db.session.get(LegalDetails, deal.customer_id)
    signer = signer_of(deal, legal)
    for contact in ([signer] if signer else []) + list(deal.customer.contacts):
        language = document_language(contact.language)
        if language:
            return language
    return None


def recipient_language(document: Document, to: str) -> str:
    """The e-mail's language: the contact's with that address among the customer's contacts,
    else the document's."""
    wanted = to.strip().lower()
    for contact in document.deal.customer.contacts:
        if contact.email and contact.email.lower() == wanted:
            return document_language(contact.language) or document.language
    return document.language


def _line_dict(n: int, line: DocumentLine, language: str) -> dict[str, Any]:
    return {"n": n, "kind": line.kind, "name": line.name, "quantity": _qty(line.quantity),
            "unit": line.unit, "price": money(line.price, language),
            "vat_rate": _qty(line.vat_rate), "net": money(line.net, language),
            "vat": money(line.vat, language), "total": money(line.total, language)}


def _qty(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def context_for(document: Document) -> dict[str, Any]:
    """Everything a template may use (documented in docs/plugins/documents.md)."""
    deal = document.deal
    customer = deal.customer
    legal = db.session.get(LegalDetails, customer.id)
    signer = db.session.get(Contact, document.contact_id) if document.contact_id else None
    seller = db.session.get(User, deal.owner_id) if deal.owner_id else None
    lang = document.language
    today = utcnow().date()
    return {
        "document": {
            "id": document.id, "number": document.number, "kind": document.kind,
            "date": long_date(today, lang), "language": lang, "currency": document.currency,
            "subtotal": money(document.subtotal, lang),
            "vat_total": money(document.vat_total, lang),
            "total": money(document.total, lang), "total_value": document.total,
            "total_in_words": amount_in_words(document.total, document.currency, lang),
        },
        "today": long_date(today, lang),
        "lines": [_line_dict(i, line, lang) for i, line in enumerate(document.lines, 1)],
        "deal": {"id": deal.id, "title": deal.title, "amount": money(deal.amount, lang),
                 "currency": deal.currency,
                 "expected_close": long_date(deal.expected_close, lang)},
        "customer": {
            "name": customer.name, "address": (legal.address if legal and legal.address
                                               else customer.address),
            "legal_name": (legal.legal_name if legal and legal.legal_name else customer.name),
            "country": legal.country if legal else "",
            "inn": legal.inn if legal else "", "kpp": legal.kpp if legal else "",
            "uscc": legal.uscc if legal else "",
            "tax_id": (legal.tax_id or legal.inn or legal.uscc) if legal else customer.tax_id,
            "bank_name": legal.bank_name if legal else "",
            "bank_account": legal.bank_account if legal else "",
            "bank_code": legal.bank_code if legal else "",
        },
        "signer": {"name": signer.name if signer else "",
                   "position": signer.position if signer else "",
                   "email": signer.email if signer else "",
                   "phone": signer.phone if signer else ""},
        "seller": {"name": (seller.display_name or seller.username) if seller else "",
                   "email": seller.email if seller else ""},
        "company": _company_dict(company()),
    }


def example_context(language: str) -> dict[str, Any]:
    """Example values for every placeholder: the placeholders page and trial renders."""
    total = Decimal("120000.00")
    line = {"n": 1, "kind": "service", "name": "Implementation", "quantity": "1",
            "unit": "pcs", "price": money(Decimal("100000"), language), "vat_rate": "20",
            "net": money(Decimal("100000"), language), "vat": money(Decimal("20000"), language),
            "total": money(total, language)}
    today = utcnow().date()
    return {
        "document": {"id": 1, "number": "INV-2026-000123", "kind": "invoice",
                     "date": long_date(today, language), "language": language,
                     "currency": "RUB", "subtotal": money(Decimal("100000"), language),
                     "vat_total": money(Decimal("20000"), language),
                     "total": money(total, language), "total_value": total,
                     "total_in_words": amount_in_words(total, "RUB", language)},
        "today": long_date(today, language),
        "lines": [line],
        "deal": {"id": 1, "title": "CRM roll-out", "amount": money(total, language),
                 "currency": "RUB", "expected_close": long_date(today, language)},
        "customer": {"name": "Romashka", "address": "Moscow, Tverskaya 1",
                     "legal_name": "OOO Romashka", "country": "RU", "inn": "7707083893",
                     "kpp": "773601001", "uscc": "", "tax_id": "7707083893",
                     "bank_name": "Sberbank", "bank_account": "40702810900000000001",
                     "bank_code": "044525225"},
        "signer": {"name": "Ivan Petrov", "position": "CEO", "email": "ivan@example.test",
                   "phone": "+7 495 000-00-00"},
        "seller": {"name": "Seller", "email": "seller@example.test"},
        "company": {"name": "Conveyor Ltd", "address": "1 Main St", "tax_id": "7712345678",
                    "kpp": "771201001", "reg_number": "1027700132195", "bank_name": "Bank",
                    "bank_account": "40702810000000000002", "bank_code": "044525000",
                    "corr_account": "30101810400000000225", "signatory_name": "Anna Smirnova",
                    "signatory_title": "Director", "email": "office@example.test",
                    "phone": "+7 495 111-11-11", "logo": "[logo]"},
    }


def flatten(context: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"a": {"b": 1}}`` → ``[("a.b", 1)]``; lists shown by their first item."""
    rows: list[tuple[str, Any]] = []
    for key, value in context.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += flatten(value, name + ".")
        elif isinstance(value, list):
            rows.append((name, f"[{len(value)}]"))
            if value and isinstance(value[0], dict):
                rows += flatten(value[0], f"{name}[].")
        else:
            rows.append((name, value))
    return rows


# --- documents -----------------------------------------------------------------------------------

def compute_line(line: DocumentLine) -> None:
    """Net, VAT and total of a line, rounded half up to the cent (VAT on the line's net)."""
    line.net = (Decimal(line.quantity) * Decimal(line.price)).quantize(CENT, ROUND_HALF_UP)
    line.vat = (line.net * Decimal(line.vat_rate) / 100).quantize(CENT, ROUND_HALF_UP)
    line.total = line.net + line.vat


MAX_AMOUNT = Decimal("999999999999.99")  # what MONEY (14, 2) holds


def compute_totals(document: Document) -> None:
    """Line sums and the document's totals; refuses what the money columns can't hold."""
    for line in document.lines:
        compute_line(line)
    document.subtotal = sum((line.net for line in document.lines), Decimal("0"))
    document.vat_total = sum((line.vat for line in document.lines), Decimal("0"))
    document.total = document.subtotal + document.vat_total
    if document.total > MAX_AMOUNT or any(line.total > MAX_AMOUNT for line in document.lines):
        raise DocumentError("lines", "The amount is too large.")


def _default_lines(deal: Deal, language: str) -> list[DocumentLine]:
    unit = {"ru": "шт.", "zh": "项"}.get(language, "pcs")
    rate = Decimal(str(setting("documents.vat_rate")))
    price = (Decimal(deal.amount) / (1 + rate / 100)).quantize(CENT, ROUND_HALF_UP)
    return [DocumentLine(position=1, kind="service", name=deal.title, quantity=Decimal("1"),
                         unit=unit, price=price, vat_rate=rate)]


def set_lines(document: Document, lines: list[dict[str, Any]]) -> None:
    """Replace a draft's lines; sums are computed here, never taken from the client."""
    if document.status != "draft":
        raise DocumentError("lines", "Only a draft's lines can change.", 409)
    document.lines.clear()
    for position, data in enumerate(lines, 1):
        document.lines.append(DocumentLine(
            position=position, kind=data.get("kind") or "service", name=data["name"],
            quantity=Decimal(str(data["quantity"])), unit=data.get("unit") or "",
            price=Decimal(str(data["price"])), vat_rate=Decimal(str(data.get("vat_rate") or 0))))
    compute_totals(document)


def create_document(deal: Deal, by: Any, *, kind: str | None = None,
                    language: str | None = None, template_id: int | None = None,
                    lines: list[dict[str, Any]] | None = None) -> Document:
    """A numbered draft of ``deal`` from a template, its DOCX rendered and its PDF queued.
    Everything happens in the caller's transaction (the number too): commit or roll back."""
    if language is None and template_id is None:
        language = contact_language(deal)
    template = pick_template(kind, language, template_id)
    if db.session.get(Customer, deal.customer_id) is None:
        raise DocumentError("deal", "The deal has no customer.")
    legal = db.session.get(LegalDetails, deal.customer_id)
    signer = signer_of(deal, legal)
    year = utcnow().year
    seq = numbering.next_seq(template.kind, year)
    document = Document(
        deal=deal, deal_id=deal.id, customer_id=deal.customer_id, template_id=template.id,
        kind=template.kind, language=template.language, currency=deal.currency,
        number=numbering.format_number(template.kind, year, seq), year=year, seq=seq,
        contact_id=signer.id if signer else None, created_by_id=getattr(by, "id", None),
        status="draft", changes_requested=False, changes_note="")
    db.session.add(document)
    document.lines = _default_lines(deal, template.language) if lines is None else []
    if lines is not None:
        set_lines(document, lines)
    compute_totals(document)
    db.session.flush()
    emit(DocumentCreated(document=document, by=by))
    render_version(document, by, template)
    return document


def render_version(document: Document, by: Any, template: Template | None = None) -> DocumentFile:
    """Render the DOCX as a new version (files are never overwritten) and queue its PDF."""
    if document.status != "draft":
        raise DocumentError("status", "A final document is not rendered again.", 409)
    template = template or (db.session.get(Template, document.template_id)
                            if document.template_id else None)
    if template is None:
        raise DocumentError("template_id", "The document's template is gone.")
    try:
        data = render_docx(template_bytes(template), context_for(document), document.language)
    except TemplateProblem as exc:
        raise DocumentError("template_id", exc.message) from None
    return _add_version(document, data, by)


def _add_version(document: Document, data: bytes, by: Any, revised: bool = False
                 ) -> DocumentFile:
    """Store ``data`` as the document's next DOCX version (named by its SHA-256), tell the
    plugins (``DocumentVersionAdded``) and queue its PDF; ``revised``: an uploaded revision,
    recorded on the deal's timeline."""
    path, digest = storage.store(data, "files", "docx")
    file = DocumentFile(document_id=document.id, version=document.version + 1, format="docx",
                        path=path, sha256=digest, size=len(data))
    document.files.append(file)
    document.pdf_status, document.pdf_error = "pending", ""
    db.session.flush()
    if revised:
        post_timeline("documents.revised", f"{document.number} v{file.version}",
                      deal=document.deal, by=by,
                      data={"document_id": document.id, "file_id": file.id, "sha256": digest})
    emit(DocumentVersionAdded(document=document, file=file, by=by))
    enqueue(CONVERT_JOB, document_id=document.id, file_id=file.id)
    return file


def upload_version(document: Document, data: bytes, by: Any) -> DocumentFile:
    """A revised DOCX (the lawyer's edits) as the draft's new version; its PDF is queued. The
    file is checked like a template upload (``TemplateProblem``: not a plain .docx of bounded
    size)."""
    if document.status != "draft":
        raise DocumentError("status", "A final document is not changed: send it back first.",
                            409)
    check_docx(data, int(setting("documents.max_upload_mb")) * 1024 * 1024,
               int(setting("documents.max_unpacked_mb")) * 1024 * 1024)  # TemplateProblem
    return _add_version(document, data, by, revised=True)


def finalize(document: Document, by: Any) -> Document:
    if document.status != "draft":
        raise DocumentError("status", "Only a draft can be made final.", 409)
    from .contracts import offer_blocked

    blocked = offer_blocked(document)
    if blocked is not None:
        raise DocumentError("status", blocked, 409)
    document.status = "final"
    document.finalized_at = utcnow()
    document.changes_requested = False
    emit(DocumentFinalized(document=document, file=document.file("docx"), by=by))
    return document


def change_status(document: Document, action: str, by: Any, note: str = "") -> Document:
    """``cancel`` a document, or ``request_changes`` (a final or sent one goes back to draft,
    flagged for the assistant's queue; its files stay, the next render is a new version)."""
    old = document.status
    if action == "cancel":
        if old == "cancelled":
            raise DocumentError("status", "Already cancelled.", 409)
        document.status = "cancelled"
    elif action == "request_changes":
        if old not in ("final", "sent", "draft"):
            raise DocumentError("status", "A cancelled document can't be changed.", 409)
        document.status = "draft"
        document.changes_requested = True
        document.changes_note = note[:2000]
    else:
        raise DocumentError("action", "Unknown action.")
    emit(DocumentStatusChanged(document=document, old=old, new=document.status, by=by))
    return document


def file_url(file: DocumentFile | None, *, external: bool = False) -> str | None:
    if file is None:
        return None
    return url_for("documents.download", file_id=file.id, _external=external)


# --- PDF -----------------------------------------------------------------------------------------

def request_pdf(document: Document) -> None:
    """Queue the PDF of the newest version again (the converter was down, or it failed)."""
    docx = document.file("docx")
    if docx is None:
        raise DocumentError("status", "The document has no file yet.", 409)
    pdf = document.file("pdf")
    if pdf is not None and pdf.version == docx.version:
        return
    document.pdf_status, document.pdf_error = "pending", ""
    enqueue(CONVERT_JOB, document_id=document.id, file_id=docx.id)


def converter_address() -> tuple[str, int] | None:
    value = setting("documents.converter") or ""
    if not value:
        return None
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port)


def converter_up(address: tuple[str, int] | None = None, timeout: float = 0.5) -> bool:
    address = address or converter_address()
    if address is None:
        return False
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


def docx_to_pdf(data: bytes, address: tuple[str, int] | None = None) -> bytes:
    """Convert through the warm LibreOffice of ``conveyor documents converter``."""
    from unoserver.client import UnoClient

    host, port = address or converter_address() or ("127.0.0.1", 2003)
    client = UnoClient(server=host, port=str(port), host_location="remote")
    return bytes(client.convert(indata=data, convert_to="pdf"))


def convert_job(document_id: int, file_id: int) -> None:
    """The ``documents.convert`` job: the PDF of one DOCX version. Without a converter the
    document says so (``pdf_status`` unavailable) instead of failing again and again."""
    document = db.session.get(Document, document_id)
    source = db.session.get(DocumentFile, file_id)
    if document is None or source is None:
        return
    if db.session.scalar(select(DocumentFile.id).where(
            DocumentFile.document_id == document_id, DocumentFile.version == source.version,
            DocumentFile.format == "pdf")) is not None:
        return
    if not converter_up():
        document.pdf_status = "unavailable"
        document.pdf_error = "PDF conversion is unavailable: no converter is running."
        return
    try:
        pdf = docx_to_pdf(storage.absolute(source.path).read_bytes())
    except Exception as exc:  # noqa: BLE001 - said on the document; DOCX stays usable
        log.exception("PDF conversion of document %s failed", document_id)
        document.pdf_status = "failed"
        document.pdf_error = f"PDF conversion failed: {type(exc).__name__}"[:500]
        return
    path, digest = storage.store(pdf, "files", "pdf")
    db.session.add(DocumentFile(document_id=document_id, version=source.version, format="pdf",
                                path=path, sha256=digest, size=len(pdf)))
    if source.version == document.version:
        document.pdf_status, document.pdf_error = "ready", ""


# --- sending -------------------------------------------------------------------------------------

def send_document(document: Document, to: str, by: Any) -> Send:
    """E-mail a final document with its DOCX (and PDF when there is one) in the document's
    language of the contact it goes to (else the document's); the deal's timeline records it, and
    a failure later (``sweep_sends``)."""
    if document.status not in ("final", "sent"):
        raise DocumentError("status", "Only a final document can be sent.", 409)
    docx = document.file("docx")
    if docx is None:
        raise DocumentError("status", "The document has no file yet.", 409)
    attachments = [Attachment(f"{document.number}.docx", DOCX_TYPE,
                              path=str(storage.absolute(docx.path)))]
    pdf = document.file("pdf")
    if pdf is not None and pdf.version == docx.version:
        attachments.append(Attachment(f"{document.number}.pdf", "application/pdf",
                                      path=str(storage.absolute(pdf.path))))
    deal = document.deal
    sender = company()
    from .forms import KIND_LABELS

    params = {"document": document, "deal": deal, "company": sender,
              "has_pdf": len(attachments) > 1,
              "kind_label": lambda kind: str(KIND_LABELS.get(kind, kind))}
    outbox_id = send_mail(
        to, lambda: render_template("documents/mail_subject.txt", **params).strip(),
        lambda: render_template("documents/mail.txt", **params),
        attachments=attachments,
        locale=MAIL_LOCALES.get(recipient_language(document, to), "en"))
    send = Send(document_id=document.id, to=to, outbox_id=outbox_id,
                by_id=getattr(by, "id", None))
    db.session.add(send)
    document.status = "sent"
    document.sent_at = utcnow()
    post_timeline("documents.sent", f"{document.number} → {to}", deal=deal, by=by,
                  data={"document_id": document.id, "to": to, "file_id": docx.id,
                        "sha256": docx.sha256, "pdf": len(attachments) > 1})
    emit(DocumentSent(document=document, to=to, by=by))
    return send


DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def sweep_sends() -> int:
    """The ``documents.sweep_sends`` job: mark sends whose e-mail was delivered or finally
    failed, and put the failures on the deal's timeline."""
    from conveyor.models.outbox import OutboxMessage

    rows = db.session.execute(
        select(Send, OutboxMessage.status, OutboxMessage.last_error)
        .outerjoin(OutboxMessage, OutboxMessage.id == Send.outbox_id)
        .where(Send.status == "queued").limit(500)).all()
    changed = 0
    for send, status, error in rows:
        if status == "done" or (status is None and send.outbox_id is not None):
            send.status, send.done_at = "sent", utcnow()
        elif status == "failed":
            send.status, send.done_at, send.error = "failed", utcnow(), (error or "")[:500]
            document = db.session.get(Document, send.document_id)
            if document is not None:
                post_timeline("documents.send_failed",
                              f"{document.number} → {send.to}: {send.error[:200]}",
                              deal=document.deal, data={"document_id": document.id,
                                                        "to": send.to})
        else:
            continue
        changed += 1
    return changed


# --- bulk ----------------------------------------------------------------------------------------

BULK_CHUNK = 25


def start_bulk_invoices(deal_ids: list[int], by: Any, language: str) -> Any:
    """A batch of invoices for ``deal_ids``: one job per chunk of deals (each commits its chunk
    and the batch's count, so the progress bar moves and memory stays flat), run in order."""
    import uuid

    from .models import Batch

    batch = Batch(id=uuid.uuid4().hex, user_id=by.id, total=len(deal_ids), language=language)
    db.session.add(batch)
    db.session.flush()
    for start in range(0, len(deal_ids), BULK_CHUNK):
        enqueue(BULK_JOB, order_key=f"documents.bulk:{batch.id}", batch_id=batch.id,
                deal_ids=deal_ids[start:start + BULK_CHUNK])
    if not deal_ids:
        batch.finished_at = utcnow()
    return batch


def bulk_invoice_job(batch_id: str, deal_ids: list[int]) -> None:
    """The ``documents.bulk_invoice`` job: an invoice for each deal of the chunk that the
    batch's user may see and that has none, each in a savepoint (one bad deal doesn't stop the
    rest)."""
    from conveyor import scope

    from .models import Batch

    batch = db.session.get(Batch, batch_id)
    user = db.session.get(User, batch.user_id) if batch else None
    if batch is None or user is None:
        return
    visible = set(db.session.scalars(select(Deal.id).where(Deal.id.in_(deal_ids))
                                     .where(scope(Deal, user))))
    done = failed = 0
    errors = []
    for deal_id in deal_ids:
        done += 1
        if deal_id not in visible or has_document(deal_id, "invoice"):
            continue
        try:
            with db.session.begin_nested():
                create_document(db.session.get(Deal, deal_id), user, kind="invoice",
                                language=batch.language)
        except (DocumentError, TemplateProblem) as exc:
            failed += 1
            errors.append(f"#{deal_id}: {exc}")
    db.session.execute(update(Batch).where(Batch.id == batch_id).values(
        done=Batch.done + done, failed=Batch.failed + failed))
    db.session.refresh(batch)
    if errors:
        batch.errors = (batch.errors + "\n".join(errors) + "\n")[-4000:]
    if batch.done >= batch.total:
        batch.finished_at = utcnow()
    release_memory()


def release_memory() -> None:
    """Hand freed heap back to the system after a chunk (glibc's ``malloc_trim``). Rendering
    allocates and frees many large lxml and ZIP buffers; without this a worker's RSS creeps up
    by fragmentation (~90 kB a document in the benchmark) although nothing is kept."""
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes

            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC: Any = None


def has_document(deal_id: int, kind: str) -> bool:
    return db.session.scalar(select(Document.id).where(
        Document.deal_id == deal_id, Document.kind == kind,
        Document.status != "cancelled").limit(1)) is not None
