"""``conveyor.csv_export``: the one place CSV cells are made safe for spreadsheets."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from conveyor.csv_export import csv_line, csv_response, safe_cell


@pytest.mark.parametrize("text", [
    "=1+1", "=HYPERLINK(\"http://evil\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
    "\t=1", "\r=1", "\n=1", "-", "+", "=", "+7 495 <b>", "-1+2"])
def test_formula_starts_get_an_apostrophe(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", [
    "Acme", "", "+7 495 123-45-67", "-12.50", "+86 21 5555 0101", "a=b", " =1", 42, -3,
    Decimal("-12.50"), 1.5])
def test_text_numbers_and_phones_stay(value: object) -> None:
    assert safe_cell(value) == value


def test_none_is_empty_and_bools_are_text() -> None:
    assert safe_cell(None) == "" and safe_cell(True) == "True"


def test_lines_and_responses_use_it(app) -> None:
    assert csv_line(["=1", "x,y", None]) == "'=1,\"x,y\",\r\n"
    with app.test_request_context():
        response = csv_response("export", ["Name", "=Header"], [["@x", 1], ["ok", Decimal("2.5")]])
        text = response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="export.csv"'
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [["Name", "'=Header"], ["'@x", "1"], ["ok", "2.5"]]
    assert text.startswith("\ufeff")
