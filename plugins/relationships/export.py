"""The reports page as a CSV download: the same figures, exact amounts, one table after another.

Amounts are in the company currency, exact (not compact); a currency whose deals could not be
converted for lack of a rate is named in the row instead of being counted as 0.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from flask import Response

from conveyor.csv_export import csv_response
from conveyor.i18n import _

from .models import TYPES, type_labels
from .reports import SellerRow
from .won import WonByType


def _missing(total: Any) -> str:
    return ", ".join(total.missing)


def report_rows(start: date, end: date, by_type: list[SellerRow], won: WonByType,
                moves: list[SellerRow]) -> Iterator[list[Any]]:
    """Rows of the three sections; each starts with a title row and a header row."""
    labels = type_labels()
    unassigned = _("Unassigned")
    yield [_("Customers by type and seller")]
    yield [_("Seller"), *[str(labels[t]) for t in TYPES], _("Total")]
    for row in by_type:
        yield [row.label or unassigned, *[row.counts.get(t, 0) for t in TYPES], row.total]
    yield []
    yield [_("Won deals by relationship type, %(start)s – %(end)s",
             start=start.isoformat(), end=end.isoformat())]
    yield [_("Relationship type"), _("Won deals"), _("Amount (%(currency)s)",
                                                      currency=won.currency),
           _("No exchange rate for")]
    for t in TYPES:
        total = won.totals[t]
        yield [str(labels[t]), won.counts[t], total.amount, _missing(total)]
    if won.total is not None:
        yield [_("Total"), won.count, won.total.amount, _missing(won.total)]
    yield []
    yield [_("Moves up and down the ladder, %(start)s – %(end)s",
             start=start.isoformat(), end=end.isoformat())]
    yield [_("Seller"), _("Up"), _("Down")]
    for row in moves:
        yield [row.label or unassigned, row.up, row.down]


def report_csv(start: date, end: date, by_type: list[SellerRow], won: WonByType,
               moves: list[SellerRow]) -> Response:
    rows = list(report_rows(start, end, by_type, won, moves))
    return csv_response(f"relationships-{start.isoformat()}-{end.isoformat()}", rows[0],
                        rows[1:])
