"""The plugin contract can't drift quietly: docs, signatures, tests and start-up checks."""
from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

import click
import pytest

from conveyor import Permission, hookimpl, hookspecs
from conveyor.extensions import db
from conveyor.hookdoc import hook_functions, render
from conveyor.plugin_loading import PluginError

ROOT = Path(__file__).resolve().parent.parent
CORE_HOOKS = dict(hook_functions(hookspecs))


def test_plugin_hooks_are_documented():
    assert (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8") == render(), \
        "docs/hooks.md is stale: python -m conveyor.hookdoc > docs/hooks.md"


def test_every_hook_documents_its_return_or_effect():
    for name, fn in CORE_HOOKS.items():
        doc = inspect.getdoc(fn) or ""
        assert len(doc.splitlines()[0]) > 10, name


def test_hook_argument_names_are_frozen():
    """Arguments may be added to a hook, never renamed or removed."""
    frozen = json.loads((Path(__file__).parent / "hook_signatures.json").read_text())
    current = {n: list(inspect.signature(f).parameters) for n, f in CORE_HOOKS.items()}
    for name, args in frozen.items():
        assert name in current, f"hook {name} was removed"
        assert current[name][: len(args)] == args, f"hook {name} changed its arguments"
    new = set(current) - set(frozen)
    assert not new, f"new hooks {new}: add them to tests/hook_signatures.json"


def test_plugin_hooks_have_tests():
    sources = [p.read_text(encoding="utf-8") for p in
               [*ROOT.glob("tests/**/*.py"), *ROOT.glob("plugins/*/tests/*.py")]
               if p.name != Path(__file__).name]
    text = "\n".join(sources)
    untested = [n for n in CORE_HOOKS if not re.search(rf"\b{n}\b", text)]
    assert not untested, f"hooks without a test: {untested}"


class Misspelled:
    @hookimpl
    def register_permisions(self):  # the typo is the point
        return []


def test_misspelled_hookimpl_stops_startup(make_app):
    with pytest.raises(PluginError, match="misspelled|register_permisions"):
        make_app(extra_plugins=[("typo", Misspelled())])


class Dup:
    @hookimpl
    def register_permissions(self):
        return [Permission("customers.view")]


def test_duplicate_permission_stops_startup(make_app):
    with pytest.raises(PluginError, match="customers.view"):
        make_app(extra_plugins=[("dup", Dup())])


class BadTable:
    @hookimpl
    def register_models(self):
        from conveyor.models import Customer

        return [Customer]


def test_table_without_plugin_prefix_stops_startup(make_app):
    with pytest.raises(PluginError, match="must start with 'badtable_'"):
        make_app(extra_plugins=[("badtable", BadTable())])


def test_unknown_plugin_stops_startup_by_name(make_app):
    with pytest.raises(PluginError, match="'nosuchplugin'"):
        make_app(plugins=["nosuchplugin"])


def test_missing_hard_dependency_stops_startup(make_app):
    from conveyor import Manifest

    class NeedsLeads:
        manifest = Manifest(title="x", requires=("leads",))

    with pytest.raises(PluginError, match="requires leads"):
        make_app(extra_plugins=[("needy", NeedsLeads())])


def _order_plugin(tag, calls):
    class P:
        @hookimpl
        def register_nav_items(self):
            calls.append(tag)
            return []
    return P()


def test_first_listed_plugin_is_called_first_and_core_defaults_last(make_app):
    calls: list[str] = []
    app = make_app(extra_plugins=[("first", _order_plugin("first", calls)),
                                  ("second", _order_plugin("second", calls))])
    assert calls == ["first", "second"]
    impls = app.extensions["conveyor"].pm.hook.register_nav_items.get_hookimpls()
    # pluggy lists in reverse call order: the core default is called last.
    assert impls[0].plugin_name == "conveyor.default_nav"


def test_installed_but_disabled_plugin_contributes_nothing(make_app):
    from conveyor.schema import app_tables

    bare = make_app(plugins=[])
    with bare.app_context():  # inspected before another app shares the database (PostgreSQL)
        bare_tables = set(db.inspect(db.engine).get_table_names())
    assert not [t for t in bare_tables if t.startswith("leads_")]
    assert not [t.name for t in app_tables(bare) if t.name.startswith("leads_")]
    full = make_app(plugins=["leads"])
    assert [t.name for t in app_tables(full) if t.name.startswith("leads_")]
    bare_rules = {r.rule for r in bare.url_map.iter_rules()}
    full_rules = {r.rule for r in full.url_map.iter_rules()}
    assert not any(r.startswith(("/leads", "/api/v1/leads", "/public/leads")) for r in bare_rules)
    assert any(r.startswith("/public/leads") for r in full_rules)
    assert "leads" not in bare.extensions["conveyor"].plugin_names
    # app.cli attaches the plugins' commands on the first lookup (not in a web worker)
    assert "leads" not in bare.cli.list_commands(click.Context(bare.cli))
    assert "leads" in full.cli.list_commands(click.Context(full.cli))
    bare_nav = {n.id for n in bare.extensions["conveyor"].nav_items}
    full_nav = {n.id for n in full.extensions["conveyor"].nav_items}
    assert "leads" not in bare_nav and "leads" in full_nav


def test_every_hook_has_an_example_in_the_docs():
    from conveyor.hookdoc import PLUGIN_HOOKSPECS
    from conveyor.hookexamples import EXAMPLES

    names = set(CORE_HOOKS)
    for _, path in PLUGIN_HOOKSPECS:
        names |= {n for n, _ in hook_functions(importlib.import_module(path))}
    missing = sorted(names - set(EXAMPLES))
    assert not missing, f"hooks without an example in conveyor/hookexamples.py: {missing}"
