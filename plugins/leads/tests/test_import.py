"""The lead processor: encodings read correctly, a preview with per-row errors before anything
is written, valid rows imported in one go, duplicates merged, progress polled, CLI."""
from __future__ import annotations

import codecs
import io

import pytest
from sqlalchemy import func, select

from conveyor import db
from conveyor.plugins.leads.csvread import decode, read_rows
from conveyor.plugins.leads.models import Lead, LeadActivity, LeadImport, LeadImportRow

RU_CSV = ("Компания;Контактное лицо;Email;Телефон;Отрасль;Регион\n"
          "ООО «Ромашка»;Ирина Котова;irina@romashka.example;+7 916 111-22-33;Розница;Москва\n"
          "АО «Сибирский лес»;Павел Широков;pavel@les.example;8 383 222-33-44;Лес;Новосибирск\n")
ZH_CSV = ("公司,联系人,邮箱,电话,行业,地区\n"
          "北京星光科技有限公司,王伟,wangwei@xingguang.example,+86 138 0013 8000,软件,北京\n"
          "上海海风贸易有限公司,李娜,lina@haifeng.example,+86 139 1234 5678,贸易,上海\n")


@pytest.mark.parametrize("raw, encoding", [
    (RU_CSV.encode("cp1251"), "cp1251"),
    (ZH_CSV.encode("gb18030"), "gb18030"),
    (ZH_CSV.encode("gbk"), "gb18030"),
    (codecs.BOM_UTF8 + RU_CSV.encode("utf-8"), "utf-8"),
    (ZH_CSV.encode("utf-8"), "utf-8"),
])
def test_encodings_are_detected(raw, encoding):
    text, used = decode(raw)
    assert used == encoding
    assert text.lstrip("\ufeff") in (RU_CSV, ZH_CSV)


def test_headers_in_three_languages_and_delimiters():
    rows = [r for _, r in read_rows(RU_CSV)]
    assert rows[0]["company"] == "ООО «Ромашка»" and rows[0]["email"] == "irina@romashka.example"
    assert rows[1]["region"] == "Новосибирск"
    zh = [r for _, r in read_rows(ZH_CSV)]
    assert zh[0] == {"company": "北京星光科技有限公司", "name": "王伟",
                     "email": "wangwei@xingguang.example", "phone": "+86 138 0013 8000",
                     "industry": "软件", "region": "北京"}
    tabbed = [r for _, r in read_rows("Company\tEmail\nAcme\ta@acme.example\n")]
    assert tabbed == [{"company": "Acme", "email": "a@acme.example"}]


def test_a_pasted_list_without_header_is_read_by_shape():
    rows = [r for _, r in read_rows("Acme Ltd, John Smith, john@acme.example, +1 202 555 0143\n"
                                    "+7 916 123-45-67, Ольга\n")]
    assert rows[0] == {"company": "Acme Ltd", "name": "John Smith",
                       "email": "john@acme.example", "phone": "+1 202 555 0143"}
    assert rows[1]["phone"] == "+7 916 123-45-67" and rows[1]["company"] == "Ольга"


def upload(client, raw: bytes, name="leads.csv", **fields):
    data = {"source": "expo", "owner_mode": "rules", "encoding": "auto", **fields,
            "file": (io.BytesIO(raw), name)}
    return client.post("/leads/import", data=data, content_type="multipart/form-data")


@pytest.fixture
def marketer(make_app, login_as):
    return login_as("marketer")


def test_preview_shows_row_errors_and_writes_no_lead(app, login_as):
    client = login_as("marketer")
    raw = (b"Company,Email,Phone,Size\n"
           b"Good Co,good@x.example,+7 916 000-00-01,11-50\n"
           b"Bad Email Co,not-an-email,,\n"
           b",,,\n"
           b"Bad Phone Co,,12345,\n"
           b"Good Co Again,good@x.example,,\n"
           b"Huge Co,huge@x.example,,enormous\n")
    response = upload(client, raw, encoding="utf-8")
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Not an email address." in html and "Not a valid phone number" in html
    assert "The same person as row 2 of this file." in html
    assert "Company size must be one of" in html
    with app.app_context():
        job = db.session.scalar(select(LeadImport))
        assert (job.status, job.valid_rows, job.error_rows) == ("ready", 1, 4)
        assert db.session.scalar(select(func.count()).select_from(Lead)) == 0


def test_import_writes_valid_rows_merges_duplicates_and_assigns(app, login_as, make_rule, users):
    make_rule("RR", ["seller", "seller2"])
    from conveyor.plugins.leads.services import create_lead
    with app.app_context():
        existing = create_lead({"email": "irina@romashka.example"}, source="web")
        db.session.commit()
        existing_id = existing.id
    client = login_as("marketer")
    response = upload(client, RU_CSV.encode("cp1251"))
    import_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    assert client.post(f"/leads/import/{import_id}/commit").status_code == 302
    status = client.get(f"/leads/import/{import_id}/status").get_json()
    assert status["status"] == "done" and status["imported"] == 1 and status["merged"] == 1
    assert status["assigned"] == 1 and status["percent"] == 100
    with app.app_context():
        new = db.session.scalar(select(Lead).where(Lead.import_id == import_id))
        assert new.company == "АО «Сибирский лес»" and new.phone_e164 == "+73832223344"
        assert new.source == "expo" and new.owner_id in (users["seller"], users["seller2"])
        note = db.session.scalar(select(LeadActivity.note).where(
            LeadActivity.lead_id == existing_id, LeadActivity.kind == "merged"))
        assert f"import #{import_id}" in note and "Ирина Котова" in note
        assert db.session.scalar(select(func.count()).select_from(LeadImportRow)) == 0


def test_import_to_one_person_and_gb18030(app, login_as, users):
    client = login_as("marketer")
    response = upload(client, ZH_CSV.encode("gb18030"), owner_mode="user",
                      owner_id=str(users["seller3"]))
    import_id = int(response.headers["Location"].split("/")[-1])
    client.post(f"/leads/import/{import_id}/commit")
    with app.app_context():
        leads = list(db.session.scalars(select(Lead).order_by(Lead.id)))
        assert [lead.company for lead in leads] == ["北京星光科技有限公司", "上海海风贸易有限公司"]
        assert {lead.owner_id for lead in leads} == {users["seller3"]}
        assert leads[0].phone_e164 == "+8613800138000"


def test_pasted_list(app, login_as):
    client = login_as("marketer")
    response = client.post("/leads/import", data={
        "source": "cold list", "owner_mode": "none", "encoding": "auto",
        "text": "Acme Ltd, John Smith, john@acme.example\nBeta LLC, ann@beta.example\n"})
    import_id = int(response.headers["Location"].split("/")[-1])
    client.post(f"/leads/import/{import_id}/commit")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Lead).where(
            Lead.owner_id.is_(None), Lead.source == "cold list")) == 2


def test_a_lead_captured_between_preview_and_import_is_merged_not_duplicated(app, login_as):
    client = login_as("marketer")
    response = upload(client, b"Email,Name\nlate@x.example,Late Larry\n", encoding="utf-8")
    import_id = int(response.headers["Location"].split("/")[-1])
    from conveyor.plugins.leads.services import create_lead
    with app.app_context():
        twin = create_lead({"email": "late@x.example"}, source="web").id
        db.session.commit()
    client.post(f"/leads/import/{import_id}/commit")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Lead)) == 1
        assert db.session.scalar(select(LeadActivity.lead_id).where(
            LeadActivity.kind == "merged")) == twin


def test_background_job_reports_progress_and_does_not_block(make_app, login_as):
    """In the background thread: the page answers while the job runs; the job ends done."""
    app = make_app(plugins=["leads"], config={"leads": {"import_batch": 200}})
    from conveyor.testing import client_as
    client = client_as(app, "marketer", csrf=True)
    rows = "Company,Email\n" + "".join(f"Firm {i},p{i}@bulk.example\n" for i in range(3000))
    response = upload(client, rows.encode(), encoding="utf-8", owner_mode="none")
    import_id = int(response.headers["Location"].split("/")[-1])
    assert client.get("/leads/").status_code == 200  # other users are not blocked
    for thread in app.extensions["leads_jobs"]:
        thread.join(60)
    status = client.get(f"/leads/import/{import_id}/status").get_json()
    assert status["status"] == "ready" and status["valid_rows"] == 3000
    client.post(f"/leads/import/{import_id}/commit")
    for thread in app.extensions["leads_jobs"]:
        thread.join(60)
    assert client.get(f"/leads/import/{import_id}/status").get_json()["imported"] == 3000


def test_cancel_discards_the_staged_rows(app, login_as):
    client = login_as("marketer")
    response = upload(client, b"Email\na@x.example\n", encoding="utf-8")
    import_id = int(response.headers["Location"].split("/")[-1])
    client.post(f"/leads/import/{import_id}/cancel")
    assert client.post(f"/leads/import/{import_id}/commit").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Lead)) == 0
        assert db.session.get(LeadImport, import_id).status == "cancelled"


def test_only_the_lead_processor_permission_may_import(login_as):
    assert login_as("seller").get("/leads/import").status_code == 403
    assert login_as("marketer").get("/leads/import").status_code == 200
    assert login_as("telemarketer").get("/leads/import").status_code == 200


def test_unreadable_file_fails_with_a_message(app, login_as):
    client = login_as("marketer")
    response = upload(client, "Имя\nОльга\n".encode("cp1251"), encoding="utf-8")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "not valid utf-8" in page


def test_cli_import(app, tmp_path, users):
    path = tmp_path / "list.csv"
    path.write_bytes(RU_CSV.encode("cp1251"))
    result = app.test_cli_runner().invoke(args=[
        "leads", "import", str(path), "--source", "fair", "--owner", "seller"])
    assert result.exit_code == 0, result.output
    assert "encoding cp1251" in result.output and "imported: 2" in result.output
    with app.app_context():
        assert set(db.session.scalars(select(Lead.owner_id))) == {users["seller"]}
