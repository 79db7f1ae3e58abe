"""The core's navigation entries, through the same hook plugins use."""
from __future__ import annotations

from .contrib import NavItem
from .hookspecs import hookimpl
from .i18n import _l


@hookimpl(trylast=True)
def register_nav_items() -> list[NavItem]:
    return [
        NavItem("customers", _l("Customers"), "customers.index", "customers.view", order=10),
        NavItem("deals", _l("Deals"), "deals.index", "deals.view", order=20),
        NavItem("pipeline", _l("Pipeline"), "deals.board", "deals.view", order=21),
        NavItem("admin", _l("Admin"), "admin.index", "admin.users", order=900),
    ]
