"""Rendering Word templates with docxtpl inside Jinja's sandbox, and checking uploaded ones.

Templates are untrusted input (anyone with ``documents.templates`` uploads them): they render in
a ``SandboxedEnvironment`` with autoescaping (a customer called "A & B" cannot break the XML),
undefined names are errors, and an upload must be a plain DOCX of bounded size and unpacked size.
"""
from __future__ import annotations

import hashlib
import io
import re
import threading
import traceback
import zipfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from babel.dates import format_date
from babel.numbers import format_decimal
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from .words import amount_in_words

if TYPE_CHECKING:
    from docxtpl import DocxTemplate  # imported when a document is rendered (~7 MB with lxml)

DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
BABEL_LOCALES = {"en": "en", "ru": "ru", "zh": "zh_Hans_CN"}
MAX_ENTRIES = 2000
MAX_RATIO = 200  # unpacked / packed of one member


@dataclass(frozen=True)
class Picture:
    """An image for a template (our company's logo): placed inline by ``render_docx`` at
    ``height_mm``, the width following the image's proportions."""

    data: bytes
    height_mm: int = 18

    def __str__(self) -> str:  # the placeholders page and previews without a document
        return ""


class TemplateProblem(ValueError):
    """A template that can't be used; ``str()`` says why in words for the person who uploaded it."""

    def __init__(self, message: str, line: int | None = None, text: str = "") -> None:
        super().__init__(message)
        self.message, self.line, self.text = message, line, text


def check_docx(data: bytes, max_bytes: int, max_unpacked: int) -> None:
    """Refuse what is not a plain Word document: oversize, not a ZIP, macro-enabled, no Word
    body, too many members or a zip bomb (unpacked size or ratio beyond the limits)."""
    if len(data) > max_bytes:
        raise TemplateProblem(f"The file is larger than {max_bytes // 1024 // 1024} MB.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise TemplateProblem("This is not a Word (.docx) file.") from None
    if len(members) > MAX_ENTRIES:
        raise TemplateProblem("The file has too many parts to be a Word document.")
    unpacked = 0
    for member in members:
        unpacked += member.file_size
        if member.file_size > 1024 * 1024 and member.file_size > MAX_RATIO * max(
                member.compress_size, 1):
            raise TemplateProblem("The file unpacks to far more than its size (a zip bomb?).")
        if member.filename.lower().endswith("vbaproject.bin"):
            raise TemplateProblem("Macro-enabled documents (.docm) are refused: save it as .docx.")
    if unpacked > max_unpacked:
        raise TemplateProblem("The file unpacks to far more than its size (a zip bomb?).")
    try:
        types = archive.read("[Content_Types].xml").decode("utf-8", "replace")
    except KeyError:
        raise TemplateProblem("This is not a Word (.docx) file.") from None
    if "macroEnabled" in types:
        raise TemplateProblem("Macro-enabled documents (.docm) are refused: save it as .docx.")
    if DOCX_MAIN not in types:
        raise TemplateProblem("This is not a Word (.docx) file (a template or another format?).")


# --- the Jinja environment ---------------------------------------------------------------------

def money(value: Any, language: str = "en") -> str:
    """1234.5 → "1,234.50" (en), "1 234,50" (ru), "1,234.50" (zh)."""
    return format_decimal(Decimal(str(value or 0)), format="#,##0.00",
                          locale=BABEL_LOCALES.get(language, "en"))


def long_date(value: date | None, language: str = "en") -> str:
    """A date as written in a document: 2 December 2026, 2 декабря 2026 г., 2026年12月2日."""
    if value is None:
        return ""
    return format_date(value, format="long", locale=BABEL_LOCALES.get(language, "en"))


class CachingSandbox(SandboxedEnvironment):
    """The sandbox, keeping compiled templates by their source: docxtpl hands Jinja the same
    XML for every render of one Word file, and compiling it is half the cost of a render."""

    max_cached = 128

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._compiled: dict[bytes, Any] = {}
        self._lock = threading.Lock()

    def from_string(self, source: Any, globals: Any = None,  # noqa: A002 - Jinja's name
                    template_class: Any = None) -> Any:
        if globals or template_class or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        key = hashlib.blake2b(source.encode(), digest_size=20).digest()
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = super().from_string(source)
            with self._lock:
                if len(self._compiled) >= self.max_cached:
                    self._compiled.pop(next(iter(self._compiled)))
                self._compiled[key] = compiled
        return compiled


_ENVIRONMENTS: dict[str, CachingSandbox] = {}


def make_environment(language: str) -> SandboxedEnvironment:
    """The sandboxed environment of a document language (one per process and language)."""
    env = _ENVIRONMENTS.get(language)
    if env is None:
        env = _ENVIRONMENTS[language] = _new_environment(language)
    return env


def _new_environment(language: str) -> CachingSandbox:
    env = CachingSandbox(undefined=StrictUndefined, autoescape=True)
    env.filters["money"] = lambda v: money(v, language)
    env.filters["date"] = lambda v: long_date(v, language)
    env.filters["amount_in_words"] = lambda v, currency, lang=language: amount_in_words(
        v, currency, lang)
    return env


def _template_line(exc: BaseException) -> int | None:
    line = getattr(exc, "lineno", None)
    if line:
        return int(line)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"]
    return frames[-1].lineno if frames else None


def _line_text(tpl: DocxTemplate, line: int | None) -> str:
    if not line:
        return ""
    try:
        xml = re.sub(r"<w:p([ >])", r"\n<w:p\1", tpl.patch_xml(tpl.get_xml()))
        raw = xml.splitlines()[line - 1]
    except (IndexError, Exception):  # noqa: BLE001 - only a hint for the message
        return ""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", raw)).strip()[:200]


def render_docx(template: bytes, context: dict[str, Any], language: str) -> bytes:
    """Render ``template`` with ``context``; a template error becomes a ``TemplateProblem``
    naming the line (paragraph) and its text, which shows the placeholder at fault."""
    from docxtpl import DocxTemplate

    tpl = DocxTemplate(io.BytesIO(template))
    context = _with_pictures(tpl, context)
    try:
        tpl.render(context, jinja_env=make_environment(language), autoescape=True)
    except (TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        line = _template_line(exc)
        text = _line_text(tpl, line)
        kind = "syntax error" if isinstance(exc, TemplateSyntaxError) else "error"
        where = f" on line {line - 1}" if line and line > 1 else ""
        snippet = f" («{text}»)" if text else ""
        raise TemplateProblem(f"Template {kind}{where}{snippet}: {exc}", line, text) from None
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


def _with_pictures(tpl: DocxTemplate, context: dict[str, Any]) -> dict[str, Any]:
    """``Picture`` values (one level down: ``company.logo``) as docxtpl inline images of this
    document; an unreadable image renders as nothing rather than failing the document."""
    out = dict(context)
    for key, value in context.items():
        if not isinstance(value, dict) or not any(isinstance(v, Picture) for v in value.values()):
            continue
        inner = dict(value)
        for name, item in value.items():
            if isinstance(item, Picture):
                inner[name] = _inline(tpl, item)
        out[key] = inner
    return out


def _inline(tpl: DocxTemplate, picture: Picture) -> Any:
    from docx.image.exceptions import UnrecognizedImageError
    from docx.image.image import Image
    from docx.shared import Mm
    from docxtpl import InlineImage

    try:
        Image.from_blob(picture.data)  # refuse what python-docx can't place, before rendering
    except (UnrecognizedImageError, ValueError, OSError):
        return ""
    return InlineImage(tpl, io.BytesIO(picture.data), height=Mm(picture.height_mm))


def placeholders(template: bytes) -> list[str]:
    """Every variable a template uses (``customer.inn``, ``lines``, …), sorted."""
    from docxtpl import DocxTemplate

    tpl = DocxTemplate(io.BytesIO(template))
    tpl.init_docx()
    xml = tpl.patch_xml(tpl.get_xml())
    found = set(re.findall(r"\{\{\s*([A-Za-z_][\w.]*)", xml))
    found |= set(re.findall(r"\{%-?\s*(?:tr|p|tc|r)?\s*for\s+\w+\s+in\s+([A-Za-z_][\w.]*)", xml))
    return sorted(found)
