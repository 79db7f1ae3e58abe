"""The core's card panels: the record's history from the audit trail."""
from __future__ import annotations

from typing import Any

from flask import render_template
from sqlalchemy import select

from .contrib import Panel
from .hookspecs import hookimpl
from .i18n import _l
from .queries import written_limit

HISTORY_ROWS = 30


def history(object_type: str, obj: Any, user: Any) -> str:
    """The newest changes of one record, field by field (``audit_log``)."""
    from .audit import ACTION_LABELS
    from .extensions import db
    from .models import AuditEntry

    entries = list(db.session.scalars(
        select(AuditEntry).where(AuditEntry.object_type == object_type,
                                 AuditEntry.object_id == obj.id)
        .order_by(AuditEntry.id.desc()).limit(written_limit(HISTORY_ROWS))))
    return render_template("audit/history.html", entries=entries, object_type=object_type,
                           object_id=obj.id, action_labels=ACTION_LABELS)


@hookimpl(trylast=True)
def register_panels() -> list[Panel]:
    return [
        Panel("core.customer_history", _l("History"), "customer", "customers.view",
              lambda obj, user: history("customer", obj, user), order=900),
        Panel("core.deal_history", _l("History"), "deal", "deals.view",
              lambda obj, user: history("deal", obj, user), order=900),
    ]
