"""Demo rows: our legal entity, customers' legal details (valid Russian and Chinese ids), a
few invoices and contracts of deals far along the pipeline and, with the approvals plugin, the
contract flow: the 70 % stage gated by the contract's approval, and two of the seller's deals moved
into the 60 % stage — their contracts drafted and sent to the lawyers, one already approved."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from conveyor import move_deal
from conveyor.models import Customer, Deal, Stage

from . import contracts
from .legal import _INN10, USCC_CHARS, _check, uscc_check_char
from .models import Company, LegalDetails
from .services import DocumentError, create_document, finalize


def make_inn(rng: Any) -> str:
    digits = [rng.randint(0, 9) for _ in range(9)]
    digits[0] = rng.randint(1, 9)
    return "".join(map(str, digits + [_check(digits, _INN10)]))


def make_uscc(rng: Any) -> str:
    body = "91" + "".join(rng.choice("0123456789") for _ in range(6)) + \
        "".join(rng.choice(USCC_CHARS) for _ in range(9))
    return body + uscc_check_char(body)


def seed(session: Any, users: dict[str, Any], rng: Any) -> None:
    if session.get(Company, 1) is None:
        session.add(Company(
            id=1, name="ООО «Конвейер»", address="125009, г. Москва, ул. Тверская, д. 1",
            tax_id="7707083893", kpp="770701001", reg_number="1027700132195",
            bank_name="ПАО Сбербанк, г. Москва", bank_account="40702810938000000001",
            bank_code="044525225", corr_account="30101810400000000225",
            signatory_name="Смирнова А. В.", signatory_title="Генеральный директор",
            email="office@conveyor.example", phone="+7 495 000-00-00"))
    customers = list(session.scalars(select(Customer).order_by(Customer.id).limit(30)))
    for index, customer in enumerate(customers):
        if session.get(LegalDetails, customer.id) is not None:
            continue
        if index % 3 == 0:
            session.add(LegalDetails(customer_id=customer.id, country="RU",
                                     legal_name=f"ООО «{customer.name}»", inn=make_inn(rng),
                                     kpp=f"77{rng.randint(10, 99)}01001",
                                     address=customer.address))
        elif index % 3 == 1:
            session.add(LegalDetails(customer_id=customer.id, country="CN",
                                     legal_name=f"{customer.name}有限公司", uscc=make_uscc(rng),
                                     address=customer.address))
    session.flush()
    by = users.get("assistant") or users.get("admin")
    deals = list(session.scalars(
        select(Deal).join(Stage, Stage.id == Deal.stage_id)
        .where(Stage.percent >= 70, Stage.is_lost.is_(False)).order_by(Deal.id).limit(6)))
    for index, deal in enumerate(deals[:4]):
        try:
            kind = "contract" if index % 2 else "invoice"
            document = create_document(deal, by, kind=kind, language=("ru", "en", "zh")[index % 3])
            if index == 0:
                finalize(document, by)
        except DocumentError:
            continue
    if contracts.approvals_on():
        contract_flow(session, users)


def contract_flow(session: Any, users: dict[str, Any]) -> None:
    """Gate 70 % on the contract's approval; move two of the seller's 40 % deals into 60 %
    (the flow drafts their contracts and sends them to the lawyers); the lawyer approves one."""
    from conveyor.plugins.approvals import services as approvals

    seller, lawyer = users.get("seller"), users.get("lawyer")
    gated = session.scalar(select(Stage).where(Stage.percent == 70, Stage.is_won.is_(False)))
    target = session.scalar(select(Stage).where(Stage.percent == 60, Stage.is_won.is_(False)))
    source = session.scalar(select(Stage).where(Stage.percent == 40, Stage.is_won.is_(False)))
    if seller is None or gated is None or target is None or source is None:
        return
    gated.gates = sorted(set(gated.gates or []) | {"approvals.approved:contract"})
    session.flush()
    deals = list(session.scalars(select(Deal).where(
        Deal.owner_id == seller.id, Deal.stage_id == source.id).order_by(Deal.id).limit(2)))
    for index, deal in enumerate(deals):
        move_deal(deal, target, seller)
        document = contracts.latest_contract(deal.id)
        if index == 0 and lawyer is not None and document is not None:
            request = approvals.latest(contracts.CONTRACT, record_id=document.id)
            if request is not None:
                approvals.approve(request, lawyer, "Standard terms, approved.")
    session.flush()
