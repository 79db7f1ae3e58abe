"""Customers' legal details: ИНН check digits, КПП format, 统一社会信用代码 check character."""
from __future__ import annotations

import pytest

from conveyor.plugins.documents.legal import inn_valid, kpp_valid, uscc_valid
from conveyor.testing import csrf_of


@pytest.mark.parametrize("inn", ["7707083893", "500100732259", "7830002293"])
def test_valid_inns_pass(inn: str) -> None:
    assert inn_valid(inn)


@pytest.mark.parametrize("inn", ["7707083894", "500100732258", "123", "77070838930",
                                 "770708389a", "７７０７０８３８９３"])
def test_inns_with_wrong_check_digits_or_length_fail(inn: str) -> None:
    assert not inn_valid(inn)


def test_kpp_is_checked_by_format_only() -> None:
    assert kpp_valid("773601001") and kpp_valid("7736AB001")
    assert not kpp_valid("77360100") and not kpp_valid("7736ab001") and not kpp_valid("A73601001")


def test_uscc_check_character() -> None:
    assert uscc_valid("91350100M000100Y43")
    assert not uscc_valid("91350100M000100Y44")
    assert not uscc_valid("91350100M000100YI3")  # I is not in GB 32100's alphabet
    assert not uscc_valid("91350100M000100Y4")


def test_api_refuses_bad_ids_naming_the_field(app, client, api_headers, deal_of) -> None:
    deal_of("seller")
    headers = api_headers("seller")
    bad = client.put("/api/v1/customers/1/legal", headers=headers,
                     json={"country": "RU", "inn": "7707083894", "kpp": "77360100"})
    assert bad.status_code == 422
    assert set(bad.json["errors"]["json"]) == {"inn", "kpp"}
    cn = client.put("/api/v1/customers/1/legal", headers=headers,
                    json={"country": "CN", "uscc": "91350100M000100Y44"})
    assert cn.status_code == 422 and "uscc" in cn.json["errors"]["json"]
    good = client.put("/api/v1/customers/1/legal", headers=headers,
                      json={"country": "RU", "inn": "7707083893", "kpp": "773601001",
                            "legal_name": "ПАО Сбербанк"})
    assert good.status_code == 200 and good.json["inn"] == "7707083893"
    other = client.put("/api/v1/customers/1/legal", headers=headers,
                       json={"country": "", "tax_id": "GB123456789"})
    assert other.status_code == 200


def test_another_sellers_customer_is_404(app, client, api_headers, deal_of) -> None:
    deal_of("seller3")
    assert client.get("/api/v1/customers/1/legal",
                      headers=api_headers("seller")).status_code == 404
    assert client.put("/api/v1/customers/1/legal", headers=api_headers("seller"),
                      json={"country": ""}).status_code == 404


def test_legal_form_shows_field_messages(app, login_as, deal_of) -> None:
    deal_of("seller")
    browser = login_as("assistant")
    page = browser.get("/documents/legal/1")
    assert page.status_code == 200
    token = csrf_of(page.text)
    response = browser.post("/documents/legal/1", data={
        "csrf_token": token, "country": "CN", "uscc": "91350100M000100Y44",
        "signatory_contact_id": "0"})
    assert response.status_code == 422
    assert "GB 32100-2015" in response.text
    saved = browser.post("/documents/legal/1", data={
        "csrf_token": token, "country": "CN", "uscc": "91350100m000100y43",
        "signatory_contact_id": "0"})
    assert saved.status_code == 302
