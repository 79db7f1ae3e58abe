"""docs/facade.md is generated from the facade: every public name documented, with an example."""
from __future__ import annotations

import inspect
from pathlib import Path

import conveyor
from conveyor.events import Event
from conveyor.facadedoc import _EXAMPLES, _OBJECTS, render

ROOT = Path(__file__).resolve().parent.parent


def test_the_facade_reference_is_current():
    assert (ROOT / "docs" / "facade.md").read_text(encoding="utf-8") == render(), \
        "docs/facade.md is stale: python -m conveyor.facadedoc > docs/facade.md"


def test_every_facade_name_has_a_summary_and_an_example():
    for name in conveyor.__all__:
        obj = getattr(conveyor, name)
        if inspect.isclass(obj) and issubclass(obj, Event):
            assert inspect.getdoc(obj), name
            continue
        if name in _OBJECTS:
            continue
        doc = inspect.getdoc(obj) or ""
        assert doc and not doc.startswith(name + "("), f"{name} has no docstring"
        assert name in _EXAMPLES, f"{name} has no example in conveyor.facadedoc"


def test_the_reference_lists_core_page_names_for_url_for():
    text = render()
    for endpoint in ("deals.index", "deals.card", "customers.card", "home.index"):
        assert f"| `{endpoint}` |" in text, endpoint
