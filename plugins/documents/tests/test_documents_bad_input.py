"""Bad input is a 4xx with the field named, never a 500; pages cost the same SQL whatever the
number of documents."""
from __future__ import annotations

from conveyor import db
from conveyor.plugins.documents import storage
from conveyor.plugins.documents.models import DocumentFile
from conveyor.testing import csrf_of


def test_an_amount_beyond_the_money_columns_is_a_422(app, client, api_headers,
                                                     deal_of) -> None:
    deal_id = deal_of("seller")
    response = client.post(f"/api/v1/deals/{deal_id}/documents", headers=api_headers("seller"),
                           json={"kind": "invoice", "lines": [
                               {"name": "x", "quantity": "1000000000",
                                "price": "99999999999.00"}]})
    assert response.status_code == 422 and "lines" in response.json["errors"]["json"]
    for body in ({"kind": "letter"}, {"language": "fr", "kind": "invoice"}, {},
                 {"kind": "invoice", "lines": []}, {"template_id": 0}, [1, 2]):
        bad = client.post(f"/api/v1/deals/{deal_id}/documents", headers=api_headers("seller"),
                          json=body)
        assert bad.status_code == 422, body
    assert client.post("/api/v1/deals/999999/documents", headers=api_headers("seller"),
                       json={"kind": "invoice"}).status_code == 404
    assert client.get("/api/v1/documents/99999999999", headers=api_headers("seller")
                      ).status_code == 404


def test_a_file_lost_from_storage_is_a_404(app, client, api_headers, deal_of) -> None:
    deal_id = deal_of("seller")
    doc = client.post(f"/api/v1/deals/{deal_id}/documents", headers=api_headers("seller"),
                      json={"kind": "invoice"}).json
    with app.app_context():
        file = db.session.get(DocumentFile, 1)
        storage.absolute(file.path).unlink()
    assert client.get(doc["files"]["docx"], headers=api_headers("seller")).status_code == 404


def test_document_lines_form_refuses_bad_numbers_in_place(app, login_as, client, api_headers,
                                                          deal_of) -> None:
    deal_id = deal_of("seller")
    doc = client.post(f"/api/v1/deals/{deal_id}/documents", headers=api_headers("seller"),
                      json={"kind": "invoice"}).json
    browser = login_as("seller")
    page = browser.get(f"/documents/{doc['id']}")
    token = csrf_of(page.text)
    bad = browser.post(f"/documents/{doc['id']}/lines", data={
        "csrf_token": token, "lines-0-kind": "service", "lines-0-name": "Licence",
        "lines-0-quantity": "abc", "lines-0-price": "-5", "lines-0-vat_rate": "120"})
    assert bad.status_code == 422 and "field-error" in bad.text
    zero = browser.post(f"/documents/{doc['id']}/lines", data={
        "csrf_token": token, "lines-0-kind": "service", "lines-0-name": "Licence",
        "lines-0-quantity": "0", "lines-0-price": "5", "lines-0-vat_rate": "20"})
    assert zero.status_code == 422 and "Must be greater than zero." in zero.text
    good = browser.post(f"/documents/{doc['id']}/lines", data={
        "csrf_token": token, "lines-0-kind": "product", "lines-0-name": "Licence",
        "lines-0-quantity": "2", "lines-0-unit": "pcs", "lines-0-price": "10.50",
        "lines-0-vat_rate": "20", "lines-1-name": ""})
    assert good.status_code == 302
    after = client.get(f"/api/v1/documents/{doc['id']}", headers=api_headers("seller")).json
    assert after["amount"] == "25.20" and after["version"] == 2
    cancel = browser.post(f"/documents/{doc['id']}/cancel", data={"csrf_token": token})
    assert cancel.status_code == 302
    assert client.get(f"/api/v1/documents/{doc['id']}", headers=api_headers("seller")
                      ).json["status"] == "cancelled"


def test_pages_run_the_same_statements_for_more_documents(app, login_as, client, api_headers,
                                                          deal_of, count_queries) -> None:
    deal_id = deal_of("seller")
    headers = api_headers("seller")
    client.post(f"/api/v1/deals/{deal_id}/documents", headers=headers, json={"kind": "invoice"})
    browser = login_as("seller")
    pages = ["/documents/", f"/deals/{deal_id}", f"/api/v1/deals/{deal_id}/documents"]

    def visit() -> None:
        for page in pages:
            assert (browser.get(page) if not page.startswith("/api") else
                    client.get(page, headers=headers)).status_code == 200

    visit()  # per-process caches (pipelines snapshot, statements) filled first
    with count_queries() as few:
        visit()
    for kind in ("act", "offer", "contract", "invoice"):
        client.post(f"/api/v1/deals/{deal_id}/documents", headers=headers, json={"kind": kind})
    with count_queries() as many:
        visit()
    assert len(many) == len(few)
