"""Dates inside the calendar the app can compute with: 1900-01-01 … 2999-12-31.

``9999-12-31`` is a valid ISO date, but a period ending then needs the day after it, and
``date.max + 1 day`` is an OverflowError — a 500. Every date a client sends is therefore
checked at the door: :func:`install` makes marshmallow's ``Date``/``DateTime`` fields (the API,
core's and plugins') and WTForms' date fields (the pages) refuse a year outside
``MIN_YEAR``–``MAX_YEAR`` with a field message (422 from the API, 400 from a form). Code that
parses a date itself calls :func:`check_day`.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

MIN_YEAR, MAX_YEAR = 1900, 2999


def in_calendar(value: Any) -> bool:
    """Is ``value`` (a date or datetime; anything else passes) within the supported years?"""
    return not isinstance(value, date) or MIN_YEAR <= value.year <= MAX_YEAR


def message() -> str:
    from .i18n import _

    first, last = f"{MIN_YEAR}-01-01", f"{MAX_YEAR}-12-31"
    return _("Use a date between %(first)s and %(last)s.", first=first, last=last)


def check_day(value: date | datetime) -> date | datetime:
    """``value`` if within the calendar, else ValueError with the field message."""
    if not in_calendar(value):
        raise ValueError(message())
    return value


def _bounded_deserialize(original: Any) -> Any:
    def _deserialize(self: Any, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        from marshmallow import ValidationError

        result = original(self, value, attr, data, **kwargs)
        if not in_calendar(result):
            raise ValidationError(message())
        return result

    _deserialize.__conveyor_bounded__ = True  # type: ignore[attr-defined]
    return _deserialize


def _bounded_process_formdata(original: Any) -> Any:
    def process_formdata(self: Any, valuelist: Any) -> None:
        original(self, valuelist)
        if not in_calendar(self.data):
            self.data = None
            raise ValueError(message())

    process_formdata.__conveyor_bounded__ = True  # type: ignore[attr-defined]
    return process_formdata


def install() -> None:
    """Bound every marshmallow and WTForms date field of the process (once)."""
    from marshmallow import fields
    from wtforms.fields import datetime as wtf_dates

    for cls in (fields.Date, fields.DateTime):
        if not getattr(cls._deserialize, "__conveyor_bounded__", False):
            cls._deserialize = _bounded_deserialize(cls._deserialize)  # type: ignore[method-assign]
    for cls in (wtf_dates.DateTimeField, wtf_dates.DateField):
        if not getattr(cls.process_formdata, "__conveyor_bounded__", False):
            cls.process_formdata = _bounded_process_formdata(cls.process_formdata)
