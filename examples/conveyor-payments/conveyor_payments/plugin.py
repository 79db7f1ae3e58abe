"""The payments plugin: manifest and hookimpls. It answers the funnel plugin's
``funnel_fulfilment`` hook, so plan fulfilment can count money received instead of deals won
(setting ``funnel.fulfilment_source = "invoices"``)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app

from conveyor import Manifest, NavItem, Permission, Widget, hookimpl
from conveyor.i18n import _l

from . import events
from .models import Payment

manifest = Manifest(title=_l("Payments"), uses=("funnel",),
                    description=_l("Money received on won deals."))


@hookimpl
def register_models() -> list[type]:
    return [Payment]


@hookimpl
def register_permissions() -> list[Permission]:
    return [Permission("payments.view", _l("See payments received")),
            Permission("payments.record", _l("Record payments received"))]


@hookimpl
def register_role_defaults() -> dict[str, dict[str, list[str]]]:
    both = ["payments.view", "payments.record"]
    return {"seller": {"permissions": ["payments.view"], "widgets": ["payments"]},
            "assistant": {"permissions": both, "widgets": ["payments"]},
            "manager": {"permissions": both}, "admin": {"permissions": both}}


@hookimpl
def register_nav_items() -> list[NavItem]:
    return [NavItem("payments", _l("Payments"), "payments.index", "payments.view", order=450)]


@hookimpl
def register_widgets() -> list[Widget]:
    from .widgets import render_widget

    return [Widget("payments", _l("Received this month"), "payments.view", render_widget)]


@hookimpl
def register_blueprints(app: Any) -> list[Any]:
    from .views import bp

    return [bp]


@hookimpl
def register_api_blueprints(api: Any) -> list[Any]:
    from .api import blp

    return [blp]


@hookimpl
def track_event(event: Any) -> None:
    events.track(event)


@hookimpl(optionalhook=True)
def funnel_fulfilment(start: datetime, end: datetime,
                      owner_ids: list[int] | None) -> dict[int, dict[str, Any]]:
    """Received in the company's currency; payments in other currencies are not counted until
    the funnel converts currencies."""
    from .services import paid_per_owner

    return paid_per_owner(start, end, owner_ids,
                          current_app.config["CONVEYOR"]["default_currency"])
