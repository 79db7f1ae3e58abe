"""Sending a final document by e-mail (a real SMTP server), recorded on the deal's timeline."""
from __future__ import annotations

from sqlalchemy import select, update

from conveyor import db
from conveyor.models import TimelineEntry
from conveyor.plugins.documents.models import Send
from conveyor.plugins.documents.services import sweep_sends
from conveyor.testing import free_port, smtp_config, token_headers

from .conftest import config, make_deal


def _final_document(app, client, headers, language: str = "ru") -> dict:
    deal_id = make_deal(app, "seller", amount="21.00")
    doc = client.post(f"/api/v1/deals/{deal_id}/documents", headers=headers,
                      json={"kind": "invoice", "language": language}).json
    client.post(f"/api/v1/documents/{doc['id']}/status", headers=headers,
                json={"action": "finalize"})
    return doc


def test_send_mails_the_docx_in_the_documents_language_and_logs_it(make_app, tmp_path,
                                                                    smtp_server) -> None:
    app = make_app(plugins=["documents"], config=config(tmp_path, **smtp_server.config))
    client = app.test_client()
    headers = token_headers(app, "assistant")
    seller = token_headers(app, "seller")
    doc = _final_document(app, client, seller)
    draft_refused = client.post(f"/api/v1/documents/{doc['id']}/send", headers=seller,
                                json={"to": "not-an-address"})
    assert draft_refused.status_code == 422
    response = client.post(f"/api/v1/documents/{doc['id']}/send", headers=headers,
                           json={"to": "buyer@customer.test"})
    assert response.status_code == 202, response.json
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == "buyer@customer.test"
    assert doc["number"] in message["Subject"] and "Счёт" in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert "двадцать" not in body and "Здравствуйте" in body
    names = [part.get_filename() for part in message.iter_attachments()]
    assert names == [f"{doc['number']}.docx"]
    assert client.get(f"/api/v1/documents/{doc['id']}", headers=seller).json["status"] == "sent"
    with app.app_context():
        entry = db.session.scalar(select(TimelineEntry).where(
            TimelineEntry.kind == "documents.sent"))
        assert entry.message == f"{doc['number']} → buyer@customer.test"
        assert entry.deal_id == doc["deal_id"] and entry.data["sha256"]
        assert sweep_sends() == 1
        db.session.commit()
        assert db.session.scalar(select(Send.status)) == "sent"


def test_a_draft_is_not_sent(app, client, api_headers, deal_of) -> None:
    deal_id = deal_of("seller")
    doc = client.post(f"/api/v1/deals/{deal_id}/documents", headers=api_headers("seller"),
                      json={"kind": "offer", "language": "en"}).json
    response = client.post(f"/api/v1/documents/{doc['id']}/send",
                           headers=api_headers("seller"), json={"to": "x@customer.test"})
    assert response.status_code == 409


def test_a_failed_delivery_shows_on_the_deals_timeline(make_app, tmp_path) -> None:
    from conveyor.jobs import run_due
    from conveyor.models.outbox import OutboxMessage

    dead_port = free_port()  # nothing listens there: every attempt fails for real
    app = make_app(plugins=["documents"], config=config(tmp_path, **smtp_config(dead_port),
                                                        smtp_timeout=2))
    client = app.test_client()
    headers = token_headers(app, "seller")
    doc = _final_document(app, client, headers, language="en")
    assert client.post(f"/api/v1/documents/{doc['id']}/send", headers=headers,
                       json={"to": "buyer@customer.test"}).status_code == 202
    with app.app_context():
        for _ in range(10):
            db.session.execute(update(OutboxMessage).where(OutboxMessage.status == "pending")
                               .values(run_at=OutboxMessage.created_at))
            db.session.commit()
            run_due(app)
        assert db.session.scalar(select(OutboxMessage.status).where(
            OutboxMessage.job == "core.send_mail")) == "failed"
        assert sweep_sends() == 1
        db.session.commit()
        failure = db.session.scalar(select(TimelineEntry).where(
            TimelineEntry.kind == "documents.send_failed"))
        assert failure is not None and "buyer@customer.test" in failure.message
        assert db.session.scalar(select(Send.status)) == "failed"
