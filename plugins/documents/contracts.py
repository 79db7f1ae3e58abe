"""Contracts and the approvals plugin: a contract is an approvable record (its version is the
newest DOCX's sha256, so a revised file needs approving again), and the contract flow — a deal
entering the stage of ``documents.contract_stage`` (60 %: "contract being concluded") gets a
contract draft, which goes to the lawyers when approvals is on. Without approvals the draft is
still made; nothing here imports that plugin unless it is enabled."""
from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from conveyor import db, scoped, setting
from conveyor.i18n import _l

from .models import Document

CONTRACT = "contract"


def approvals_on() -> bool:
    return bool(current_app.extensions["conveyor"].enabled("approvals"))


def load_contract(record_id: int, user: Any) -> Document | None:
    """The contract when ``user`` may see its deal (``None``: the system — gates and jobs)."""
    if user is None:
        document = db.session.get(Document, record_id)
    else:
        document = db.session.scalar(scoped(Document, user).where(Document.id == record_id))
    return document if document is not None and document.kind == CONTRACT else None


def contract_version(document: Document) -> str:
    file = document.file("docx")
    return file.sha256 if file is not None else ""


def contract_title(document: Document) -> str:
    return f"{document.number} · {document.deal.title}"


def approvables() -> list[Any]:
    from conveyor.plugins.approvals.resources import Approvable, Approver

    return [Approvable(name=CONTRACT, label=_l("Contract"), load=load_contract,
                       version=contract_version, title=contract_title,
                       url=lambda document: f"/documents/{document.id}",
                       deal_id=lambda document: document.deal_id,
                       approver=Approver.of_role("lawyer"))]


def approval_of(document: Document) -> dict[str, Any] | None:
    """``{"id", "status", "version", "current", "label"}`` of the contract's latest approval request
    (``current``: it is for the newest file), or ``None`` — for the API and the page."""
    if document.kind != CONTRACT or not approvals_on():
        return None
    from conveyor.plugins.approvals import services

    request = services.latest(CONTRACT, record_id=document.id)
    if request is None:
        return None
    return {"id": request.id, "status": request.status, "version": request.version,
            "current": request.version == contract_version(document),
            "label": services.STATUS_LABELS.get(request.status, request.status)}


def approvals_of(documents: list[Document]) -> dict[int, dict[str, Any]]:
    """The latest approval request of each contract among ``documents``, in one statement:
    {document id: {"id", "status", "version", "current"}} (the API's ``approval``)."""
    ids = [d.id for d in documents if d.kind == CONTRACT]
    if not ids or not approvals_on():
        return {}
    from conveyor.plugins.approvals.models import ApprovalRequest

    latest: dict[int, Any] = {}
    for request in db.session.scalars(select(ApprovalRequest).where(
            ApprovalRequest.resource == CONTRACT, ApprovalRequest.record_id.in_(ids))
            .order_by(ApprovalRequest.id)):
        latest[request.record_id] = request
    by_id = {d.id: d for d in documents}
    return {record_id: {"id": r.id, "status": r.status, "version": r.version,
                        "current": r.version == contract_version(by_id[record_id])}
            for record_id, r in latest.items()}


def send_for_approval(document: Document, by: Any, note: str = "") -> Any:
    """Send the contract (its newest file) to the lawyers, or an open request on it back to
    them with the new version. ``None`` when approvals is off."""
    if document.kind != CONTRACT or not approvals_on():
        return None
    from conveyor.plugins.approvals import services

    return services.request_approval(CONTRACT, document, by, note=note)


def resubmit_if_open(document: Document, by: Any) -> None:
    """A revised file of a contract whose request is open (pending or sent back) goes to the
    lawyers again with the new version; an approved one waits until someone sends it."""
    if document.kind != CONTRACT or not approvals_on():
        return
    from conveyor.plugins.approvals import services
    from conveyor.plugins.approvals.models import OPEN

    request = services.latest(CONTRACT, record_id=document.id)
    if request is not None and request.status in OPEN and \
            request.version != contract_version(document):
        services.request_approval(CONTRACT, document, by)


def latest_contract(deal_id: int) -> Document | None:
    """The deal's newest contract that is not cancelled."""
    return db.session.scalar(select(Document).where(
        Document.deal_id == deal_id, Document.kind == CONTRACT, Document.status != "cancelled")
        .order_by(Document.id.desc()).limit(1))


def on_stage_changed(event: Any) -> Document | None:
    """The contract flow: entering the contract stage drafts the deal's contract (unless one
    that is not cancelled exists) and sends it for approval; in the move's transaction."""
    percent = int(setting("documents.contract_stage") or 0)
    new = event.new
    if not percent or new is None or getattr(new, "percent", None) != percent or \
            getattr(new, "is_won", False) or getattr(new, "is_lost", False):
        return None
    deal = event.deal
    if latest_contract(deal.id) is not None:
        return None
    from .services import DocumentError, create_document

    by = event.by or deal.owner
    try:
        document = create_document(deal, by, kind=CONTRACT)
    except DocumentError:
        current_app.logger.warning("documents: no contract drafted for deal %s", deal.id)
        return None
    if by is not None:
        send_for_approval(document, by)
    return document


def offer_blocked(document: Document) -> Any:
    """Why an offer can't be made final yet: the deal's discount is above its owner's limit
    and the manager has not approved the deal's terms as they are. ``None``: it can."""
    if document.kind != "offer" or not approvals_on():
        return None
    from conveyor.plugins.approvals import discount
    from conveyor.plugins.approvals.gates import approval_reason
    from conveyor.plugins.approvals.resources import DEAL

    deal = document.deal
    percent = discount.of_deal(deal.id)
    if deal.owner is None or not discount.needs_approval(percent, deal.owner):
        return None
    if approval_reason(DEAL, deal) is None:
        return None
    shown = format(percent.normalize(), "f")
    return _l("The deal's discount of %(percent)s%% needs the manager's approval before the "
              "offer is final.", percent=shown)


def on_version_added(event: Any) -> None:
    """A contract's revised file goes back to the lawyers when its request is open."""
    resubmit_if_open(event.document, event.by)
