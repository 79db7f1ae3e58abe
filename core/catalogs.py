"""Translation catalogs: extract, update and compile (en source; ru and zh_Hans complete).

``python -m conveyor.catalogs update`` extracts every string from core/ and plugins/ (babel.cfg),
merges them into core/translations/<lang>/LC_MESSAGES/messages.po and compiles the .mo files.
A test fails when a string is missing or untranslated in either language.
"""
from __future__ import annotations

import sys
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANGUAGES = ("ru", "zh_Hans")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
            "pgettext": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2),
            "npgettext": ((1, "c"), 2, 3)}


def extract() -> Catalog:
    """Every translatable string in the source tree, as a template catalog."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    template = Catalog(project="Conveyor", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True):
        if message:
            template.add(message, None, [(filename, lineno)], auto_comments=comments,
                         context=context)
    return template


def po_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"


def load(lang: str) -> Catalog:
    path = po_path(lang)
    if not path.exists():
        return Catalog(locale=lang, charset="utf-8")
    with path.open("rb") as fh:
        return read_po(fh, locale=lang)


def update() -> dict[str, list[str]]:
    """Merge new strings into each .po, keep translations, compile; returns the untranslated."""
    template = extract()
    missing: dict[str, list[str]] = {}
    for lang in LANGUAGES:
        catalog = load(lang)
        # Keep the header's date: a catalog changes only where its strings do (fewer conflicts).
        template.creation_date = catalog.creation_date
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        path = po_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = BytesIO()
        # File names without line numbers: moving code must not rewrite the catalogs.
        write_po(buf, catalog, width=100, omit_header=False, sort_output=True,
                 include_lineno=False)
        path.write_bytes(buf.getvalue())
        compile_catalog(lang)
        missing[lang] = untranslated(catalog)
    return missing


def untranslated(catalog: Catalog) -> list[str]:
    out = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        if message.fuzzy or not all(strings):
            out.append(message.id if isinstance(message.id, str) else message.id[0])
    return out


def compile_catalog(lang: str) -> None:
    catalog = load(lang)
    with po_path(lang).with_suffix(".mo").open("wb") as fh:
        write_mo(fh, catalog, use_fuzzy=False)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "update"
    if command == "update":
        for lang, ids in update().items():
            print(f"{lang}: {len(ids)} untranslated")
    elif command == "compile":
        for lang in LANGUAGES:
            compile_catalog(lang)
    elif command == "missing":
        for lang in LANGUAGES:
            for msgid in untranslated(load(lang)):
                print(f"{lang}\t{msgid}")
    else:
        sys.exit("usage: python -m conveyor.catalogs [update|compile|missing]")
