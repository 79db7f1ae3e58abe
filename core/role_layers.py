"""Roles as data. Layers, lowest first: plugin defaults < roles/*.toml < config < admin edits."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from flask import current_app, g
from sqlalchemy import select

from .extensions import db
from .i18n import _l

ROLE_NAMES = ("admin", "manager", "marketer", "telemarketer", "seller", "assistant", "lawyer")
SCOPES = ("own", "team", "all")
# The shipped role titles, for the catalogs: titles are data (roles/*.toml) shown through gettext,
# so a renamed role simply shows its new name.
_TITLES = [_l("Administrator"), _l("Sales manager"), _l("Marketer"), _l("Telemarketer"),
           _l("Seller"), _l("Seller's assistant"), _l("Lawyer")]


@dataclass
class Role:
    name: str
    title: str
    description: str = ""
    scope: str = "own"
    permissions: set[str] = field(default_factory=set)
    widgets: list[str] = field(default_factory=list)


def file_roles() -> dict[str, dict[str, Any]]:
    """The role files shipped in ``roles/``."""
    out = {}
    for entry in resources.files("conveyor.roles").iterdir():
        if entry.name.endswith(".toml"):
            out[entry.name[:-5]] = tomllib.loads(entry.read_text(encoding="utf-8"))
    return out


def build_base_roles(
    plugin_defaults: list[dict[str, dict[str, list[str]]]],
    config_roles: dict[str, Any],
    known_permissions: set[str],
) -> dict[str, Role]:
    """Roles before admin edits. Permissions of plugins that are not enabled are dropped."""
    roles: dict[str, Role] = {}
    files = file_roles()
    for name in dict.fromkeys([*ROLE_NAMES, *files]):
        data = files.get(name, {})
        roles[name] = Role(name=name, title=data.get("title", name.title()),
                           description=data.get("description", ""))
    for defaults in plugin_defaults:
        for name, data in (defaults or {}).items():
            role = roles.setdefault(name, Role(name=name, title=name.title()))
            role.permissions |= set(data.get("permissions", ()))
            role.widgets += [w for w in data.get("widgets", ()) if w not in role.widgets]
    for layer, replace in ((files, False), (config_roles or {}, True)):
        for name, data in layer.items():
            if not isinstance(data, dict):
                continue
            role = roles.setdefault(name, Role(name=name, title=name.title()))
            _apply(role, data, replace=replace)
    for role in roles.values():
        role.permissions &= known_permissions
    return roles


def _apply(role: Role, data: dict[str, Any], replace: bool = True) -> None:
    """One layer over a role. Role files grant (union with plugin defaults) and order widgets
    first; config and admin edits replace the lists they name."""
    if "title" in data:
        role.title = data["title"]
    if data.get("scope") in SCOPES:
        role.scope = data["scope"]
    if "permissions" in data:
        given = set(data["permissions"])
        role.permissions = given if replace else role.permissions | given
    role.permissions |= set(data.get("add_permissions", ()))
    role.permissions -= set(data.get("remove_permissions", ()))
    if "widgets" in data:
        given_w = list(data["widgets"])
        role.widgets = given_w if replace else given_w + [w for w in role.widgets
                                                          if w not in given_w]


def settings_stamp_columns() -> list[Any]:
    """Two scalar subqueries (number of admin role edits, latest edit time) that change whenever
    an edit is saved or removed: the freshness check of the per-process roles cache, cheap
    enough to ride along the signed-in user's own statement (conveyor.auth)."""
    from sqlalchemy import func

    from .models import RoleSetting

    return [select(func.count(RoleSetting.id)).scalar_subquery(),
            select(func.max(RoleSetting.updated_at)).scalar_subquery()]


def current_roles() -> dict[str, Role]:
    """Roles with admin edits applied. Built once per process and reused while the edits'
    stamp is unchanged (several workers each see an edit on their next request); the stamp comes
    with the user's load, else from one small query. Treat the result as read-only."""
    if "conveyor_roles" in g:
        return g.conveyor_roles
    from .models import RoleSetting

    stamp = g.get("conveyor_roles_stamp")
    if stamp is None:
        stamp = tuple(db.session.execute(select(*settings_stamp_columns())).one())
    cached = current_app.extensions.get("conveyor_roles_cache")
    if cached is not None and cached[0] == stamp:
        g.conveyor_roles = cached[1]
        return cached[1]
    state = current_app.extensions["conveyor"]
    roles = {n: _copy(r) for n, r in state.roles.items()}
    for row in db.session.scalars(select(RoleSetting)):
        role = roles.setdefault(row.role, Role(name=row.role, title=row.role.title()))
        _apply(role, row.data or {})
        role.permissions &= set(state.permissions)
    current_app.extensions["conveyor_roles_cache"] = (tuple(stamp), roles)
    g.conveyor_roles = roles
    return roles


def _copy(role: Role) -> Role:
    return Role(role.name, role.title, role.description, role.scope, set(role.permissions),
                list(role.widgets))
