"""Questions the funnel asks other plugins. No implementation means "not available": the
funnel hides the figure and says why, it never shows a zero it does not know."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from conveyor import hookspec


@hookspec
def funnel_lead_counts(start: datetime, end: datetime,
                       owner_ids: list[int] | None) -> dict[int | None, int]:
    """Leads created in ``[start, end)`` per owner, counted in SQL with GROUP BY.

    :param owner_ids: the owners asked about; ``None`` means everyone.
    :return: ``{owner_id: count}``; the key ``None`` counts unassigned leads.
    """


@hookspec
def funnel_client_visits(start: datetime, end: datetime,
                         owner_ids: list[int] | None) -> dict[int, dict[str, int]]:
    """Client visits held in ``[start, end)`` per owner (a calendar or activities plugin).

    :return: ``{owner_id: {"first": n, "follow_up": m}}``.
    """


@hookspec
def funnel_fulfilment(start: datetime, end: datetime,
                      owner_ids: list[int] | None) -> dict[int, dict[str, Decimal]]:
    """Issued or paid invoices in ``[start, end)`` per owner, for plan fulfilment.

    :return: ``{owner_id: {"volume": Decimal, "margin": Decimal}}``.
    """
