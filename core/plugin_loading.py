"""Plugin loading: installed is not enabled. Only plugins named in config are imported.

One ``PluginManager`` per app (kept in ``app.extensions["conveyor"]``) so tests can build apps
with different plugin sets side by side.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .contrib import Manifest

ENTRY_POINT_GROUP = "conveyor.plugins"
CORE_DEFAULTS = (
    "conveyor.default_permissions",
    "conveyor.default_nav",
    "conveyor.default_widgets",
    "conveyor.default_auth",
    "conveyor.default_jobs",
    "conveyor.default_panels",
)


class PluginError(RuntimeError):
    """Start-up refused: the message names the plugin at fault."""


@dataclass
class LoadedPlugin:
    name: str
    module: ModuleType
    manifest: Manifest
    dist_name: str = ""
    version: str = ""


@dataclass
class State:
    """Everything plugins contributed to one app, collected once at start-up."""

    pm: pluggy.PluginManager
    plugins: list[LoadedPlugin]
    permissions: dict[str, Any] = field(default_factory=dict)
    nav_items: list[Any] = field(default_factory=list)
    widgets: dict[str, Any] = field(default_factory=dict)
    panels: list[Any] = field(default_factory=list)
    list_filters: list[Any] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    setting_decls: list[Any] = field(default_factory=list)
    events: list[type] = field(default_factory=list)
    models: dict[str, list[type]] = field(default_factory=dict)
    jobs: dict[str, Any] = field(default_factory=dict)
    schedules: list[Any] = field(default_factory=list)
    stage_gates: dict[str, Any] = field(default_factory=dict)
    roles: Any = None

    @property
    def hook(self) -> Any:
        return self.pm.hook

    @property
    def plugin_names(self) -> list[str]:
        return [p.name for p in self.plugins]

    def enabled(self, name: str) -> bool:
        return name in self.plugin_names


def installed_plugins() -> dict[str, Any]:
    """Entry points of the ``conveyor.plugins`` group by name; nothing is imported."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def build_plugin_manager(names: list[str], extra: list[tuple[str, Any]] = ()) -> tuple[
    pluggy.PluginManager, list[LoadedPlugin]
]:
    """Import the enabled plugins, order them, register them; core defaults go last."""
    pm = pluggy.PluginManager("conveyor")
    pm.add_hookspecs(hookspecs)
    available = installed_plugins()
    loaded: dict[str, LoadedPlugin] = {}
    for name in names:
        if name in loaded:
            continue
        ep = available.get(name)
        if ep is None:
            raise PluginError(
                f"plugin {name!r} is enabled in config but not installed "
                f"(installed: {', '.join(sorted(available)) or 'none'})"
            )
        try:
            module = ep.load()
        except Exception as exc:  # noqa: BLE001 - re-raised with the plugin's name
            raise PluginError(f"plugin {name!r} failed to import: {exc!r}") from exc
        dist = getattr(ep, "dist", None)
        loaded[name] = LoadedPlugin(
            name, module, _manifest(name, module),
            dist_name=dist.name if dist else "", version=dist.version if dist else "",
        )
    for name, module in extra:
        loaded[name] = LoadedPlugin(name, module, _manifest(name, module))
    ordered = _topological(loaded, [*names, *(n for n, _ in extra)])
    # pluggy calls the last registered first, so register in reverse of the config order.
    for default in reversed(CORE_DEFAULTS):
        pm.register(importlib.import_module(default), name=default)
    for plugin in ordered:
        if plugin.manifest.hookspecs is not None:
            pm.add_hookspecs(plugin.manifest.hookspecs)
    for plugin in reversed(ordered):
        pm.register(plugin.module, name=plugin.name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin hook check failed: {exc}") from exc
    return pm, ordered


def _manifest(name: str, module: Any) -> Manifest:
    manifest = getattr(module, "manifest", None)
    if manifest is None:
        return Manifest(title=name)
    if not isinstance(manifest, Manifest):
        raise PluginError(f"plugin {name!r}: manifest must be a conveyor.Manifest")
    return manifest


def _topological(loaded: dict[str, LoadedPlugin], order: list[str]) -> list[LoadedPlugin]:
    """Dependencies before dependants; otherwise config order (stable)."""
    for plugin in loaded.values():
        missing = [r for r in plugin.manifest.requires if r not in loaded]
        if missing:
            raise PluginError(
                f"plugin {plugin.name!r} requires {', '.join(missing)}: enable it in config"
            )
    result: list[LoadedPlugin] = []
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise PluginError(f"plugin {name!r} is part of a dependency cycle")
        visiting.add(name)
        plugin = loaded[name]
        for dep in (*plugin.manifest.requires, *plugin.manifest.uses):
            if dep in loaded:
                visit(dep)
        visiting.discard(name)
        done.add(name)
        result.append(plugin)

    for name in dict.fromkeys(order):
        if name in loaded:
            visit(name)
    return result


def plugin_of(obj: Any, state: State) -> str | None:
    """Which enabled plugin a module-level object comes from (by module path)."""
    module = getattr(obj, "__module__", "") or ""
    for plugin in state.plugins:
        package = plugin.module.__name__.rpartition(".")[0] or plugin.module.__name__
        if module == plugin.module.__name__ or module.startswith(package + "."):
            return plugin.name
    return None
