"""Bad input to the exchange rates — the API, the admin screen's two forms and
``conveyor rates import`` — is a 4xx (or a failed command) that names the field or the line,
never a 500 or a traceback, and stores no rate at all."""
from __future__ import annotations

import io
import re
from datetime import date, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import func, select

from conveyor.cli import rates_cli
from conveyor.extensions import db
from conveyor.models import ExchangeRate

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
GOOD = {"currency": "EUR", "date": "2026-12-01", "rate": "1.10"}
# More than a year ahead of today (whenever the tests run): refused by one check everywhere.
FAR = (date.today() + timedelta(days=400)).isoformat()
NEAR = (date.today() + timedelta(days=300)).isoformat()


def stored(app: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ExchangeRate))


@pytest.mark.parametrize(("change", "field"), [
    ({"currency": "ZZZ"}, "currency"), ({"currency": "E1R"}, "currency"),
    ({"currency": "<b>"}, "currency"), ({"currency": "USD"}, "currency"),  # the company's own
    ({"currency": "EU"}, "currency"), ({"currency": 12}, "currency"), ({"currency": None},
                                                                        "currency"),
    ({"currency": "€€€"}, "currency"), ({"rate": "0"}, "rate"), ({"rate": "-1"}, "rate"),
    ({"rate": "1e30"}, "rate"), ({"rate": "NaN"}, "rate"), ({"rate": "Infinity"}, "rate"),
    ({"rate": "lots"}, "rate"), ({"rate": "9" * 5000}, "rate"), ({"rate": []}, "rate"),
    ({"date": "2026-02-30"}, "date"), ({"date": "9999-12-31"}, "date"),
    ({"date": "0001-01-01"}, "date"), ({"date": FAR}, "date"), ({"date": "2999-12-31"}, "date"),
    ({"date": 20261201}, "date"), ({"date": ""}, "date"),
    ({"currency": "x" * 100_000}, "currency"), ({"extra": "<script>"}, "extra"),
])
def test_the_api_names_the_field_and_stores_nothing(app: Any, api_headers: Any,
                                                      change: dict[str, Any], field: str) -> None:
    response = app.test_client().post("/api/v1/exchange-rates", json={**GOOD, **change},
                                      headers=api_headers("admin"))
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]["json"]
    assert stored(app) == 0


@pytest.mark.parametrize(("raw", "content_type"), [
    ("{bad", "application/json"), ("[]", "application/json"), ("null", "application/json"),
    ("currency=EUR&rate=1", "application/x-www-form-urlencoded"), ("EUR 1", "text/plain")])
def test_the_api_refuses_what_is_not_a_json_object(app: Any, api_headers: Any, raw: str,
                                                    content_type: str) -> None:
    response = app.test_client().post("/api/v1/exchange-rates", data=raw,
                                      content_type=content_type, headers=api_headers("admin"))
    assert response.status_code in (400, 415, 422) and response.is_json
    assert stored(app) == 0


@pytest.mark.parametrize("who", ["manager", "seller", "lawyer", "assistant"])
def test_only_the_rates_permission_writes(app: Any, api_headers: Any, login_as: Any,
                                          who: str) -> None:
    assert app.test_client().post("/api/v1/exchange-rates", json=GOOD,
                                  headers=api_headers(who)).status_code == 403
    client = login_as(who)
    assert client.post("/admin/rates/", data={"currency": "EUR", "day": "2026-12-01",
                                              "rate": "1"}).status_code == 403
    assert stored(app) == 0


def post(client: Any, url: str, data: dict[str, Any], **kwargs: Any) -> Any:
    token = CSRF.search(client.get("/").get_data(as_text=True)).group(1)
    return client.post(url, data={"csrf_token": token, **data}, **kwargs)


@pytest.mark.parametrize(("form", "message"), [
    ({"currency": "ZZZ", "day": "2026-12-01", "rate": "1"}, "Not a valid choice"),
    ({"currency": "EUR", "day": "2026-12-01", "rate": "0"}, "positive number"),
    ({"currency": "EUR", "day": "2026-12-01", "rate": "1e400"}, ""),
    ({"currency": "EUR", "day": "2026-12-01", "rate": "<script>alert(1)</script>"}, ""),
    ({"currency": "EUR", "day": "9999-12-31", "rate": "1"}, "Use a date between"),
    ({"currency": "EUR", "day": "yesterday", "rate": "1"}, ""),
    ({"currency": "EUR", "day": FAR, "rate": "1"}, "at most a year ahead"),
    ({"currency": "EUR", "day": "", "rate": ""}, ""),
])
def test_the_rate_form_shows_field_errors(app: Any, login_as: Any, form: dict[str, str],
                                          message: str) -> None:
    response = post(login_as("admin"), "/admin/rates/", form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "field-error" in page
    assert message in page and "<script>alert(1)</script>" not in page
    assert stored(app) == 0


BAD_TABLES = {
    "no header the sniffer can read": ("a" * 3000, "no date column"),
    "a header and no rows": ("date,currency,rate\n", "no rates"),
    "a short row": ("date,currency,rate\n2026-12-01,EUR\n", "line 2"),
    "a NUL byte": ("date,currency,rate\n2026-12-01,EUR,1\x00\n", "line 2"),
    "a field past the csv limit": ("date,currency,rate\n2026-12-01,EUR," + "1" * 200_000,
                                   "line 2"),
    "an impossible day": ("date,currency,rate\n2026-12-01,EUR,1\n2026-02-30,GBP,1\n", "line 3"),
    "a far day": ("date,currency,rate\n2026-12-01,EUR,1\n9999-12-31,GBP,1\n", "line 3"),
    "a day over a year ahead": (f"date,currency,rate\n2026-12-01,EUR,1\n{FAR},GBP,1\n",
                                "line 3: a rate can be entered at most a year ahead"),
    "an unknown currency": ("date,currency,rate\n2026-12-01,EUR,1\n2026-12-01,ZZZ,1\n",
                            "line 3: ZZZ is not an ISO 4217"),
    "the company currency": ("date,currency,rate\n2026-12-01,EUR,1\n2026-12-01,USD,1\n",
                             "line 3"),
    "a zero rate": ("date,currency,rate\n2026-12-01,EUR,1\n\n2026-12-01,GBP,0\n", "line 4"),
    "a zero nominal": ("date,currency,rate,nominal\n2026-12-01,EUR,1,0\n", "line 2"),
    "an infinite nominal": ("date,currency,rate,nominal\n2026-12-01,EUR,1,Infinity\n",
                            "line 2"),
    "HTML in a cell": ("date,currency,rate\n<script>alert(1)</script>,EUR,1\n", "line 2"),
}


@pytest.mark.parametrize("case", sorted(BAD_TABLES))
def test_a_bad_table_is_refused_whole_by_the_command(app: Any, tmp_path: Any, case: str) -> None:
    text, message = BAD_TABLES[case]
    path = tmp_path / "rates.csv"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(rates_cli, ["import", str(path)],
                                obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 1, result.output  # a ClickException, not a traceback
    assert "nothing imported" in result.output and message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert stored(app) == 0


@pytest.mark.parametrize("case", sorted(BAD_TABLES))
def test_a_bad_table_is_refused_whole_on_the_screen(app: Any, login_as: Any, case: str) -> None:
    text, message = BAD_TABLES[case]
    response = post(login_as("admin"), "/admin/rates/import",
                    {"file": (io.BytesIO(text.encode()), "rates.csv")},
                    content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Nothing was imported" in page
    assert message.split(":")[0] in page and "<script>alert(1)</script>" not in page
    assert stored(app) == 0


@pytest.mark.parametrize("raw", [b"\xff\xfe\x00\x01", b"", b"date,currency,rate\r\n" * 3])
def test_a_file_that_is_not_a_table_is_a_field_error(app: Any, login_as: Any,
                                                     raw: bytes) -> None:
    response = post(login_as("admin"), "/admin/rates/import",
                    {"file": (io.BytesIO(raw), "rates.csv")}, content_type="multipart/form-data")
    assert response.status_code == 400 and "field-error" in response.get_data(as_text=True)
    assert stored(app) == 0


def test_a_rate_within_a_year_ahead_is_taken_everywhere(app: Any, api_headers: Any,
                                                        login_as: Any) -> None:
    """The bound refuses far-future days only: next year's published rate still goes in."""
    response = app.test_client().post("/api/v1/exchange-rates", json={**GOOD, "date": NEAR},
                                      headers=api_headers("admin"))
    assert response.status_code == 201, response.get_json()
    browser = login_as("admin")
    assert post(browser, "/admin/rates/", {"currency": "GBP", "day": NEAR, "rate": "1.3"}
                ).status_code == 302
    assert post(browser, "/admin/rates/import", {"file": (io.BytesIO(
        f"date,currency,rate\n{NEAR},CNY,0.14\n".encode()), "rates.csv")},
        content_type="multipart/form-data").status_code == 302
    assert stored(app) == 3
