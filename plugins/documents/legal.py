"""Checks of customers' tax identifiers: Russian ИНН (check digits) and КПП (format), Chinese
统一社会信用代码 (GB 32100-2015 check character). Other countries' ids are free text."""
from __future__ import annotations

import re

_INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_KPP = re.compile(r"^\d{4}[0-9A-Z]{2}\d{3}$")
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def _check(digits: list[int], weights: tuple[int, ...]) -> int:
    return sum(d * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def inn_valid(value: str) -> bool:
    """A Russian ИНН: 10 digits (organisation) or 12 (individual), with their check digits."""
    if not value.isdigit() or len(value) not in (10, 12) or not value.isascii():
        return False
    d = [int(c) for c in value]
    if len(d) == 10:
        return _check(d, _INN10) == d[9]
    return _check(d, _INN11) == d[10] and _check(d, _INN12) == d[11]


def kpp_valid(value: str) -> bool:
    """A Russian КПП: 9 characters — tax office (4 digits), reason (2 digits or capitals), number
    (3 digits). It has no check digit."""
    return bool(_KPP.match(value))


def uscc_check_char(first17: str) -> str:
    """The 18th character of a 统一社会信用代码 for its first 17."""
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def uscc_valid(value: str) -> bool:
    """A Chinese unified social credit code: 18 characters of GB 32100-2015's alphabet, the
    last one its check character."""
    if len(value) != 18 or any(c not in USCC_CHARS for c in value):
        return False
    return uscc_check_char(value[:17]) == value[17]


def legal_errors(data: dict[str, str]) -> dict[str, str]:
    """Field → message (English; views translate) for a customer's legal details by country."""
    errors: dict[str, str] = {}
    country = (data.get("country") or "").upper()
    inn, kpp, uscc = (data.get(k) or "" for k in ("inn", "kpp", "uscc"))
    if country == "RU":
        if inn and not inn_valid(inn):
            errors["inn"] = "inn"
        if kpp and not kpp_valid(kpp):
            errors["kpp"] = "kpp"
        if kpp and inn and len(inn) == 12:
            errors["kpp"] = "kpp_person"
    elif country == "CN":
        if uscc and not uscc_valid(uscc):
            errors["uscc"] = "uscc"
    if country != "RU" and (inn or kpp):
        errors.setdefault("inn" if inn else "kpp", "ru_only")
    if country != "CN" and uscc:
        errors.setdefault("uscc", "cn_only")
    return errors
