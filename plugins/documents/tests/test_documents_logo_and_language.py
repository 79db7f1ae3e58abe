"""Our company's logo printed on the documents, and the contact's language: a document made
without a language is in its contact's, and an e-mail to a contact is in the contact's."""
from __future__ import annotations

import io
import struct
import zipfile
import zlib

from conveyor.testing import token_headers

from .conftest import config, make_deal


def png(width: int = 4, height: int = 2) -> bytes:
    """A small real PNG (red pixels)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _docx(client, headers, doc: dict) -> zipfile.ZipFile:
    url = doc["files"]["docx"].replace("http://localhost", "")
    return zipfile.ZipFile(io.BytesIO(client.get(url, headers=headers).data))


def test_the_company_logo_is_printed_on_every_kind(app, client, api_headers, login_as) -> None:
    seller = api_headers("seller")
    deal_id = make_deal(app, "seller")
    before = client.post(f"/api/v1/deals/{deal_id}/documents", headers=seller,
                         json={"kind": "invoice", "language": "ru"}).json
    archive = _docx(client, seller, before)
    assert not [n for n in archive.namelist() if n.startswith("word/media/")]
    assert b"{%p" not in archive.read("word/document.xml")  # no tag left, no empty line
    lawyer = login_as("lawyer")
    saved = lawyer.post("/documents/company", data={
        "name": "ООО «Конвейер»", "logo": (io.BytesIO(png()), "logo.png")},
        content_type="multipart/form-data")
    assert saved.status_code == 302
    for kind in ("invoice", "contract", "act", "offer"):
        for language in ("en", "ru", "zh"):
            doc = client.post(f"/api/v1/deals/{deal_id}/documents", headers=seller,
                              json={"kind": kind, "language": language}).json
            archive = _docx(client, seller, doc)
            media = [n for n in archive.namelist() if n.startswith("word/media/")]
            assert len(media) == 1, (kind, language)
            assert archive.read(media[0]) == png()
            assert b"<wp:inline" in archive.read("word/document.xml")


def test_a_logo_must_be_an_image(app, login_as) -> None:
    lawyer = login_as("lawyer")
    refused = lawyer.post("/documents/company", data={
        "name": "X", "logo": (io.BytesIO(b"GIF89a not accepted"), "logo.gif")},
        content_type="multipart/form-data")
    assert refused.status_code == 422
    assert "PNG or JPEG" in refused.get_data(as_text=True)


def test_a_contacts_language_is_kept_and_checked_by_the_api(app, client, api_headers) -> None:
    seller = api_headers("seller")
    deal_id = make_deal(app, "seller", contact=False)
    customer_id = client.get(f"/api/v1/deals/{deal_id}", headers=seller).json["customer_id"]
    created = client.post(f"/api/v1/customers/{customer_id}/contacts", headers=seller,
                          json={"name": "王伟", "email": "wang@customer.test",
                                "language": "zh_Hans"})
    assert created.status_code == 201 and created.json["language"] == "zh_Hans"
    bad = client.post(f"/api/v1/customers/{customer_id}/contacts", headers=seller,
                      json={"name": "X", "language": "xx"})
    assert bad.status_code == 422 and "language" in bad.json["errors"]["json"]
    doc = client.post(f"/api/v1/deals/{deal_id}/documents", headers=seller,
                      json={"kind": "offer"}).json
    assert doc["language"] == "zh"  # not asked for: the contact's
    asked = client.post(f"/api/v1/deals/{deal_id}/documents", headers=seller,
                        json={"kind": "offer", "language": "en"}).json
    assert asked["language"] == "en"


def test_the_contact_form_has_the_language(app, login_as) -> None:
    seller = login_as("seller")
    deal_id = make_deal(app, "seller", contact=False)
    customer_id = app.test_client().get(
        f"/api/v1/deals/{deal_id}", headers=token_headers(app, "seller")).json["customer_id"]
    page = seller.get(f"/customers/{customer_id}/contacts/new")
    assert b'name="language"' in page.data
    saved = seller.post(f"/customers/{customer_id}/contacts",
                        data={"name": "Пётр", "language": "ru"})
    assert saved.status_code == 302
    refused = seller.post(f"/customers/{customer_id}/contacts",
                          data={"name": "Пётр", "language": "xx"})
    assert refused.status_code == 400


def test_the_email_to_a_contact_is_in_the_contacts_language(make_app, tmp_path,
                                                            smtp_server) -> None:
    app = make_app(plugins=["documents"], config=config(tmp_path, **smtp_server.config))
    client = app.test_client()
    seller = token_headers(app, "seller")
    deal_id = make_deal(app, "seller", contact=False)
    customer_id = client.get(f"/api/v1/deals/{deal_id}", headers=seller).json["customer_id"]
    client.post(f"/api/v1/customers/{customer_id}/contacts", headers=seller,
                json={"name": "Olga", "email": "olga@customer.test", "language": "ru"})
    doc = client.post(f"/api/v1/deals/{deal_id}/documents", headers=seller,
                      json={"kind": "invoice", "language": "en"}).json
    client.post(f"/api/v1/documents/{doc['id']}/status", headers=seller,
                json={"action": "finalize"})
    assert client.post(f"/api/v1/documents/{doc['id']}/send", headers=seller,
                       json={"to": "OLGA@customer.test"}).status_code == 202
    client.post(f"/api/v1/documents/{doc['id']}/status", headers=seller,
                json={"action": "request_changes"})
    client.post(f"/api/v1/documents/{doc['id']}/status", headers=seller,
                json={"action": "finalize"})
    assert client.post(f"/api/v1/documents/{doc['id']}/send", headers=seller,
                       json={"to": "someone@else.test"}).status_code == 202
    to_olga, to_someone = smtp_server.messages
    assert "Здравствуйте" in to_olga.get_body(("plain",)).get_content()
    assert "Здравствуйте" not in to_someone.get_body(("plain",)).get_content()
