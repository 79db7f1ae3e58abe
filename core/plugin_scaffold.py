"""``conveyor plugin new NAME``: write a complete, installable plugin package from the template in
``core/scaffold/plugin`` — pyproject with the entry point, manifest, a model and its first
migration, permissions granted to roles, a page in the menu with a CSRF-protected form, an API
blueprint, an event handler, a widget, Russian and Chinese translations, and tests that pass
as soon as it is installed.

Template files are plain text with ``@@name@@``-style markers (the Jinja templates inside must
stay untouched); Python files carry a ``_tmpl`` suffix so nothing imports, lints or extracts
them before they are written out.
"""
from __future__ import annotations

import keyword
import re
from datetime import date
from importlib import resources
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po

NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
SUFFIX = "_tmpl"

# The template's own strings, translated; the plugin's title is the author's to translate.
TRANSLATIONS: dict[str, dict[str | tuple[str, str], str | tuple[str, ...]]] = {
    "ru": {
        "Notes on customers.": "Заметки о клиентах.",
        "See notes on customers": "Просмотр заметок о клиентах",
        "Add notes on customers": "Добавление заметок о клиентах",
        "Customer number": "Номер клиента",
        "Note": "Заметка",
        "The note is saved.": "Заметка сохранена.",
        "Deal won: %(title)s": "Сделка выиграна: %(title)s",
        "Add a note": "Добавить заметку",
        "No notes yet.": "Заметок пока нет.",
        "Save": "Сохранить",
        ("%(num)d note", "%(num)d notes"): ("%(num)d заметка", "%(num)d заметки",
                                            "%(num)d заметок"),
    },
    "zh_Hans": {
        "Notes on customers.": "客户备注。",
        "See notes on customers": "查看客户备注",
        "Add notes on customers": "添加客户备注",
        "Customer number": "客户编号",
        "Note": "备注",
        "The note is saved.": "备注已保存。",
        "Deal won: %(title)s": "商机已赢单：%(title)s",
        "Add a note": "添加备注",
        "No notes yet.": "暂无备注。",
        "Save": "保存",
        ("%(num)d note", "%(num)d notes"): ("%(num)d 条备注",),
    },
}


class ScaffoldError(ValueError):
    """The name or the target folder can't be used; the message says why."""


def check_name(name: str) -> str:
    if not NAME.match(name) or keyword.iskeyword(name):
        raise ScaffoldError(f"{name!r}: 2 to 31 characters, lower-case letters, digits and _, "
                            "starting with a letter (it becomes a Python package and the "
                            "prefix of the plugin's tables, permissions and routes)")
    return name


def render_text(text: str, name: str, title: str) -> str:
    return (text.replace("@@name@@", name).replace("@@dist@@", name.replace("_", "-"))
            .replace("@@title@@", title).replace("@@date@@", date.today().isoformat()))


def write_translations(package: Path, name: str, title: str) -> None:
    """``translations/<lang>/LC_MESSAGES/messages.po`` and the compiled ``.mo`` next to it."""
    for lang, strings in TRANSLATIONS.items():
        catalog = Catalog(locale=lang, project=f"conveyor-{name}", charset="utf-8", fuzzy=False)
        catalog.add(title, "")  # the author's title: add its translation here
        for msgid, text in strings.items():
            catalog.add(msgid, text)
        folder = package / "translations" / lang / "LC_MESSAGES"
        folder.mkdir(parents=True, exist_ok=True)
        po, mo = BytesIO(), BytesIO()
        write_po(po, catalog, width=100)
        write_mo(mo, catalog)
        (folder / "messages.po").write_bytes(po.getvalue())
        (folder / "messages.mo").write_bytes(mo.getvalue())


def create_plugin(name: str, target: Path, title: str | None = None) -> Path:
    """Write the plugin package ``conveyor-<name>`` into ``target``; returns its folder."""
    check_name(name)
    title = title or name.replace("_", " ").capitalize()
    root = target / f"conveyor-{name.replace('_', '-')}"
    if root.exists():
        raise ScaffoldError(f"{root} exists already: choose another folder or name")
    template = Path(str(resources.files("conveyor").joinpath("scaffold", "plugin")))
    for source in sorted(template.rglob("*")):
        if source.is_dir() or "__pycache__" in source.parts:
            continue
        relative = render_text(str(source.relative_to(template)), name, title)
        if relative.endswith(SUFFIX):
            relative = relative[: -len(SUFFIX)]
        dest = root / relative
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(render_text(source.read_text(encoding="utf-8"), name, title),
                        encoding="utf-8")
    write_translations(root / f"conveyor_{name}", name, title)
    return root
