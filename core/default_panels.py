"""The core's card panels: the record's history from the audit trail."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import render_template
from sqlalchemy import bindparam, select

from .contrib import Panel
from .hookspecs import hookimpl
from .i18n import _l
from .queries import written_limit

HISTORY_ROWS = 30


def history(object_type: str, obj: Any, user: Any) -> str:
    """The newest changes of one record, field by field (``audit_log``)."""
    from .audit import ACTION_LABELS

    from .web.listing import plain_rows

    entries = plain_rows(_history_statement(), {"object_type": object_type, "object_id": obj.id})
    return render_template("audit/history.html", entries=entries, object_type=object_type,
                           object_id=obj.id, action_labels=ACTION_LABELS)


@lru_cache(maxsize=1)
def _history_statement() -> Any:
    """Built once (type and id bound): building the SELECT cost about as much as running it, on
    every customer and deal card. Plain rows of what the panel shows: no ORM objects to build."""
    from .models import AuditEntry

    return (select(AuditEntry.id, AuditEntry.at, AuditEntry.actor, AuditEntry.action,
                   AuditEntry.changes).where(AuditEntry.object_type == bindparam("object_type"),
                                     AuditEntry.object_id == bindparam("object_id"))
            .order_by(AuditEntry.id.desc()).limit(written_limit(HISTORY_ROWS)))


@hookimpl(trylast=True)
def register_panels() -> list[Panel]:
    return [
        Panel("core.customer_history", _l("History"), "customer", "customers.view",
              lambda obj, user: history("customer", obj, user), order=900),
        Panel("core.deal_history", _l("History"), "deal", "deals.view",
              lambda obj, user: history("deal", obj, user), order=900),
    ]
