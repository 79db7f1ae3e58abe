"""Reading lead lists as people actually have them: CSV from Excel in UTF-8 (with or without a
BOM), Windows-1251 or GBK/GB18030, separated by commas, semicolons or tabs, with a header in
English, Russian or Chinese — or a pasted list without any header.

Pure functions; no database.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator

from .models import LIMITS

ENCODINGS = ("utf-8", "cp1251", "gb18030")
ALIASES = {
    "company": "company|company name|organization|organisation|firm|account|компания|"
               "организация|название|название компании|фирма|公司|公司名称|企业|单位|企业名称",
    "name": "name|contact|contact name|full name|person|имя|фио|контакт|контактное лицо|姓名|"
            "联系人|名字",
    "email": "email|e-mail|mail|email address|почта|эл почта|электронная почта|емейл|邮箱|"
             "电子邮件|邮件|电子邮箱",
    "phone": "phone|telephone|tel|mobile|phone number|телефон|тел|мобильный|номер телефона|电话|"
             "手机|联系电话|手机号",
    "industry": "industry|sector|отрасль|сфера|индустрия|行业",
    "region": "region|city|country|state|регион|город|область|страна|地区|城市|省份|区域",
    "size": "size|company size|employees|размер|численность|размер компании|规模|人数|公司规模",
    "notes": "notes|note|comment|comments|примечание|комментарий|заметки|примечания|备注|说明",
    "products": "products|product|interest|interests|продукты|продукт|товары|интерес|产品|意向产品",
    "tax_id": "tax id|tax_id|taxid|inn|vat|vat id|инн|税号|纳税人识别号|统一社会信用代码",
}
HEADER_MAP = {alias: key for key, names in ALIASES.items() for alias in names.split("|")}
GUESS_ORDER = ("company", "name", "industry", "region", "size", "products", "notes")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+?[\d\s()\-.]{7,25}$")
CYR = re.compile(r"[А-Яа-яЁё]")
CP1251_PUNCT = set("«»–—№…“”„")


class ReadError(ValueError):
    """The file cannot be read as text; the message says why."""


def decode(raw: bytes, encoding: str = "auto") -> tuple[str, str]:
    """Text and the encoding used. ``auto``: a BOM, else strict UTF-8, else the better-scoring
    of GB18030 and Windows-1251 (each scored on how natural its letters look)."""
    if encoding and encoding != "auto":
        if encoding not in ENCODINGS:
            raise ReadError(f"unknown encoding {encoding}")
        try:
            text = raw.decode("utf-8-sig" if encoding == "utf-8" else encoding)
        except UnicodeDecodeError as exc:
            raise ReadError(f"the file is not valid {encoding} (byte {exc.start})") from exc
        return text, encoding
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8", errors="replace"), "utf-8"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best: tuple[float, str, str] | None = None
    for enc in ("gb18030", "cp1251"):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        score = (_score_gb if enc == "gb18030" else _score_cyrillic)(text[:65536])
        if best is None or score > best[0]:
            best = (score, enc, text)
    if best is None:
        raise ReadError("the file is neither UTF-8, Windows-1251 nor GB18030 text")
    return best[2], best[1]


def _score_cyrillic(text: str) -> float:
    good = total = 0
    prev = ""
    for ch in text:
        if ord(ch) < 128:
            prev = ch
            continue
        total += 1
        if CYR.match(ch):
            # Russian words are lower case, Capitalised or ALL CAPS; not lOwEr-upper mixes.
            good += not (ch.isupper() and prev.islower() and bool(CYR.match(prev)))
        elif ch in CP1251_PUNCT:
            good += 1
        prev = ch
    return good / total if total else 0.0


def _score_gb(text: str) -> float:
    good = total = 0
    for ch in text:
        if ord(ch) < 128:
            continue
        total += 1
        if "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef":
            good += 1
            continue
        try:
            code = ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        if len(code) == 2 and 0xB0 <= code[0] <= 0xD7:  # GB2312 level 1: the common hanzi
            good += 1
        elif len(code) == 2 and 0xA1 <= code[0] <= 0xA9:  # punctuation and symbols
            good += 1
    return good / total if total else 0.0


def sniff_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if not lines:
        return ","
    counts = {d: sum(line.count(d) for line in lines) for d in ("\t", ";", ",", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def header_fields(cells: list[str]) -> list[str | None] | None:
    """Field per column if ``cells`` is a header row, else ``None``."""
    mapped = [HEADER_MAP.get(_header_key(c)) for c in cells]
    if not any(mapped):
        return None
    if any(EMAIL_RE.match(c.strip()) or PHONE_RE.match(c.strip()) for c in cells if c.strip()):
        return None
    seen: set[str] = set()
    out: list[str | None] = []
    for field in mapped:
        out.append(field if field and field not in seen else None)
        if field:
            seen.add(field)
    return out


def _header_key(cell: str) -> str:
    return re.sub(r"[\s_.:]+", " ", cell.replace("\ufeff", "").strip().casefold()).strip()


def guess_row(cells: list[str]) -> dict[str, str]:
    """A headerless row: emails and phones recognised by shape, the rest in a fixed order."""
    data: dict[str, str] = {}
    rest: list[str] = []
    for cell in (c.strip() for c in cells):
        if not cell:
            continue
        if "email" not in data and EMAIL_RE.match(cell):
            data["email"] = cell
        elif "phone" not in data and PHONE_RE.match(cell) and sum(ch.isdigit() for ch in cell) >= 7:
            data["phone"] = cell
        else:
            rest.append(cell)
    for field, value in zip(GUESS_ORDER, rest):
        data[field] = value
    return data


def read_rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number as a person counts it, raw field values) for every non-empty row."""
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    fields: list[str | None] | None = None
    first = True
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        if first:
            first = False
            fields = header_fields(cells)
            if fields is not None:
                continue
        if fields is None:
            yield reader.line_num, guess_row(cells)
        else:
            yield reader.line_num, {f: c.strip() for f, c in zip(fields, cells) if f}


def too_long(data: dict[str, str]) -> list[str]:
    return [k for k, v in data.items() if len(v) > LIMITS[k]]
