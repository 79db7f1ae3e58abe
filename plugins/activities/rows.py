"""My day's rows as HTML built in Python and memoized per row: the widget is on every seller's
home and a busy day has dozens of rows, each with its one-click forms. A row's text depends only
on its values, the language and the zone; the CSRF token and the page's address are put in last
(``fill``), so the memo holds for every request. Every value is escaped."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from babel.dates import format_datetime
from markupsafe import Markup, escape

CSRF, HERE = "\x00csrf\x00", "\x00here\x00"


@lru_cache(maxsize=20_000)
def short_datetime(locale: str, zone: Any, value: Any) -> str:
    return format_datetime(value, "short", tzinfo=zone, locale=locale)


@lru_cache(maxsize=20_000)
def row_html(row: tuple[Any, ...], names: tuple[Any, Any], late: bool, locale: str, zone: Any,
             texts: tuple[tuple[str, str], ...]) -> str:
    """One ``<li>``: due time (red when late), kind, title linked to the form, customer and
    deal, and, for a planned one, done / +1 day / next Monday / pick a date."""
    t = dict(texts)
    ident, kind_text, title, due_at, status, visit_kind = row
    due = escape(short_datetime(locale, zone, due_at))
    parts = [f'<span class="tag lost overdue">{due}</span>' if late else str(due),
             f' <span class="tag">{escape(kind_text)}'
             f'{" · " + str(escape(visit_kind)) if visit_kind else ""}</span> ']
    link = f'<a href="{t["base"]}{ident}/edit">{escape(title)}</a>'
    if status == "planned":
        parts.append(link)
    else:
        parts.append(f'<s>{link}</s> <span class="muted">{escape(t["status_" + status])}</span>')
    for name in names:
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


def rows_html(rows: list[Any], names: dict[int, tuple[Any, Any]], *, now: Any, locale: str,
              zone: Any, kind_label: Any, texts: dict[str, str]) -> str:
    frozen = tuple(sorted(texts.items()))
    return "".join(row_html((r.id, kind_label(r.kind), r.title, r.due_at, r.status,
                             r.visit_kind), names.get(r.id, (None, None)),
                            r.status == "planned" and r.due_at < now, locale, zone, frozen)
                   for r in rows)


def fill(html: str, csrf: str, here: str) -> Markup:
    """Put this request's CSRF token and address into memoized rows."""
    return Markup(html.replace(CSRF, str(escape(csrf))).replace(HERE, str(escape(here))))
