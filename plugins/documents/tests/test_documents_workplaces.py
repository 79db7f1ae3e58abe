"""The assistant's paperwork queue (with bulk invoicing) and the lawyer's contracts."""
from __future__ import annotations

from sqlalchemy import func, select

from conveyor import db
from conveyor.plugins.documents.models import Batch, Document
from conveyor.testing import csrf_of


def test_assistant_home_lists_team_deals_needing_paperwork(app, login_as, client, api_headers,
                                                           deal_of, count_queries) -> None:
    needs_invoice = deal_of("seller", percent=70)
    needs_act = deal_of("seller2", percent=90)
    early = deal_of("seller", percent=10)
    other_team = deal_of("seller3", percent=90)
    home = login_as("assistant").get("/")
    assert home.status_code == 200
    widget = home.text.split('id="widget-documents-paperwork"')[1].split("</section>")[0]
    assert f"/deals/{needs_invoice}" in widget and f"/deals/{needs_act}" in widget
    assert f"/deals/{early}\"" not in widget and f"/deals/{other_team}\"" not in widget
    # An invoice takes the deal off the invoice list; a sent-back document shows up.
    doc = client.post(f"/api/v1/deals/{needs_invoice}/documents",
                      headers=api_headers("assistant"), json={"kind": "invoice"}).json
    client.post(f"/api/v1/documents/{doc['id']}/status", headers=api_headers("lawyer"),
                json={"action": "request_changes", "note": "Wrong bank account"})
    widget = login_as("assistant").get("/").text.split(
        'id="widget-documents-paperwork"')[1].split("</section>")[0]
    assert "Wrong bank account" in widget and doc["number"] in widget
    with count_queries() as few:
        login_as("assistant").get("/")
    for _ in range(5):
        deal_of("seller", percent=70)
    with count_queries() as many:
        login_as("assistant").get("/")
    assert len(many) == len(few)


def test_bulk_invoicing_runs_as_a_job_with_progress(app, login_as, deal_of) -> None:
    ids = [deal_of("seller", percent=70) for _ in range(3)] + [deal_of("seller3", percent=70)]
    browser = login_as("assistant")
    token = csrf_of(browser.get("/").text)
    response = browser.post("/documents/bulk-invoices", data={
        "csrf_token": token, "kind": "invoice", "language": "ru",
        "deal_id": [str(i) for i in ids]})
    assert response.status_code == 302
    page = browser.get(response.headers["Location"])
    assert page.status_code == 200 and "<script src=" in page.text and "progress.js" in page.text
    progress = browser.get(response.headers["Location"] + "?format=json").json
    assert progress == {"done": 4, "total": 4, "failed": 0, "finished": True}
    with app.app_context():
        # seller3's deal is another team's: skipped, not invoiced.
        assert db.session.scalar(select(func.count()).select_from(Document)) == 3
        assert db.session.scalar(select(Batch.finished_at)) is not None
    other = login_as("seller").get(response.headers["Location"])
    assert other.status_code == 404


def test_lawyer_home_shows_the_companys_contracts_by_state(app, login_as, client, api_headers,
                                                           deal_of) -> None:
    for owner in ("seller", "seller3"):
        deal_id = deal_of(owner, percent=50)
        doc = client.post(f"/api/v1/deals/{deal_id}/documents", headers=api_headers(owner),
                          json={"kind": "contract", "language": "ru"}).json
    client.post(f"/api/v1/documents/{doc['id']}/status", headers=api_headers("seller3"),
                json={"action": "finalize"})
    home = login_as("lawyer").get("/")
    widget = home.text.split('id="widget-documents-contracts"')[1].split("</section>")[0]
    assert 'data-count="draft">1<' in widget and 'data-count="final">1<' in widget
    assert widget.count("CTR-") == 2
