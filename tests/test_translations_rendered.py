"""Every page, rendered in Russian and in Chinese, says nothing in English.

The catalogs being complete (``test_translations``) does not prove the pages are: a code shown raw
(a lead source ``website``, a timeline kind ``deal.created``), a string never wrapped in ``_()``,
or a title built from English in Python all slip past it. This test builds an app with every
built-in plugin and the demo company (records in every plugin), configured for the language under
test as a Russian or Chinese company would be, then walks the URL map as every role with the
Flask test client and reads each HTML page as a person would: its visible text and the attributes
a person sees (title, placeholder, aria-label, alt, a button's value). What remains after taking
away the records' own data (names, titles, e-mails, phone numbers: what users typed), codes and
numbers must contain no Latin word outside a short allowlist.

The catalogs' Chinese is also checked for ASCII punctuation between Chinese characters.
"""
from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from typing import Any
from zoneinfo import available_timezones

import pytest
from babel.numbers import get_currency_name, get_currency_symbol, list_currencies
from flask import Flask, url_for
from sqlalchemy import String, Text, select

from conveyor.catalogs import load
from conveyor.role_layers import ROLE_NAMES
from conveyor.testing import _skipped, client_as, path_args

ALL_PLUGINS = ["leads", "calls", "groups", "funnel", "relationships", "documents", "approvals",
               "discussions", "activities"]
ACCEPT = {"ru": "ru-RU,ru;q=0.9", "zh_Hans": "zh-CN,zh;q=0.9"}

# Latin words that are right in Russian and Chinese text too, each with why.
ALLOWED_WORDS = {
    # names that are the same in every language
    "Conveyor": "the product's name",
    "English": "the language menu names each language in itself",
    "Word": "Microsoft Word, the editor of document templates",
    "LibreOffice": "the office suite that converts DOCX to PDF",
    "Outlook": "a calendar program the feed is subscribed from",
    "Google": "Google Calendar, likewise",
    "Apple": "Apple Calendar, likewise",
    "JavaScript": "a programming language",
    "Markdown": "the post format",
    "Webhook": "Chinese software writes the term so (ru: «вебхук»)",
    "MB": "megabytes: Chinese writes the unit so (ru: МБ)",
    # formats, encodings, protocols, standards: written in Latin letters in ru and zh too
    **{word: "a format, encoding, protocol or standard, written so in ru and zh" for word in (
        "CSV", "DOCX", "docx", "PDF", "JSON", "HTML", "PNG", "JPEG", "UTF", "Windows", "GBK",
        "GB", "SHA", "API", "URL", "HTTP", "HTTPS", "GET", "POST", "PATCH", "DELETE", "UTC",
        "SWIFT", "ISO", "ID", "IP")},
    # visit kinds: codes shown beside their names ("Первый визит (FSI)")
    "FSI": "the first-visit code, shown beside its translated name",
    "FUA": "the follow-up visit code, shown beside its translated name",
}
CURRENCY_CODES = set(list_currencies())

# Columns that hold what people typed or imported (names, titles, notes, contact data): shown as
# entered, in whatever language they were written. Codes (status, kind, source, type...) are not
# here on purpose: those must be shown translated.
USER_DATA_COLUMNS = {
    "name", "display_name", "username", "email", "phone", "title", "company", "notes", "note",
    "body", "comment", "address", "region", "position", "legal_name", "label", "version",
    "products", "industry", "lost_reason", "unit", "number", "detail", "changes_note",
    "signatory_title", "signatory_name", "bank_name", "city", "subject", "description", "text",
    "summary", "website", "domain", "filename", "path", "thank_you_url", "webhook_url", "url",
    "tax_id", "inn", "kpp", "uscc", "override_reason", "disqualify_reason", "timezone",
    # the same column name holds a code elsewhere (a call's result, an assignment's reason)
    "activities_activity.result", "groups_unsubscribe.reason",
}

EMAIL = re.compile(r"[\w.+-]+@[\w.-]+\.\w+")
URL_LIKE = re.compile(r"(?:https?://|/)[\w./?=&%#:+-]*")
HEX = re.compile(r"\b[0-9a-f]{8,}…?")  # a file's checksum
# Technical text quoted inside translated sentences, the same in every language: settings' names
# and the template syntax of Word templates (other code is in <code>).
TECHNICAL = re.compile(r"\bfunnel\.(?:stalled_days|fulfilment_source)\b|\{\{.*?\}\}|\{%.*?%\}")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")  # two letters or more: "N" days is a variable
SEEN_ATTRS = ("title", "placeholder", "aria-label", "alt")
# code and what a person typed into a field (a textarea holds a value, not a label)
SKIPPED_TAGS = {"script", "style", "code", "pre", "kbd", "samp", "template", "textarea"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class VisibleText(HTMLParser):
    """Text nodes outside script/style/code and the attributes a person reads. An element marked
    as written in another language (``lang="en"`` on a sample of an English document) is that
    language on purpose: it is left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, in another language)
        self.page_lang = ""

    def _foreign(self) -> bool:
        return any(foreign for _tag, foreign in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        lang = (values.get("lang") or "").split("-")[0]
        if tag == "html":
            self.page_lang = lang
        foreign = bool(lang and self.page_lang and lang != self.page_lang)
        if not (foreign or self._foreign()):
            for name in SEEN_ATTRS:
                if values.get(name):
                    self.texts.append(values[name] or "")
            if tag == "input" and values.get("type") in ("submit", "button", "reset") and \
                    values.get("value"):  # shown as the button's text (a <button>'s value is not)
                self.texts.append(values["value"] or "")
        if tag not in VOID:
            self.stack.append((tag, foreign))

    def handle_endtag(self, tag: str) -> None:
        if any(t == tag for t, _foreign in self.stack):
            while self.stack and self.stack.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        if data.strip() and not self._foreign() and \
                not SKIPPED_TAGS.intersection(t for t, _foreign in self.stack):
            self.texts.append(data)


def user_data(app: Flask, lang: str) -> list[str]:
    """Every value people typed into the records of this database, longest first."""
    from conveyor.extensions import db

    values: set[str] = set()
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for column in table.columns:
                typed = column.name in USER_DATA_COLUMNS or \
                    f"{table.name}.{column.name}" in USER_DATA_COLUMNS
                if typed and isinstance(column.type, (String, Text)):
                    values.update(str(v) for v in db.session.scalars(
                        select(column).where(column.is_not(None)).distinct()) if str(v).strip())
                elif column.name == "html":  # rendered Markdown: its text between the tags
                    for html in db.session.scalars(select(column).where(column.is_not(None))):
                        values.update(part.strip() for part in re.split(r"<[^>]+>", unescape(html))
                                      if part.strip())
    # Codes chosen from standard lists, shown as they are: time zones and ISO currency names
    # in the page's language (CLDR's), the language codes of documents.
    values.update(zone.replace("_", " ") for zone in available_timezones())
    values.update(get_currency_name(code, locale=lang) for code in CURRENCY_CODES)
    values.update(get_currency_symbol(code, locale=lang) for code in CURRENCY_CODES)
    return sorted(values, key=len, reverse=True)


def data_pattern(values: list[str]) -> re.Pattern[str]:
    """One regex finding any of ``values`` as whole words (longest first)."""
    return re.compile(r"(?<![A-Za-z])(?:" + "|".join(map(re.escape, values)) + r")(?![A-Za-z])")


def english_left(text: str, data: re.Pattern[str]) -> list[str]:
    """The Latin words of a visible text once user data, codes and allowed words are gone."""
    if not LATIN_WORD.search(text):
        return []
    for pattern in (data, EMAIL, URL_LIKE, TECHNICAL, HEX):
        text = pattern.sub(" ", text)
    return [word for word in LATIN_WORD.findall(text)
            if word not in ALLOWED_WORDS and word not in CURRENCY_CODES]


def demo_app(make_app: Any, lang: str) -> Flask:
    """All plugins, the demo company, and the language as the company's default (so texts
    written for a user, notifications included, are written in it)."""
    from conveyor import update_customer, update_deal
    from conveyor.demo import seed_demo
    from conveyor.extensions import db
    from conveyor.models import Customer, Deal, User

    app = make_app(plugins=ALL_PLUGINS, config={"default_locale": lang}, seed=False)
    with app.app_context():
        seed_demo(app, db.session, customers=12)
        # The demo writes in bulk; a change through the ORM gives the cards an audit history.
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        update_customer(db.session.get(Customer, 1), {"region": "Тверь"}, by=admin)
        update_deal(db.session.get(Deal, 1), {"title": "Пилот"}, by=admin)
        db.session.commit()
        app.config["TEST_USER_IDS"] = {u.username: u.id for u in db.session.scalars(select(User))}
    return app


def page_urls(app: Flask) -> list[str]:
    """A URL for every GET route that answers a page (not the API, files or sign-out)."""
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if _skipped(rule.endpoint) or "GET" not in (rule.methods or ()) or \
                    rule.rule.startswith("/api/") or "logout" in rule.endpoint:
                continue
            urls.append(url_for(rule.endpoint, **path_args(rule)))
    return sorted(set(urls))


@pytest.mark.parametrize("lang", list(ACCEPT))
def test_every_page_reads_in_the_language_not_in_english(make_app, lang):
    app = demo_app(make_app, lang)
    data = data_pattern(user_data(app, lang))
    urls = page_urls(app)
    found: dict[str, str] = {}
    pages = 0
    for role in [*ROLE_NAMES, None]:
        client = client_as(app, role) if role else app.test_client()
        for url in urls:
            response = client.get(url, headers={"Accept-Language": ACCEPT[lang]})
            if response.mimetype != "text/html" or 300 <= response.status_code < 400:
                continue
            pages += 1
            parser = VisibleText()
            parser.feed(response.get_data(as_text=True))
            for text in parser.texts:
                words = english_left(text, data)
                if words:
                    found.setdefault(" ".join(text.split())[:100],
                                     f"{' '.join(words)[:60]!r}: {role or 'anonymous'} {url}")
    assert pages > 100, f"only {pages} pages rendered"
    assert not found, f"{lang}: {len(found)} texts still in English:\n" + "\n".join(
        f"  {text!r} ({where})" for text, where in sorted(found.items()))


def test_the_check_catches_a_code_shown_raw_and_passes_translated_text():
    """The page walk below is only as good as this check: a raw code or an English word is
    caught, user data and allowed words are not."""
    data = data_pattern(["Anna Kovaleva", "ООО «Ромашка»"])
    assert english_left("· website · 02.12.2026", data) == ["website"]
    assert english_left("deal.created Пилот", data) == ["deal", "created"]
    assert english_left("Save", data) == ["Save"]
    assert english_left("Сайт · Anna Kovaleva · anna@example.com · CSV · 120 ₽ · USD", data) == []
    assert english_left("Europe/Moscow", data_pattern(["Europe/Moscow"])) == []


# A Chinese character, or a placeholder (it stands for a Chinese word in the sentence).
CJK = r"(?:[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]|%\(\w+\)s)"
ASCII_PUNCT_BETWEEN_CJK = re.compile(CJK + r"\s*[,:;]\s*" + CJK + "|" + CJK + r" ?\(|\(\s*" + CJK)


def test_chinese_uses_chinese_punctuation_between_chinese_words():
    """、，：（） in Chinese text: an ASCII ", ", ": " or "(" between Chinese characters reads as
    a typo to a Chinese reader."""
    wrong = []
    for message in load("zh_Hans"):
        strings = message.string if isinstance(message.string, (list, tuple)) else \
            [message.string]
        for text in strings:
            if text and ASCII_PUNCT_BETWEEN_CJK.search(text):
                wrong.append(f"{message.id!r}: {text!r}")
    assert not wrong, "ASCII punctuation in Chinese:\n" + "\n".join(wrong)
