"""Hooks the relationships plugin asks other plugins to answer (named in its Manifest).

Callers treat "no implementation" as "not available": without the leads and calls plugins the
type only knows deals; without an activities plugin the activities report says so.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from conveyor import hookspec


@hookspec
def relationship_interest(customer_ids: list[int] | None) -> list[Any]:
    """Where a customer showed interest, as SQL the type computation joins in.

    :param customer_ids: limit to these customers; ``None`` means every customer. The plugin
        itself asks with ``None`` once per app and settings, keeps the statement, and narrows by
        customer in SQL around it — so return a plain select the database can filter.
    :return: a list of ``Select`` objects, each returning rows ``(customer_id, at)`` meaning
        "this customer showed interest at ``at``" (leads linked to a customer, calls with
        ``interested=True``). Columns are read by position.
    """


@hookspec
def relationship_activities(start: datetime, end: datetime,
                            owner_ids: list[int] | None) -> list[dict[str, Any]]:
    """Activity counts per relationship type in ``[start, end)``.

    :param owner_ids: sellers to count for; ``None`` means everyone.
    :return: a list of dicts ``{"activity": str, "type": str, "count": int}`` where ``type`` is
        the customer's current relationship type and ``activity`` a short code ("call",
        "meeting"); an optional ``label`` names it in the reader's language for the report
        page. The activities plugin implements it.
    """
