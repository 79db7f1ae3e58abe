"""Normal forms used to find the same person or company again: email, phone, company name.

Pure functions (no database, no app): the capture, the import and the tests share them.
"""
from __future__ import annotations

import re
import unicodedata

# Legal forms dropped from company names, as whole words at either end (case-insensitive).
LEGAL_FORMS = frozenset("""
llc ltd inc corp co gmbh ag plc sa sas sarl srl spa bv nv oy ab as kk pte pty lp llp limited
incorporated corporation company ооо оао зао пао ао ип нко тоо чп одо уп гуп муп тов пп
""".split())
# Chinese legal-form suffixes (no spaces in between), longest first.
CJK_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团公司", "公司")
_QUOTES = "\"'«»“”„‟‘’`「」『』《》()（）[]"
_PUNCT = re.compile(r"[.,;:!?/\\|&+_*#№-]+")
_SPACES = re.compile(r"\s+")
_NON_DIGITS = re.compile(r"\D+")


def normalize_email(value: str) -> str:
    """Lower case, no surrounding spaces: ``" Ivan@Example.COM "`` -> ``ivan@example.com``."""
    return (value or "").strip().lower()


def normalize_phone(value: str, region: str = "RU") -> str:
    """E.164 (``+74951234567``) or ``""`` when the number is not a valid one."""
    raw = (value or "").strip()
    if not raw or len(raw) > 40:
        return ""
    import phonenumbers  # its metadata loads on first use: not in workers that never need it

    try:
        number = phonenumbers.parse(raw, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_tail(value: str) -> str:
    """The last ten digits: a cheap key to find candidates among free-text phones."""
    return _NON_DIGITS.sub("", value or "")[-10:]


def normalize_company(value: str) -> str:
    """Case, spacing, quotes and legal forms removed: ``ООО «Ромашка»`` -> ``ромашка``,
    ``Acme, Inc.`` -> ``acme``, ``北京星光科技有限公司`` -> ``北京星光科技``."""
    text = unicodedata.normalize("NFKC", value or "").casefold()
    for ch in _QUOTES:
        text = text.replace(ch, " ")
    text = _SPACES.sub(" ", _PUNCT.sub(" ", text)).strip()
    words = text.split(" ") if text else []
    while len(words) > 1 and words[-1] in LEGAL_FORMS:
        words.pop()
    while len(words) > 1 and words[0] in LEGAL_FORMS:
        words.pop(0)
    text = " ".join(words)
    for suffix in CJK_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)].rstrip()
            break
    return text[:200]


def dedupe_key(email_normalized: str, phone_e164: str, company_normalized: str) -> str | None:
    """The strongest identity of a lead, unique among open leads; ``None`` when it has none."""
    if email_normalized:
        return "e:" + email_normalized
    if phone_e164:
        return "p:" + phone_e164
    if company_normalized:
        return "c:" + company_normalized
    return None


def clean_text(value: object) -> str:
    """One line of text: control characters removed, spaces collapsed."""
    text = "".join(ch for ch in str(value) if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return _SPACES.sub(" ", text).strip()


def clean_multiline(value: object) -> str:
    """Free text (notes): control characters removed except new lines and tabs."""
    text = "".join(ch for ch in str(value) if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return text.replace("\r", "").strip()
