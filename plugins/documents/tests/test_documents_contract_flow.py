"""The contract flow with the approvals plugin: entering the 60 % stage drafts the contract and
sends it to the lawyers; 70 % and beyond is refused until the latest contract is approved; a
revised DOCX from the lawyer is a new version that needs approving again; the API shows a
document's approval; an offer waits for the manager when the deal's discount is too high."""
from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import pytest
from sqlalchemy import select

from conveyor import db
from conveyor.models import Deal, Stage, User
from conveyor.testing import token_headers

from .conftest import config, make_deal


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(plugins=["documents", "approvals"], config=config(tmp_path))


def _gate_70(app) -> None:
    with app.app_context():
        stage = db.session.scalar(select(Stage).where(Stage.percent == 70))
        stage.gates = ["approvals.approved:contract"]
        db.session.commit()


def _stage_id(app, percent: int) -> int:
    with app.app_context():
        return db.session.scalar(select(Stage.id).where(Stage.percent == percent,
                                                        Stage.is_won.is_(False)))


def _move(client, headers, deal_id: int, stage_id: int):
    return client.post(f"/api/v1/deals/{deal_id}/stage", headers=headers,
                       json={"stage_id": stage_id})


def _contracts(client, headers, deal_id: int) -> list[dict]:
    items = client.get(f"/api/v1/deals/{deal_id}/documents", headers=headers).json["items"]
    return [d for d in items if d["kind"] == "contract"]


def test_entering_60_drafts_the_contract_and_sends_it_to_the_lawyers(app) -> None:
    client = app.test_client()
    seller, lawyer = token_headers(app, "seller"), token_headers(app, "lawyer")
    deal_id = make_deal(app, "seller", percent=40)
    assert _contracts(client, seller, deal_id) == []
    assert _move(client, seller, deal_id, _stage_id(app, 60)).status_code == 200
    [contract] = _contracts(client, seller, deal_id)
    assert contract["status"] == "draft" and contract["number"].startswith("CTR-")
    assert contract["language"] == "en"  # no contact's language is known
    approval = client.get(f"/api/v1/documents/{contract['id']}", headers=seller).json["approval"]
    assert approval["status"] == "pending" and approval["current"] is True
    queue = client.get("/api/v1/approvals?status=pending", headers=lawyer).json
    items = queue["items"] if isinstance(queue, dict) else queue
    assert [i["id"] for i in items] == [approval["id"]]
    # Back and forth: the draft that exists is kept, no second contract.
    assert _move(client, seller, deal_id, _stage_id(app, 40)).status_code == 200
    assert _move(client, seller, deal_id, _stage_id(app, 60)).status_code == 200
    assert len(_contracts(client, seller, deal_id)) == 1


def test_70_is_refused_until_the_latest_contract_is_approved(app) -> None:
    _gate_70(app)
    client = app.test_client()
    seller, lawyer = token_headers(app, "seller"), token_headers(app, "lawyer")
    deal_id = make_deal(app, "seller", percent=40)
    _move(client, seller, deal_id, _stage_id(app, 60))
    refused = _move(client, seller, deal_id, _stage_id(app, 80))  # past 70 as well
    assert refused.status_code == 409 and refused.json["code"] == "stage_gate"
    [contract] = _contracts(client, seller, deal_id)
    approval = client.get(f"/api/v1/documents/{contract['id']}", headers=seller).json["approval"]
    own = client.post(f"/api/v1/approvals/{approval['id']}/approve", headers=seller, json={})
    assert own.status_code == 403
    assert client.post(f"/api/v1/approvals/{approval['id']}/approve", headers=lawyer,
                       json={}).status_code == 200
    assert _move(client, seller, deal_id, _stage_id(app, 70)).status_code == 200


def _revised_docx(app, contract_id: int) -> bytes:
    """The contract's own DOCX with one word changed: what a lawyer's edit looks like."""
    client = app.test_client()
    headers = token_headers(app, "lawyer")
    url = client.get(f"/api/v1/documents/{contract_id}", headers=headers).json["files"]["docx"]
    data = client.get(url.replace("http://localhost", ""), headers=headers).data
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            body = source.read(item.filename)
            if item.filename == "word/document.xml":
                body = body.replace(b"</w:body>", b"<w:p><w:r><w:t>Revised by the lawyer"
                                                  b"</w:t></w:r></w:p></w:body>")
            target.writestr(item, body)
    return out.getvalue()


def test_a_revised_docx_is_a_new_version_that_needs_approving_again(app, login_as) -> None:
    _gate_70(app)
    client = app.test_client()
    seller, lawyer_api = token_headers(app, "seller"), token_headers(app, "lawyer")
    deal_id = make_deal(app, "seller", percent=40)
    _move(client, seller, deal_id, _stage_id(app, 60))
    [contract] = _contracts(client, seller, deal_id)
    first = client.get(f"/api/v1/documents/{contract['id']}", headers=seller).json["approval"]
    lawyer = login_as("lawyer")
    page = lawyer.get(f"/documents/{contract['id']}")
    assert page.status_code == 200 and b'data-approval-status="pending"' in page.data
    response = lawyer.post(f"/documents/{contract['id']}/revision", data={
        "file": (io.BytesIO(_revised_docx(app, contract["id"])), "revised.docx")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    doc = client.get(f"/api/v1/documents/{contract['id']}", headers=seller).json
    assert doc["version"] == 2
    assert doc["approval"]["id"] == first["id"] and doc["approval"]["status"] == "pending"
    assert doc["approval"]["version"] != first["version"] and doc["approval"]["current"]
    history = client.get(f"/api/v1/approvals/{first['id']}", headers=lawyer_api).json["history"]
    assert [step["action"] for step in history] == ["requested", "resubmitted"]
    assert client.post(f"/api/v1/approvals/{first['id']}/approve", headers=lawyer_api,
                       json={}).status_code == 200
    assert _move(client, seller, deal_id, _stage_id(app, 70)).status_code == 200


def test_a_revision_must_be_a_plain_docx_of_a_draft(app, login_as) -> None:
    client = app.test_client()
    seller = token_headers(app, "seller")
    deal_id = make_deal(app, "seller", percent=40)
    _move(client, seller, deal_id, _stage_id(app, 60))
    [contract] = _contracts(client, seller, deal_id)
    lawyer = login_as("lawyer")
    bad = lawyer.post(f"/documents/{contract['id']}/revision", data={
        "file": (io.BytesIO(b"not a zip"), "x.docx")}, content_type="multipart/form-data",
        follow_redirects=True)
    assert "This is not a Word (.docx) file." in bad.get_data(as_text=True)
    assert client.get(f"/api/v1/documents/{contract['id']}", headers=seller).json["version"] == 1


def test_the_flow_is_off_with_contract_stage_0(make_app, tmp_path) -> None:
    app = make_app(plugins=["documents", "approvals"],
                   config=config(tmp_path, documents={"contract_stage": 0}))
    client = app.test_client()
    seller = token_headers(app, "seller")
    deal_id = make_deal(app, "seller", percent=60)
    assert _contracts(client, seller, deal_id) == []


def test_without_approvals_the_draft_is_made_and_approval_is_null(make_app, tmp_path) -> None:
    app = make_app(plugins=["documents"], config=config(tmp_path))
    client = app.test_client()
    seller = token_headers(app, "seller")
    deal_id = make_deal(app, "seller", percent=60)
    [contract] = _contracts(client, seller, deal_id)
    assert client.get(f"/api/v1/documents/{contract['id']}",
                      headers=seller).json["approval"] is None


def test_the_deal_list_of_documents_reads_approvals_at_once(app, count_queries) -> None:
    client = app.test_client()
    seller = token_headers(app, "seller")
    deal_id = make_deal(app, "seller", percent=40)
    _move(client, seller, deal_id, _stage_id(app, 60))

    def statements() -> int:
        with count_queries() as counted:
            client.get(f"/api/v1/deals/{deal_id}/documents", headers=seller)
        return len(counted)

    one = statements()
    for kind in ("contract", "contract", "offer"):
        client.post(f"/api/v1/deals/{deal_id}/documents", headers=seller,
                    json={"kind": kind, "language": "en"})
    assert statements() == one


def test_an_offer_waits_for_the_manager_when_the_discount_is_too_high(app) -> None:
    from conveyor.plugins.approvals import discount, services

    client = app.test_client()
    seller, manager = token_headers(app, "seller"), token_headers(app, "manager")
    deal_id = make_deal(app, "seller", percent=40)
    with app.app_context():
        deal = db.session.get(Deal, deal_id)
        user = db.session.scalar(select(User).where(User.username == "seller"))
        discount.set_deal_discount(deal, Decimal("20"), user)  # the seller's limit is 10 %
        db.session.commit()
    offer = client.post(f"/api/v1/deals/{deal_id}/documents", headers=seller,
                        json={"kind": "offer", "language": "en"}).json
    refused = client.post(f"/api/v1/documents/{offer['id']}/status", headers=seller,
                          json={"action": "finalize"})
    assert refused.status_code == 409
    assert "manager" in str(refused.json)
    with app.app_context():
        request_id = services.latest("deal", deal_id=deal_id).id
    assert client.post(f"/api/v1/approvals/{request_id}/approve", headers=manager,
                       json={}).status_code == 200
    done = client.post(f"/api/v1/documents/{offer['id']}/status", headers=seller,
                       json={"action": "finalize"})
    assert done.status_code == 200 and done.json["status"] == "final"
