"""Render docs/hooks.md from the hook specifications, so the docs can't drift from the code.

``python -m conveyor.hookdoc > docs/hooks.md``; a test fails when the file is out of date.
"""
from __future__ import annotations

import importlib
import inspect
import re
from types import ModuleType

from . import hookspecs
from .hookexamples import EXAMPLES

# Plugin-declared specs documented beside the core's: (plugin, module path).
PLUGIN_HOOKSPECS = [
    ("funnel", "conveyor.plugins.funnel.hookspecs"),
    ("relationships", "conveyor.plugins.relationships.hookspecs"),
    ("approvals", "conveyor.plugins.approvals.hookspecs"),
    ("discussions", "conveyor.plugins.discussions.hookspecs"),
]

INTRO = """# Hooks

Conveyor's plugin contract, generated from `core/hookspecs.py` (and the hookspecs modules plugins
declare) by `python -m conveyor.hookdoc > docs/hooks.md`. A test keeps this file identical to the
code.

Rules for every hook:
- **Order.** The first plugin listed in config (`plugins = [...]`) is called first; the core's own
  implementations (`conveyor.default_*`) are `trylast` fallbacks, called after every plugin.
- **Fewer arguments are fine.** An implementation may accept any subset of the arguments shown, in
  any order, by name. Arguments are only ever added, never renamed or removed.
- **Lists.** Non-firstresult hooks return a value per plugin; the core flattens lists.
- **firstresult** hooks stop at the first non-`None` answer.
- A misspelled hook name stops start-up (`pm.check_pending()`); plugin-declared hooks that another
  plugin may lack are implemented with `@hookimpl(optionalhook=True)`.
"""


def hook_functions(module: ModuleType) -> list[tuple[str, object]]:
    return [(name, fn) for name, fn in inspect.getmembers(module, inspect.isfunction)
            if hasattr(fn, "conveyor_spec") and fn.__module__ == module.__name__]


def signature(fn: object) -> str:
    params = ", ".join(inspect.signature(fn).parameters)  # type: ignore[arg-type]
    return f"{fn.__name__}({params})"  # type: ignore[attr-defined]


def render_module(module: ModuleType, level: str = "##") -> list[str]:
    out = []
    source = inspect.getsource(module)
    ordered = sorted(hook_functions(module), key=lambda item: source.index(f"def {item[0]}("))
    for name, fn in ordered:
        opts = fn.conveyor_spec  # type: ignore[attr-defined]
        out.append(f"{level} `{signature(fn)}`\n")
        if opts.get("firstresult"):
            out.append("*firstresult*\n")
        out.append(to_markdown(inspect.cleandoc(fn.__doc__ or "").strip()) + "\n")
        example = EXAMPLES.get(name)
        if example:
            out.append("Example:\n\n```python\n" + inspect.cleandoc(example) + "\n```\n")
    return out


def to_markdown(doc: str) -> str:
    """Docstrings are written for Sphinx-style readers; the docs are Markdown."""
    doc = re.sub(r"``([^`]+)``", r"`\1`", doc)
    doc = re.sub(r":(?:class|func):`~?([^`]+)`", r"`\1`", doc)
    doc = re.sub(r"^:param (\w+):", r"- **`\1`**:", doc, flags=re.M)
    doc = re.sub(r"^:return:", "- **Returns**:", doc, flags=re.M)
    return doc


def render() -> str:
    parts = [INTRO, "## Core hooks\n"]
    parts += render_module(hookspecs, "###")
    for plugin, path in PLUGIN_HOOKSPECS:
        try:
            module = importlib.import_module(path)
        except ImportError:
            continue
        parts.append(f"## Hooks declared by the `{plugin}` plugin\n")
        parts.append(inspect.cleandoc(module.__doc__ or "").strip() + "\n")
        parts += render_module(module, "###")
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
