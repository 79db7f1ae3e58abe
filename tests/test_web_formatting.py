"""The web layer's shortcuts produce exactly what the slow paths would.

Pages format amounts with a shape worked out once per (locale, currency) instead of Babel's
``format_currency`` per row, build row links with ``url_maker`` instead of ``url_for`` per row,
and look the translation catalog up once per request. Each must agree with the original.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from flask import render_template_string, url_for
from flask_babel import force_locale, format_currency, format_datetime, format_timedelta

from conveyor.web import _datetime, _duration, _money, url_maker

AMOUNTS = [Decimal(v) for v in ("0", "0.5", "-0.004", "7", "-7", "999.995", "1234.5",
                                "1234567.891", "-98765.43", "100000000")]


@pytest.mark.parametrize("locale", ["en", "ru", "zh_Hans", "de", "hi_IN"])
@pytest.mark.parametrize("currency", ["USD", "EUR", "RUB", "CNY", "JPY", "GBP", "KWD"])
def test_money_matches_babels_format_currency(app, locale, currency):
    with app.test_request_context("/"), force_locale(locale):
        for amount in AMOUNTS:
            assert _money(amount, currency) == format_currency(amount, currency), amount


@pytest.mark.parametrize("locale", ["en", "ru", "zh_Hans"])
def test_datetime_and_duration_match_flask_babels(make_app, locale):
    from datetime import UTC, datetime

    app = make_app(config={"default_timezone": "Asia/Vladivostok"}, seed=False)
    moments = [datetime(2026, 1, 1, 0, 0, tzinfo=UTC), datetime(2026, 6, 30, 23, 59, tzinfo=UTC),
               datetime(2025, 12, 31, 14, 30)]  # the last one naive: taken as UTC by both
    with app.test_request_context("/", headers={"Accept-Language": locale}):
        for moment in moments:
            assert _datetime(moment) == format_datetime(moment, "short"), moment
            assert _datetime(moment) == _datetime(moment)  # the memoized answer, again
        assert _datetime(None) == ""
        for spent in (moments[1] - moments[0], moments[0] - moments[0], moments[0] - moments[1]):
            assert _duration(spent) == format_timedelta(spent, granularity="minute",
                                                        threshold=0.9), spent
        if locale == "en":  # the configured zone applies: UTC midnight is 10:00 there
            assert _datetime(moments[0]).startswith("1/1/26, 10:00")


def test_money_of_nothing_is_empty(app):
    with app.test_request_context("/"):
        assert _money(None, "USD") == ""


def test_url_maker_builds_what_url_for_builds(app):
    with app.test_request_context("/"):
        card = url_maker("deals.card", "deal_id")
        assert [card(i) for i in (1, 42, 2147483646)] == [
            url_for("deals.card", deal_id=i) for i in (1, 42, 2147483646)]
        filtered = url_maker("deals.index", "stage", q="a&b")
        assert filtered(5) == url_for("deals.index", stage=5, q="a&b").replace("&", "&amp;")


def test_template_translations_follow_a_forced_locale_within_one_request(app):
    source = "{{ _('Sign out') }}"
    with app.test_request_context("/"):
        english = render_template_string(source)
        with force_locale("ru"):
            russian = render_template_string(source)
        again = render_template_string(source)
    assert english == again == "Sign out"
    assert russian == "Выйти"


def test_number_and_percent_filters_follow_the_page_locale(app):
    from flask import render_template_string

    for locale, number, percent in (("en", "1,234.5", "25.7%"), ("ru", "1 234,5", "25,7 %"),
                                    ("zh_Hans", "1,234.5", "25.7%")):
        with app.test_request_context(f"/?lang={locale}"):
            out = render_template_string("{{ 1234.5|number(1) }}|{{ 0.257|percent(1) }}|"
                                         "{{ none|percent }}")
            got = out.replace("\xa0", " ").replace("\u202f", " ")
            assert got == f"{number}|{percent}|—", (locale, out)
