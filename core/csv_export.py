"""CSV downloads that spreadsheets open safely: every export goes through these.

A cell a user typed that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
a formula to Excel and LibreOffice (``=HYPERLINK(...)``, ``@SUM(...)``, DDE): it is written with a
leading ``'``, which shows the text as typed. Numbers (int, float, Decimal) and texts that are
only a signed number or a phone number (``-12.5``, ``+7 495 123-45-67``) stay as they are.
Files start with a UTF-8 BOM so Excel reads Cyrillic and Chinese without an import dialog.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from flask import Response, stream_with_context

BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
PHONE_OR_NUMBER = re.compile(r"^[+-][0-9][0-9 ().\-]*$")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell that no spreadsheet runs: None is empty, numbers stay numbers,
    text that would start a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(FORMULA_START) and not PHONE_OR_NUMBER.match(text):
        return "'" + text
    return text


def csv_line(values: Iterable[Any]) -> str:
    """One CSV line (``\\r\\n``-terminated) of safe cells."""
    buf = io.StringIO()
    csv.writer(buf).writerow([safe_cell(v) for v in values])
    return buf.getvalue()


def csv_response(filename: str, header: Sequence[Any], rows: Iterable[Sequence[Any]],
                 stream: bool = False, headers: dict[str, str] | None = None) -> Response:
    """A CSV download: a BOM, the header, then each row, every cell through :func:`safe_cell`.
    ``stream=True`` sends rows as they come (a generator of rows keeps memory flat)."""

    def lines() -> Iterator[str]:
        yield BOM + csv_line(str(h) for h in header)
        for row in rows:
            yield csv_line(row)

    name = filename if filename.endswith(".csv") else filename + ".csv"
    body: Any = stream_with_context(lines()) if stream else "".join(lines())
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"', **(headers or {})})
