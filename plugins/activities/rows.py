"""My day's rows as HTML built in Python and memoized per row: the widget is on every seller's
home and a busy day has dozens of rows, each with its one-click forms. A row's text depends only
on its values, the language and the zone; the CSRF token and the page's address are put in last
(``fill``), so the memo holds for every request. Every value is escaped."""
from __future__ import annotations

from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from markupsafe import Markup, escape

from .zones import aware_utc

CSRF, HERE = "\x00csrf\x00", "\x00here\x00"


# Bounded like the core's per-record memos (2,048): one entry per activity shown, ~2.9 KB a row
# with its date (measured), so 20,000 let a long-lived worker keep ~55 MB of rows seldom shown
# again; 2,048 is ~6 MB
@lru_cache(maxsize=2048)
def short_datetime(locale: str, zone_key: str, due_raw: Any) -> str:
    return format_datetime(aware_utc(due_raw), "short", tzinfo=ZoneInfo(zone_key),
                           locale=locale)


@lru_cache(maxsize=2048)
def row_html(row: tuple[Any, ...], kind_text: str, locale: str, zone_key: str,
             texts: tuple[tuple[str, str], ...]) -> str:
    """One ``<li>``: due time (red when late), kind, title linked to the form, customer and
    deal, and, for a planned one, done / +1 day / next Monday / pick a date. ``row`` is
    :func:`services.my_day`'s tuple."""
    t = dict(texts)
    _part, ident, _kind, title, due_raw, status, visit_kind, customer, deal_title, late = row
    due = escape(short_datetime(locale, zone_key, due_raw))
    parts = [f'<span class="tag lost overdue">{due}</span>' if late else str(due),
             f' <span class="tag">{escape(kind_text)}'
             f'{" · " + str(escape(visit_kind)) if visit_kind else ""}</span> ']
    link = f'<a href="{t["base"]}{ident}/edit">{escape(title)}</a>'
    if status == "planned":
        parts.append(link)
    else:
        parts.append(f'<s>{link}</s> <span class="muted">{escape(t["status_" + status])}</span>')
    for name in (customer, deal_title):
        if name:
            parts.append(f' <span class="muted">· {escape(name)}</span>')
    if status == "planned":
        hidden = (f'<input type="hidden" name="csrf_token" value="{CSRF}">'
                  f'<input type="hidden" name="next" value="{HERE}">')
        parts.append(
            f'<br><span class="activity-actions">'
            f'<form method="post" action="{t["base"]}{ident}/done" class="inline">{hidden}'
            f'<button type="submit" class="small" title="{escape(t["mark_done"])}">✓ '
            f'{escape(t["done"])}</button></form> '
            f'<form method="post" action="{t["base"]}{ident}/reschedule" class="inline">{hidden}'
            f'<button type="submit" name="how" value="tomorrow" class="small" formnovalidate>'
            f'{escape(t["plus_day"])}</button> <button type="submit" name="how" value="monday" '
            f'class="small" formnovalidate>{escape(t["monday"])}</button> <input type="date" '
            f'name="on" required aria-label="{escape(t["pick"])}"> <button type="submit" '
            f'name="how" value="date" class="small">{escape(t["move"])}</button></form></span>')
    css = ' class="overdue"' if late else ""
    return f"<li{css}>{''.join(parts)}</li>"


def rows_html(rows: list[tuple[Any, ...]], *, locale: str, zone_key: str, kind_label: Any,
              texts: tuple[tuple[str, str], ...]) -> str:
    """The rows' ``<li>`` items: each memoized by its values (late included), the language, the
    zone and the page's texts."""
    return "".join(row_html(r, kind_label(r[2]), locale, zone_key, texts) for r in rows)


def fill(html: str, csrf: str, here: str) -> Markup:
    """Put this request's CSRF token and address into memoized rows."""
    return Markup(html.replace(CSRF, str(escape(csrf))).replace(HERE, str(escape(here))))
