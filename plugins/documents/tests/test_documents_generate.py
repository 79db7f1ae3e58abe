"""Generating documents through the API and the deal card; files behind the record rules."""
from __future__ import annotations

import hashlib
import io
import zipfile
from decimal import Decimal

from sqlalchemy import func, select

from conveyor import db
from conveyor.plugins.documents.models import Document, DocumentFile
from conveyor.testing import client_as, csrf_of


def _docx_text(data: bytes) -> str:
    return zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode()


def test_templates_list_has_every_kind_in_three_languages(app, client, api_headers) -> None:
    response = client.get("/api/v1/document-templates", headers=api_headers("assistant"))
    assert response.status_code == 200
    pairs = {(t["kind"], t["language"]) for t in response.json}
    assert pairs == {(k, lang) for k in ("contract", "invoice", "act", "offer")
                     for lang in ("en", "ru", "zh")}
    assert all({"id", "kind", "language", "name"} <= set(t) for t in response.json)


def test_post_invoice_returns_number_words_lines_and_files(app, client, api_headers,
                                                           deal_of) -> None:
    deal_id = deal_of("seller", amount="1001000.01")
    response = client.post(f"/api/v1/deals/{deal_id}/documents", headers=api_headers("seller"),
                           json={"kind": "invoice", "language": "ru"})
    assert response.status_code == 201, response.json
    body = response.json
    year = body["created_at"][:4]
    assert body["number"] == f"INV-{year}-000001"
    assert (body["kind"], body["status"], body["language"]) == ("invoice", "draft", "ru")
    assert (body["amount"], body["currency"]) == ("1001000.01", "RUB")
    assert body["amount_in_words"] == "один миллион одна тысяча рублей 01 копейка"
    assert body["lines"][0]["name"] == "CRM roll-out"
    assert body["lines"][0]["total"] == "1001000.01"
    assert body["files"]["pdf"] is None and body["pdf_status"] == "unavailable"
    docx = client.get(body["files"]["docx"], headers=api_headers("seller"))
    assert docx.status_code == 200
    text = _docx_text(docx.data)
    assert "Счёт на оплату № INV-" in text and "Итого к оплате" in text
    assert "Один миллион одна тысяча рублей 01 копейка" in text
    # The customer's name is escaped into the XML, not injected.
    assert "ООО «Ромашка» &amp; Co &lt;b&gt;" in text
    files = client.get(f"/api/v1/documents/{body['id']}/files", headers=api_headers("seller"))
    assert files.json["items"][0]["sha256"] == hashlib.sha256(docx.data).hexdigest()


def test_numbers_count_per_kind_and_never_repeat(app, client, api_headers, deal_of) -> None:
    deal_id = deal_of("seller")
    headers = api_headers("seller")
    numbers = [client.post(f"/api/v1/deals/{deal_id}/documents", headers=headers,
                           json={"kind": kind, "language": "en"}).json["number"]
               for kind in ("invoice", "invoice", "act", "invoice")]
    assert [n.split("-")[0] for n in numbers] == ["INV", "INV", "ACT", "INV"]
    assert [n[-6:] for n in numbers] == ["000001", "000002", "000001", "000003"]


def test_a_failed_generation_gives_its_number_back(app, client, api_headers, deal_of) -> None:
    deal_id = deal_of("seller")
    headers = api_headers("seller")
    bad = client.post(f"/api/v1/deals/{deal_id}/documents", headers=headers,
                      json={"template_id": 99999})
    assert bad.status_code == 422 and "template_id" in bad.json["errors"]["json"]
    bad_lines = client.post(f"/api/v1/deals/{deal_id}/documents", headers=headers,
                            json={"kind": "invoice", "lines": [{"name": "x", "quantity": "-1",
                                                                "price": "1"}]})
    assert bad_lines.status_code == 422
    good = client.post(f"/api/v1/deals/{deal_id}/documents", headers=headers,
                       json={"kind": "invoice"})
    assert good.json["number"].endswith("-000001")


def test_lines_are_computed_on_the_server(app, client, api_headers, deal_of) -> None:
    deal_id = deal_of("seller")
    response = client.post(f"/api/v1/deals/{deal_id}/documents", headers=api_headers("seller"),
                           json={"kind": "offer", "language": "zh", "lines": [
                               {"name": "许可证", "quantity": "3", "unit": "套",
                                "price": "333.33", "vat_rate": "13"},
                               {"name": "实施", "quantity": "1.5", "price": "1000.00",
                                "kind": "service"}]})
    assert response.status_code == 201, response.json
    lines = response.json["lines"]
    assert (lines[0]["net"], lines[0]["vat"], lines[0]["total"]) == ("999.99", "130.00",
                                                                      "1129.99")
    assert lines[1]["total"] == "1500.00"
    assert response.json["amount"] == "2629.99"
    assert response.json["amount_in_words"] == "卢布贰仟陆佰贰拾玖元玖角玖分"
    sums_from_client = client.post(
        f"/api/v1/deals/{deal_id}/documents", headers=api_headers("seller"),
        json={"kind": "offer", "lines": [{"name": "x", "quantity": "1", "price": "1",
                                          "total": "1000"}]})
    assert sums_from_client.status_code == 422


def test_a_seller_never_reads_another_sellers_documents(app, client, api_headers, login_as,
                                                        deal_of) -> None:
    deal_id = deal_of("seller3")
    created = client.post(f"/api/v1/deals/{deal_id}/documents", headers=api_headers("seller3"),
                          json={"kind": "contract", "language": "en"}).json
    doc_id = created["id"]
    docx_url = created["files"]["docx"]
    seller = api_headers("seller")
    assert client.get(f"/api/v1/documents/{doc_id}", headers=seller).status_code == 404
    assert client.get(f"/api/v1/documents/{doc_id}/files", headers=seller).status_code == 404
    assert client.get(f"/api/v1/deals/{deal_id}/documents", headers=seller).status_code == 404
    assert client.post(f"/api/v1/deals/{deal_id}/documents", headers=seller,
                       json={"kind": "invoice"}).status_code == 404
    assert client.get(docx_url, headers=seller).status_code == 404
    browser = login_as("seller")
    assert browser.get(f"/documents/{doc_id}").status_code == 404
    assert browser.get(docx_url).status_code == 404
    # The lawyer (all) and seller3 (own) do read it; the assistant's team is North.
    assert client.get(docx_url, headers=api_headers("lawyer")).status_code == 200
    assert client.get(docx_url, headers=api_headers("seller3")).status_code == 200
    assert client.get(docx_url, headers=api_headers("assistant")).status_code == 404


def test_final_files_are_immutable_and_a_new_version_is_a_new_file(app, client, api_headers,
                                                                   deal_of) -> None:
    deal_id = deal_of("seller")
    headers = api_headers("seller")
    doc = client.post(f"/api/v1/deals/{deal_id}/documents", headers=headers,
                      json={"kind": "invoice", "language": "en"}).json
    first = client.get(doc["files"]["docx"], headers=headers).data
    changed = client.put(f"/api/v1/documents/{doc['id']}/lines", headers=headers,
                         json={"lines": [{"name": "Licences", "quantity": "2",
                                          "price": "50.00"}]})
    assert changed.status_code == 200 and changed.json["version"] == 2
    assert changed.json["files"]["docx"] != doc["files"]["docx"]
    assert client.get(doc["files"]["docx"], headers=headers).data == first
    final = client.post(f"/api/v1/documents/{doc['id']}/status", headers=headers,
                        json={"action": "finalize"})
    assert final.json["status"] == "final"
    refused = client.put(f"/api/v1/documents/{doc['id']}/lines", headers=headers,
                         json={"lines": [{"name": "x", "quantity": "1", "price": "1"}]})
    assert refused.status_code == 409
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DocumentFile)) == 2
        document = db.session.get(Document, doc["id"])
        assert document.total == Decimal("100.00")


def test_deal_card_panel_generates_a_document(app, login_as, deal_of) -> None:
    deal_id = deal_of("seller")
    browser = login_as("seller")
    card = browser.get(f"/deals/{deal_id}")
    assert card.status_code == 200 and 'id="documents"' in card.text
    token = csrf_of(card.text)
    response = browser.post(f"/documents/deal/{deal_id}/new",
                            data={"csrf_token": token, "kind": "act", "language": "zh"})
    assert response.status_code == 302
    page = browser.get(response.headers["Location"])
    assert page.status_code == 200 and "ACT-" in page.text
    bare = client_as(app, "seller")  # login_as's clients send the token; this one does not
    without_token = bare.post(f"/documents/deal/{deal_id}/new",
                              data={"kind": "act", "language": "zh"})
    assert without_token.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Document)) == 1


def test_chinese_template_sets_the_east_asian_font_and_language(app) -> None:
    from conveyor.plugins.documents.services import builtin_bytes

    styles = zipfile.ZipFile(io.BytesIO(builtin_bytes("offer_zh.docx"))).read(
        "word/styles.xml").decode()
    assert 'w:eastAsia="Noto Sans CJK SC"' in styles
    assert 'w:eastAsia="zh-CN"' in styles
    assert "eastAsiaTheme" not in styles.split("<w:docDefaults>")[1].split("</w:docDefaults>")[0]
