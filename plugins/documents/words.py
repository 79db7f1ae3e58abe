"""Amounts in words for documents: Russian and English number words come from num2words (which
is right about gender and case for the integer part); the currency nouns, their plural forms and
Chinese 大写 (which num2words lacks) are written here."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# nominative singular, genitive singular (2-4), genitive plural (5-20, 0)
RU_UNITS = {
    "RUB": (("рубль", "рубля", "рублей"), ("копейка", "копейки", "копеек")),
    "USD": (("доллар США", "доллара США", "долларов США"), ("цент", "цента", "центов")),
    "EUR": (("евро", "евро", "евро"), ("цент", "цента", "центов")),
    "CNY": (("юань", "юаня", "юаней"), ("фэнь", "фэня", "фэней")),
}
EN_UNITS = {
    "RUB": (("Russian rouble", "Russian roubles"), ("kopeck", "kopecks")),
    "USD": (("US dollar", "US dollars"), ("cent", "cents")),
    "EUR": (("euro", "euros"), ("cent", "cents")),
    "CNY": (("yuan", "yuan"), ("fen", "fen")),
    "GBP": (("pound sterling", "pounds sterling"), ("penny", "pence")),
}
ZH_PREFIX = {"CNY": "", "USD": "美元", "EUR": "欧元", "RUB": "卢布", "GBP": "英镑",
             "JPY": "日元", "HKD": "港币"}
ZH_DIGITS = "零壹贰叁肆伍陆柒捌玖"
ZH_SMALL = ("", "拾", "佰", "仟")
ZH_SECTIONS = ("", "万", "亿", "万亿")


def _split(amount: Decimal) -> tuple[int, int]:
    cents = int((abs(amount) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
    return divmod(cents, 100)


def ru_plural(n: int, forms: tuple[str, str, str]) -> str:
    """Russian noun form after ``n``: 1 рубль, 2 рубля, 5 рублей, 11 рублей, 21 рубль."""
    if n % 100 in range(11, 15):
        return forms[2]
    return forms[0] if n % 10 == 1 else forms[1] if n % 10 in (2, 3, 4) else forms[2]


def russian(amount: Decimal, currency: str) -> str:
    """``Decimal("21")``, RUB → "двадцать один рубль 00 копеек" (kopecks in figures, as Russian
    invoices write them)."""
    whole, cents = _split(amount)
    from num2words import num2words  # when a document is rendered, not in every worker

    words = num2words(whole, lang="ru")  # masculine: рубль, доллар, юань
    major, minor = RU_UNITS.get(currency, ((currency,) * 3, ("/100",) * 3))
    sign = "минус " if amount < 0 else ""
    return f"{sign}{words} {ru_plural(whole, major)} {cents:02d} {ru_plural(cents, minor)}"


def english(amount: Decimal, currency: str) -> str:
    """``Decimal("1234.56")``, USD → "one thousand two hundred and thirty-four US dollars and
    56 cents"."""
    whole, cents = _split(amount)
    from num2words import num2words

    words = num2words(whole, lang="en").replace(",", "")
    major, minor = EN_UNITS.get(currency, ((currency, currency), ("hundredth", "hundredths")))
    sign = "minus " if amount < 0 else ""
    return (f"{sign}{words} {major[0] if whole == 1 else major[1]} and {cents:02d} "
            f"{minor[0] if cents == 1 else minor[1]}")


def _zh_section(n: int) -> str:
    """0 < n < 10000 in 大写, zeros inside written as one 零 (no leading/trailing zero)."""
    out, zero = [], False
    for pos in range(3, -1, -1):
        digit = n // 10 ** pos % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(ZH_DIGITS[digit] + ZH_SMALL[pos])
    return "".join(out)


def chinese_integer(n: int) -> str:
    """An integer in 大写 by the banking rules: 壹拾 (never bare 拾), one 零 for any run of
    inner zeros, including across 万 and 亿."""
    if n == 0:
        return "零"
    sections = []
    while n:
        sections.append(n % 10000)
        n //= 10000
    out: list[str] = []
    need_zero = False
    for index in range(len(sections) - 1, -1, -1):
        part = sections[index]
        if part == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or part < 1000):
            out.append("零")
        need_zero = False
        out.append(_zh_section(part) + ZH_SECTIONS[index])
    return "".join(out)


def chinese(amount: Decimal, currency: str) -> str:
    """``Decimal("100005")``, CNY → "壹拾万零伍元整"; 1.05 → "壹元零伍分"; 0.5 → "伍角"."""
    whole, cents = _split(amount)
    jiao, fen = divmod(cents, 10)
    text = ""
    if whole:
        text = chinese_integer(whole) + "元"
    if cents == 0:
        text = (text or "零元") + "整"
    else:
        if jiao:
            text += ZH_DIGITS[jiao] + "角"
        elif whole:
            text += "零"
        if fen:
            text += ZH_DIGITS[fen] + "分"
    prefix = ZH_PREFIX.get(currency, currency)
    return ("负" if amount < 0 else "") + prefix + text


def amount_in_words(amount: Decimal | int | str, currency: str, language: str) -> str:
    """The amount in words in ``language`` (en, ru, zh) for ``currency``."""
    value = Decimal(str(amount))
    currency = currency.upper()
    if language.startswith("ru"):
        return russian(value, currency)
    if language.startswith("zh"):
        return chinese(value, currency)
    return english(value, currency)
