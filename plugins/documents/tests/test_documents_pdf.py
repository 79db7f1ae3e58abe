"""PDF through the warm LibreOffice converter (skipped when LibreOffice is absent): Russian and
Chinese text comes out as text, in real fonts."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import config, make_deal

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("soffice")
                                is None, reason="needs LibreOffice and poppler-utils")


def _pdf_text(data: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode()


def _fonts(data: bytes, tmp_path) -> str:
    path = tmp_path / "x.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdffonts", str(path)], capture_output=True, check=True).stdout.decode()


def test_russian_invoice_and_chinese_contract_as_pdf(make_app, tmp_path, converter_port) -> None:
    app = make_app(plugins=["documents"], config=config(
        tmp_path, documents={"converter": f"127.0.0.1:{converter_port}"}))
    ru_deal = make_deal(app, "seller", amount="1001000.01", currency="RUB")
    zh_deal = make_deal(app, "seller", amount="100005.00", currency="CNY",
                        customer="上海贸易有限公司")
    client = app.test_client()
    from conveyor.testing import token_headers

    headers = token_headers(app, "seller")
    ru = client.post(f"/api/v1/deals/{ru_deal}/documents", headers=headers,
                     json={"kind": "invoice", "language": "ru"}).json
    assert ru["pdf_status"] == "ready", ru
    pdf = client.get(ru["files"]["pdf"], headers=headers)
    assert pdf.status_code == 200 and pdf.data[:5] == b"%PDF-"
    text = _pdf_text(pdf.data)
    assert "Счёт на оплату" in text and "Итого к оплате" in text
    assert "Один миллион одна тысяча рублей 01 копейка" in text
    assert "DejaVu" in _fonts(pdf.data, tmp_path)
    zh = client.post(f"/api/v1/deals/{zh_deal}/documents", headers=headers,
                     json={"kind": "contract", "language": "zh"}).json
    zh_pdf = client.get(zh["files"]["pdf"], headers=headers).data
    zh_text = _pdf_text(zh_pdf)
    assert "销售合同" in zh_text and "壹拾万零伍元整" in zh_text and "上海贸易有限公司" in zh_text
    assert "NotoSansCJK" in _fonts(zh_pdf, tmp_path)


def test_without_a_converter_the_docx_works_and_the_pdf_says_why(app, client, api_headers,
                                                                 deal_of) -> None:
    deal_id = deal_of("seller")
    body = client.post(f"/api/v1/deals/{deal_id}/documents", headers=api_headers("seller"),
                       json={"kind": "offer", "language": "ru"}).json
    assert body["files"]["docx"] and body["files"]["pdf"] is None
    assert body["pdf_status"] == "unavailable"
    assert "unavailable" in body["pdf_message"]


def test_a_pdf_missed_while_the_converter_was_down_is_made_on_request(make_app, tmp_path,
                                                                      converter_port) -> None:
    from conveyor.testing import token_headers

    app = make_app(plugins=["documents"], config=config(tmp_path))
    settings = app.extensions["conveyor"].settings
    deal_id = make_deal(app, "seller")
    client = app.test_client()
    headers = token_headers(app, "seller")
    doc = client.post(f"/api/v1/deals/{deal_id}/documents", headers=headers,
                      json={"kind": "act", "language": "ru"}).json
    assert doc["pdf_status"] == "unavailable" and doc["files"]["pdf"] is None
    settings["documents.converter"] = f"127.0.0.1:{converter_port}"
    again = client.post(f"/api/v1/documents/{doc['id']}/status", headers=headers,
                        json={"action": "convert"}).json
    assert again["pdf_status"] == "ready" and again["files"]["pdf"]
    assert "Вышеперечисленные работы" in _pdf_text(client.get(again["files"]["pdf"],
                                                               headers=headers).data)
