"""The core's own permissions and role defaults, declared through the public hooks."""
from __future__ import annotations

from .contrib import Permission
from .hookspecs import hookimpl
from .i18n import _l

CORE_PERMISSIONS = [
    Permission("customers.view", _l("View customers and contacts")),
    Permission("customers.edit", _l("Create and edit customers and contacts")),
    Permission("customers.delete", _l("Delete customers")),
    Permission("deals.view", _l("View deals and the pipeline")),
    Permission("deals.edit", _l("Create deals, edit them and change their stage")),
    Permission("deals.delete", _l("Delete deals")),
    Permission("admin.users", _l("Manage users and teams")),
    Permission("admin.roles", _l("Edit roles and their permissions")),
    Permission("admin.stages", _l("Edit the pipeline stages")),
    Permission("admin.plugins", _l("See installed and enabled plugins")),
    Permission("admin.rates", _l("Enter and import exchange rates")),
    Permission("admin.jobs", _l("See failed background jobs and run them again")),
    Permission("admin.audit", _l("Read the audit trail: who changed what, sign-ins")),
]


@hookimpl(trylast=True)
def register_permissions() -> list[Permission]:
    return CORE_PERMISSIONS


@hookimpl(trylast=True)
def register_role_defaults() -> dict[str, dict[str, list[str]]]:
    everything = [p.name for p in CORE_PERMISSIONS]
    seller = ["customers.view", "customers.edit", "deals.view", "deals.edit"]
    return {
        "admin": {"permissions": everything, "widgets": ["core.admin_overview"]},
        "manager": {"permissions": [*seller, "customers.delete", "deals.delete"],
                    "widgets": ["core.pipeline_summary"]},
        "seller": {"permissions": seller, "widgets": ["core.my_deals", "core.pipeline_summary"]},
        "assistant": {"permissions": ["customers.view", "deals.view"],
                      "widgets": ["core.my_deals"]},
        "lawyer": {"permissions": ["customers.view", "deals.view"], "widgets": []},
        "telemarketer": {"permissions": ["customers.view", "customers.edit"], "widgets": []},
        "marketer": {"permissions": ["customers.view"], "widgets": []},
    }
