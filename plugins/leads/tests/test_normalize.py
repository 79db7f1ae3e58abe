"""Normal forms that make the same person or company recognisable again."""
from __future__ import annotations

import pytest

from conveyor.plugins.leads.normalize import (
    dedupe_key,
    normalize_company,
    normalize_email,
    normalize_phone,
)


def test_email_is_trimmed_and_lower_case():
    assert normalize_email("  Ivan.Petrov@Example.COM ") == "ivan.petrov@example.com"


@pytest.mark.parametrize("raw, region, expected", [
    ("8 (916) 123-45-67", "RU", "+79161234567"),
    ("+7 916 123 45 67", "US", "+79161234567"),
    ("916 123-45-67", "RU", "+79161234567"),
    ("138 0013 8000", "CN", "+8613800138000"),
    ("(202) 555-0143", "US", "+12025550143"),
    ("12", "RU", ""),
    ("not a phone", "RU", ""),
])
def test_phone_to_e164_with_a_default_region(raw, region, expected):
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize("raw, expected", [
    ("ООО «Ромашка»", "ромашка"),
    ("Ромашка, ООО", "ромашка"),
    ("  ACME,   Inc. ", "acme"),
    ("Acme LLC", "acme"),
    ("Northwind Traders Ltd", "northwind traders"),
    ("北京星光科技有限公司", "北京星光科技"),
    ("上海海风贸易股份有限公司", "上海海风贸易"),
    ("LLC", "llc"),  # a name that is only a legal form stays itself
])
def test_company_names_lose_case_spacing_quotes_and_legal_forms(raw, expected):
    assert normalize_company(raw) == expected


def test_dedupe_key_prefers_email_then_phone_then_company():
    assert dedupe_key("a@b.co", "+79161234567", "acme") == "e:a@b.co"
    assert dedupe_key("", "+79161234567", "acme") == "p:+79161234567"
    assert dedupe_key("", "", "acme") == "c:acme"
    assert dedupe_key("", "", "") is None
