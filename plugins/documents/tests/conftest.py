"""Fixtures: an app with the documents plugin (storage in a temp folder, no converter unless a
test asks for one), deals of seller / seller3, and a warm converter when LibreOffice is here."""
from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from conveyor import create_customer, create_deal, db, move_deal
from conveyor.models import Contact, Stage, User
from conveyor.testing import free_port


def config(tmp_path: Any, **extra: Any) -> dict[str, Any]:
    return {"documents": {"storage_dir": str(tmp_path / "docstore"), "converter": "",
                          **extra.pop("documents", {})}, **extra}


@pytest.fixture
def app(make_app: Callable[..., Any], tmp_path: Any) -> Any:
    return make_app(plugins=["documents"], config=config(tmp_path))


def make_deal(app: Any, owner: str = "seller", percent: int = 50, amount: str = "1200.00",
              currency: str = "RUB", customer: str = "ООО «Ромашка» & Co <b>",
              contact: bool = True) -> int:
    """A customer and a deal owned by ``owner``, at the stage with ``percent``."""
    with app.app_context():
        user = db.session.query(User).filter_by(username=owner).one()
        cust = create_customer({"name": customer, "owner_id": user.id}, by=user)
        if contact:
            db.session.add(Contact(customer=cust, name="Иван Петров", position="Директор",
                                   email="ivan@customer.test", decision_maker=True))
        deal = create_deal({"customer_id": cust.id, "title": "CRM roll-out",
                            "amount": Decimal(amount), "currency": currency,
                            "owner_id": user.id}, by=user)
        db.session.flush()
        stage = db.session.query(Stage).filter(Stage.percent == percent,
                                               Stage.is_lost.is_(False)).first()
        if stage is not None and stage.id != deal.stage_id:
            move_deal(deal, stage, by=user)
        db.session.commit()
        return deal.id


@pytest.fixture
def deal_of(app: Any) -> Callable[..., int]:
    return lambda owner="seller", **kw: make_deal(app, owner, **kw)


@pytest.fixture(scope="session")
def converter_port() -> Iterator[int]:
    """A warm LibreOffice converter for the session; skips without LibreOffice."""
    from conveyor.plugins.documents import converter

    if not shutil.which("soffice") or not converter.libreoffice_installed():
        pytest.skip("LibreOffice (soffice, python3-uno) is not installed")
    port = free_port()
    process = converter.start(port, free_port(), wait=120)
    try:
        yield port
    finally:
        converter.stop(process)
