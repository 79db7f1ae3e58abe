"""Templates are untrusted: sandboxed rendering, refused files, errors naming the line."""
from __future__ import annotations

import io
import zipfile

import pytest
from docx import Document as WordDocument

from conveyor.plugins.documents.render import TemplateProblem, check_docx, render_docx
from conveyor.plugins.documents.services import example_context
from conveyor.testing import csrf_of

MB = 1024 * 1024


def word(*paragraphs: str) -> bytes:
    doc = WordDocument()
    for text in paragraphs:
        doc.add_paragraph(text)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def test_the_sandbox_refuses_python_internals() -> None:
    evil = word("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateProblem) as info:
        render_docx(evil, example_context("en"), "en")
    assert "unsafe" in info.value.message or "__class__" in info.value.message


def test_an_unknown_placeholder_is_named_with_its_line() -> None:
    broken = word("Hello", "Number {{ document.number }}", "Bank {{ company.iban }}")
    with pytest.raises(TemplateProblem) as info:
        render_docx(broken, example_context("en"), "en")
    assert "iban" in info.value.message
    assert info.value.line is not None and "company.iban" in info.value.text
    assert "line 3" in info.value.message


def test_a_syntax_error_names_its_line() -> None:
    broken = word("one", "two {{ document.number ", "three")
    with pytest.raises(TemplateProblem) as info:
        render_docx(broken, example_context("en"), "en")
    assert "syntax" in info.value.message and "document.number" in info.value.text


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_non_docx_macro_oversize_and_zip_bombs_are_refused() -> None:
    with pytest.raises(TemplateProblem, match="not a Word"):
        check_docx(b"%PDF-1.7 hello", 5 * MB, 50 * MB)
    with pytest.raises(TemplateProblem, match="not a Word"):
        check_docx(_zip({"a.txt": b"x"}), 5 * MB, 50 * MB)
    macro = _zip({"[Content_Types].xml": b"application/vnd.ms-word.document.macroEnabled.main+xml",
                  "word/vbaProject.bin": b"x"})
    with pytest.raises(TemplateProblem, match="Macro"):
        check_docx(macro, 5 * MB, 50 * MB)
    with pytest.raises(TemplateProblem, match="larger than 5 MB"):
        check_docx(b"0" * (5 * MB + 1), 5 * MB, 50 * MB)
    bomb = _zip({"[Content_Types].xml": b"x", "word/document.xml": b"\0" * (60 * MB)})
    assert len(bomb) < MB
    with pytest.raises(TemplateProblem, match="zip bomb"):
        check_docx(bomb, 5 * MB, 50 * MB)
    check_docx(word("fine"), 5 * MB, 50 * MB)


def test_lawyer_uploads_versions_and_retires_a_template(app, login_as, client, api_headers,
                                                        deal_of) -> None:
    deal_id = deal_of("seller")
    browser = login_as("lawyer")
    page = browser.get("/documents/templates")
    assert page.status_code == 200
    token = csrf_of(page.text)
    refused = browser.post("/documents/templates", data={
        "csrf_token": token, "name": "Bad", "kind": "invoice", "language": "en",
        "file": (io.BytesIO(b"MZ not a docx"), "virus.docx")}, content_type="multipart/form-data")
    assert refused.status_code == 422 and "not a Word" in refused.text
    broken = browser.post("/documents/templates", data={
        "csrf_token": token, "name": "Broken", "kind": "invoice", "language": "en",
        "file": (io.BytesIO(word("x", "{{ deal.nope }}")), "b.docx")},
        content_type="multipart/form-data")
    assert broken.status_code == 422 and "deal.nope" in broken.text
    ok = browser.post("/documents/templates", data={
        "csrf_token": token, "name": "Short invoice", "kind": "invoice", "language": "en",
        "file": (io.BytesIO(word("Invoice {{ document.number }} for {{ customer.name }}",
                                 "{{ document.total_in_words }}")), "inv.docx")},
        content_type="multipart/form-data")
    assert ok.status_code == 302
    template_url = ok.headers["Location"]
    detail = browser.get(template_url)
    assert "customer.legal_name" in detail.text and "INV-2026-000123" in detail.text
    # The uploaded template wins over the built-in one of its kind and language.
    made = client.post(f"/api/v1/deals/{deal_id}/documents", headers=api_headers("seller"),
                       json={"kind": "invoice", "language": "en"}).json
    with app.app_context():
        from conveyor import db
        from conveyor.plugins.documents.models import Template

        template = db.session.get(Template, made["template_id"])
        assert template.name == "Short invoice" and not template.builtin
        template_id = template.id
    preview = browser.get(f"/documents/templates/{template_id}/preview?deal_id={deal_id}")
    assert preview.status_code == 200 and preview.data[:2] == b"PK"
    version = browser.post(template_url, data={
        "csrf_token": token, "file": (io.BytesIO(word("v2 {{ document.number }}")), "v2.docx")},
        content_type="multipart/form-data")
    assert version.status_code == 302
    with app.app_context():
        assert not db.session.get(Template, template_id).active
    retire = browser.post(version.headers["Location"] + "/retire", data={"csrf_token": token})
    assert retire.status_code == 302
    listed = client.get("/api/v1/document-templates", headers=api_headers("seller")).json
    assert all(t["name"] != "Short invoice" for t in listed)


def test_sellers_cannot_manage_templates(app, login_as) -> None:
    assert login_as("seller").get("/documents/templates").status_code == 403
    assert login_as("assistant").get("/documents/company").status_code == 403
    assert login_as("lawyer").get("/documents/company").status_code == 200
