"""Amounts in words: the issue's cases and the rules behind them."""
from __future__ import annotations

from decimal import Decimal

import pytest

from conveyor.plugins.documents.words import amount_in_words, chinese_integer


@pytest.mark.parametrize(("amount", "currency", "language", "words"), [
    ("21", "RUB", "ru", "двадцать один рубль 00 копеек"),
    ("1001000.01", "RUB", "ru", "один миллион одна тысяча рублей 01 копейка"),
    ("2.02", "RUB", "ru", "два рубля 02 копейки"),
    ("11.11", "RUB", "ru", "одиннадцать рублей 11 копеек"),
    ("112.05", "RUB", "ru", "сто двенадцать рублей 05 копеек"),
    ("2000", "RUB", "ru", "две тысячи рублей 00 копеек"),
    ("5000000", "RUB", "ru", "пять миллионов рублей 00 копеек"),
    ("1.21", "USD", "ru", "один доллар США 21 цент"),
    ("100005.00", "CNY", "zh", "壹拾万零伍元整"),
    ("1.05", "CNY", "zh", "壹元零伍分"),
    ("0.50", "CNY", "zh", "伍角"),
    ("10010", "CNY", "zh", "壹万零壹拾元整"),
    ("100000000", "CNY", "zh", "壹亿元整"),
    ("120000001", "CNY", "zh", "壹亿贰仟万零壹元整"),
    ("1010.10", "CNY", "zh", "壹仟零壹拾元壹角"),
    ("0", "CNY", "zh", "零元整"),
    ("1234.56", "USD", "en", "one thousand two hundred and thirty-four US dollars and 56 cents"),
    ("1", "EUR", "en", "one euro and 00 cents"),
])
def test_amount_in_words_known_cases(amount: str, currency: str, language: str,
                                     words: str) -> None:
    assert amount_in_words(Decimal(amount), currency, language) == words


def test_chinese_has_no_bare_ten_and_one_zero_per_gap() -> None:
    assert chinese_integer(10) == "壹拾"
    assert chinese_integer(100100) == "壹拾万零壹佰"
    assert chinese_integer(1000010) == "壹佰万零壹拾"


def test_half_a_cent_rounds_half_up() -> None:
    assert amount_in_words(Decimal("0.005"), "RUB", "ru") == "ноль рублей 01 копейка"


def test_amount_in_words_api(app, client, api_headers) -> None:
    response = client.get("/api/v1/amount-in-words?amount=100005&currency=CNY&language=zh",
                          headers=api_headers("assistant"))
    assert response.status_code == 200
    assert response.json["words"] == "壹拾万零伍元整"
    bad = client.get("/api/v1/amount-in-words?amount=-1&currency=RUBX",
                     headers=api_headers("assistant"))
    assert bad.status_code == 422
