"""CSV downloads of the tables on every funnel page (Excel-safe: ``conveyor.csv_export``)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response

from conveyor.csv_export import csv_response as safe_csv_response


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return value


def csv_response(name: str, header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Response:
    return safe_csv_response(name, header, ([_cell(v) for v in row] for row in rows))
