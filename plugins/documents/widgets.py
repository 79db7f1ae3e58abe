"""The assistant's paperwork queue, the lawyer's contracts, and the deal and customer panels.
Each runs a fixed number of queries whatever the number of deals (LIMIT / GROUP BY)."""
from __future__ import annotations

from typing import Any

from flask import render_template
from sqlalchemy import and_, exists, func, select

from conveyor import Panel, Widget, can, db, scope
from conveyor.i18n import _l
from conveyor.models import Customer, Deal, Stage
from conveyor.queries import written_limit

from .forms import KIND_LABELS, LANGUAGE_LABELS, PDF_LABELS, STATUS_LABELS, GenerateForm
from .models import Document, DocumentFile, LegalDetails
from .services import contact_language

QUEUE_LIMIT = 20
LANG_OF_LOCALE = {"ru": "ru", "zh_Hans": "zh", "zh": "zh"}


def default_language(user: Any) -> str:
    return LANG_OF_LOCALE.get(getattr(user, "locale", "") or "", "en")


def _without(kind: str) -> Any:
    return ~exists().where(and_(Document.deal_id == Deal.id, Document.kind == kind,
                                Document.status != "cancelled"))


def _queue(user: Any, percent: int, kind: str) -> tuple[list[Any], int]:
    base = (select(Deal.id, Deal.title, Deal.amount, Deal.currency, Stage.percent,
                   Customer.name.label("customer"))
            .join(Stage, Stage.id == Deal.stage_id).join(Customer, Customer.id == Deal.customer_id)
            .where(scope(Deal, user), Stage.percent >= percent, Stage.is_lost.is_(False),
                   _without(kind)))
    rows = db.session.execute(base.order_by(Stage.percent.desc(), Deal.id.desc())
                              .limit(written_limit(QUEUE_LIMIT))).all()
    count = db.session.scalar(select(func.count()).select_from(base.subquery()))
    return rows, int(count or 0)


def paperwork(user: Any) -> str:
    """Deals at ≥ 70 % without an invoice, at ≥ 90 % without an act, and documents sent back
    for changes — of the deals the user may see (the assistant: the team's)."""
    invoice_rows, invoice_count = _queue(user, 70, "invoice")
    act_rows, act_count = _queue(user, 90, "act")
    changes = db.session.execute(
        select(Document, Deal.title).join(Deal, Deal.id == Document.deal_id)
        .where(scope(Document, user), Document.changes_requested.is_(True),
               Document.status == "draft")
        .order_by(Document.updated_at.desc()).limit(written_limit(QUEUE_LIMIT))).all()
    return render_template("documents/widget_paperwork.html", invoice_rows=invoice_rows,
                           invoice_count=invoice_count, act_rows=act_rows, act_count=act_count,
                           changes=changes, form=GenerateForm(), language=default_language(user),
                           doc_languages=LANGUAGE_LABELS, kinds=KIND_LABELS)


def contracts(user: Any) -> str:
    """The company's contracts by state, and the newest ones."""
    visible = scope(Document, user)
    counts = dict(db.session.execute(
        select(Document.status, func.count()).where(visible, Document.kind == "contract")
        .group_by(Document.status)).all())
    changes = db.session.scalar(select(func.count()).select_from(Document).where(
        visible, Document.kind == "contract", Document.changes_requested.is_(True)))
    rows = db.session.execute(
        select(Document, Deal.title, Customer.name).join(Deal, Deal.id == Document.deal_id)
        .join(Customer, Customer.id == Document.customer_id)
        .where(visible, Document.kind == "contract", Document.status != "cancelled")
        .order_by(Document.updated_at.desc()).limit(written_limit(15))).all()
    return render_template("documents/widget_contracts.html", counts=counts, changes=changes,
                           rows=rows, statuses=STATUS_LABELS)


def deal_panel(deal: Any, user: Any) -> str:
    documents = list(db.session.scalars(
        select(Document).where(Document.deal_id == deal.id).order_by(Document.id.desc())
        .limit(written_limit(50))))
    files: dict[int, dict[str, Any]] = {}
    if documents:
        for file in db.session.scalars(select(DocumentFile).where(
                DocumentFile.document_id.in_([d.id for d in documents]))
                .order_by(DocumentFile.id)):
            files.setdefault(file.document_id, {})[file.format] = file
    legal = db.session.get(LegalDetails, deal.customer_id)
    return render_template("documents/panel_deal.html", deal=deal, documents=documents,
                           files=files, legal=legal, form=GenerateForm(
                               language=contact_language(deal, legal) or default_language(user)),
                           can_create=can(user, "documents.create"),
                           can_legal=can(user, "documents.legal"), kinds=KIND_LABELS,
                           statuses=STATUS_LABELS, pdf=PDF_LABELS)


def customer_panel(customer: Any, user: Any) -> str:
    legal = db.session.get(LegalDetails, customer.id)
    return render_template("documents/panel_customer.html", customer=customer, legal=legal)


WIDGETS = [
    Widget("documents.paperwork", _l("Paperwork queue"), "documents.create", paperwork),
    Widget("documents.contracts", _l("Contracts"), "documents.view", contracts),
]
PANELS = [
    Panel("documents.deal", _l("Documents"), "deal", "documents.view", deal_panel, order=20),
    Panel("documents.legal", _l("Legal details"), "customer", "documents.legal", customer_panel,
          order=30),
]
