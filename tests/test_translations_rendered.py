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
from html.parser import HTMLParser
from typing import Any

import pytest
from babel.numbers import list_currencies
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
    "Conveyor": "the product's name",
    "English": "the language list names each language in itself",
    "CSV": "a file format, written so in ru and zh",
    "DOCX": "a file format",
    "PDF": "a file format",
    "JSON": "a file format",
    "ICS": "a file format (iCalendar)",
    "iCalendar": "the feed format's name",
    "API": "a term used as is in ru and zh",
    "URL": "a term used as is in ru and zh",
    "SMTP": "a protocol's name",
    "HTTP": "a protocol's name",
    "HTTPS": "a protocol's name",
    "UTC": "the time zone's name",
    "ID": "an identifier's abbreviation, used as is in ru and zh",
    "IP": "an address kind, used as is",
    "CRM": "a term used as is in ru and zh",
    "ISO": "the standard's name (ISO 4217 currency codes)",
    "Markdown": "a format's name",
    "Bearer": "the HTTP authentication scheme a token is sent with",
    "Authorization": "the HTTP header a token is sent in",
    "Redis": "a server's name",
    "RQ": "a job queue's name",
    "PostgreSQL": "a database's name",
    "SQLite": "a database's name",
    "Webhook": "a term used as is",
    "webhook": "a term used as is",
}
CURRENCY_CODES = set(list_currencies())

# Columns that hold what people typed or imported (names, titles, notes, contact data): shown as
# entered, in whatever language they were written. Codes (status, kind, source, type...) are not
# here on purpose: those must be shown translated.
USER_DATA_COLUMNS = {
    "name", "display_name", "username", "email", "phone", "title", "company", "notes", "note",
    "body", "comment", "address", "region", "position", "legal_name", "label", "version",
    "products", "industry", "lost_reason", "reason", "unit", "number", "detail", "result",
    "changes_note", "signatory_title", "signatory_name", "bank_name", "city", "subject",
    "description", "text", "summary", "website", "domain", "key", "filename", "path",
    "thank_you_url", "webhook_url", "url", "tax_id", "inn", "kpp", "uscc", "override_reason",
    "disqualify_reason", "timezone", "message_text",
}

EMAIL = re.compile(r"[\w.+-]+@[\w.-]+\.\w+")
URL_LIKE = re.compile(r"(?:https?://|/)[\w./?=&%#:+-]*")
TIMEZONE = re.compile(r"\b[A-Z][A-Za-z_]+/[A-Za-z_/+-]+")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")
SEEN_ATTRS = ("title", "placeholder", "aria-label", "alt")
SKIPPED_TAGS = {"script", "style", "code", "pre", "kbd", "samp", "template"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class VisibleText(HTMLParser):
    """Text nodes outside script/style/code and the attributes a person reads."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in SEEN_ATTRS:
            if values.get(name):
                self.texts.append(values[name] or "")
        if (tag == "input" and values.get("type") in ("submit", "button", "reset")) or \
                tag == "button":
            if values.get("value"):
                self.texts.append(values["value"] or "")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if data.strip() and not SKIPPED_TAGS.intersection(self.stack):
            self.texts.append(data)


def user_data(app: Flask) -> list[str]:
    """Every value people typed into the records of this database, longest first."""
    from conveyor.extensions import db

    values: set[str] = set()
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for column in table.columns:
                if column.name in USER_DATA_COLUMNS and isinstance(column.type, (String, Text)):
                    values.update(str(v) for v in db.session.scalars(
                        select(column).where(column.is_not(None)).distinct()) if str(v).strip())
    return sorted(values, key=len, reverse=True)


def english_left(text: str, data: list[str]) -> list[str]:
    """The Latin words of a visible text once user data, codes and allowed words are gone."""
    if not LATIN_WORD.search(text):
        return []
    for value in data:
        if value in text:
            text = text.replace(value, " ")
    text = EMAIL.sub(" ", text)
    text = URL_LIKE.sub(" ", text)
    text = TIMEZONE.sub(" ", text)
    return [word for word in LATIN_WORD.findall(text)
            if word not in ALLOWED_WORDS and word not in CURRENCY_CODES]


def demo_app(make_app: Any, lang: str) -> Flask:
    """All plugins, the demo company, and the language as the company's default (so texts
    written for a user, notifications included, are written in it)."""
    from conveyor.demo import seed_demo
    from conveyor.extensions import db
    from conveyor.models import User

    app = make_app(plugins=ALL_PLUGINS, config={"default_locale": lang}, seed=False)
    with app.app_context():
        seed_demo(app, db.session, customers=12)
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
    data = user_data(app)
    urls = page_urls(app)
    found: dict[str, str] = {}
    pages = 0
    for role in [*ROLE_NAMES, None]:
        client = client_as(app, role) if role else app.test_client()
        for url in urls:
            response = client.get(url, headers={"Accept-Language": ACCEPT[lang]})
            if not response.mimetype == "text/html":
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
