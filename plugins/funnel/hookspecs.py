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
def funnel_lead_counts_by_period(bounds: list[datetime], owner_ids: list[int] | None
                                 ) -> list[dict[int | None, int]]:
    """What ``funnel_lead_counts`` answers, for each of consecutive periods at once (the five
    numbers' trend): ``bounds`` are the periods' edges, period ``i`` is
    ``[bounds[i], bounds[i + 1])``. One grouped statement for all of them, never one per period.

    :return: one ``{owner_id: count}`` per period (``len(bounds) - 1`` of them), in order.
    """


@hookspec
def funnel_client_visits_by_period(bounds: list[datetime], owner_ids: list[int] | None
                                   ) -> list[dict[int, dict[str, int]]]:
    """What ``funnel_client_visits`` answers, for each of consecutive periods at once (the five
    numbers' trend); ``bounds`` as in ``funnel_lead_counts_by_period``, one grouped statement.

    :return: one ``{owner_id: {"first": n, "follow_up": m}}`` per period, in order.
    """


@hookspec
def funnel_fulfilment(start: datetime, end: datetime,
                      owner_ids: list[int] | None) -> dict[int, dict[str, Decimal]]:
    """Issued or paid invoices in ``[start, end)`` per owner, for plan fulfilment.

    :return: ``{owner_id: {"volume": Decimal, "margin": Decimal}}``.
    """
