"""Conveyor: a plugin-extensible CRM framework.

This module is the public facade for plugin authors — import from ``conveyor`` only; everything
else may change between versions. The installed package maps the repository's folders into one
namespace: ``conveyor`` is ``core/``, ``conveyor.plugins`` is ``plugins/``, ``conveyor.roles`` is
``roles/`` and ``conveyor.config`` is ``config/``.
"""
from __future__ import annotations

from .audit import record as record_audit
from .charts import (
    ChartProgress,
    ChartRow,
    ChartSeries,
    SparkPoint,
    bar_chart,
    progress_chart,
    sparkline,
)
from .contrib import (
    Action,
    Job,
    ListFilter,
    Manifest,
    NavItem,
    Panel,
    Permission,
    Schedule,
    Setting,
    StageGate,
    StageMove,
    Widget,
)
from .crm import (
    create_customer,
    create_deal,
    delete_deal,
    in_company_language,
    move_deal,
    notify,
    post_timeline,
    recipient_locale,
    timeline_kind,
    timeline_label,
    update_customer,
    update_deal,
)
from .events import (
    CustomerCreated,
    CustomerUpdated,
    DealCreated,
    DealDeleted,
    DealLost,
    DealReopened,
    DealStageChanged,
    DealUpdated,
    DealWon,
    Event,
    UserCreated,
    emit,
)
from .extensions import csrf, db, limiter
from .hookspecs import hookimpl, hookspec
from .jobs import enqueue
from .mail import Attachment, send_mail
from .money import RateBook, Total, company_currency, convert_total, rates_on
from .permissions import (
    can,
    colleagues,
    get_visible_or_404,
    login_required,
    owner_ids,
    public,
    require,
    roles_holding,
    scope,
    scope_of,
    scoped,
)
from .pipelines import PipelineInfo, Pipelines, StageInfo, current_pipelines
from .search import SearchHit, SearchIndex, SearchKind, create_search_index, drop_search_index
from .security import csp_nonce
from .settings import setting
from .stage_gates import StageGateRefused

__version__ = "0.1.0"


def create_app(*args, **kwargs):  # type: ignore[no-untyped-def]
    """See :func:`conveyor.app.create_app` (imported lazily: plugins import this facade)."""
    from .app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = [
    "Action",
    "Attachment",
    "bar_chart",
    "can",
    "ChartProgress",
    "ChartRow",
    "ChartSeries",
    "colleagues",
    "company_currency",
    "convert_total",
    "create_app",
    "create_customer",
    "create_deal",
    "create_search_index",
    "csp_nonce",
    "csrf",
    "current_pipelines",
    "CustomerCreated",
    "CustomerUpdated",
    "db",
    "DealCreated",
    "DealDeleted",
    "DealLost",
    "DealReopened",
    "DealStageChanged",
    "DealUpdated",
    "DealWon",
    "delete_deal",
    "drop_search_index",
    "emit",
    "enqueue",
    "Event",
    "get_visible_or_404",
    "hookimpl",
    "hookspec",
    "in_company_language",
    "Job",
    "limiter",
    "ListFilter",
    "login_required",
    "Manifest",
    "move_deal",
    "NavItem",
    "notify",
    "owner_ids",
    "Panel",
    "Permission",
    "PipelineInfo",
    "progress_chart",
    "Pipelines",
    "post_timeline",
    "public",
    "RateBook",
    "rates_on",
    "recipient_locale",
    "record_audit",
    "require",
    "roles_holding",
    "Schedule",
    "scope",
    "scope_of",
    "scoped",
    "SearchHit",
    "SearchIndex",
    "SearchKind",
    "send_mail",
    "Setting",
    "setting",
    "sparkline",
    "SparkPoint",
    "StageGate",
    "StageGateRefused",
    "StageInfo",
    "StageMove",
    "timeline_kind",
    "timeline_label",
    "Total",
    "update_customer",
    "update_deal",
    "UserCreated",
    "Widget",
]
