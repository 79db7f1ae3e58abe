"""HTML of the rows a page repeats by the dozen: the deals and customers lists' rows and the
board's cards. Templates call these for the loop and keep everything around it.

Why Python and not a Jinja loop: Jinja spends about a microsecond on each ``{{ … }}`` (an
``escape`` call, an attribute lookup, a generator step). A board of 90 cards had 1,300 of them,
half the page's time; one f-string per row does the same work in about a quarter.

What keeps this as safe as autoescaping: every text value goes through ``escape`` here, ids and
versions are ``int`` (formatted as numbers), amounts are formatted by ``money`` and escaped, URLs
come from :class:`~conveyor.web.url_maker` (escaped once when made). ``tests/test_web_rows.py``
puts markup in every text field of every row kind.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from markupsafe import Markup, escape

from . import _date, _money, url_maker


def _owner(row: Any) -> str:
    return row.owner_display or row.owner_username or ""


def deal_list_rows(rows: Iterable[Any], card_url: url_maker, labels: Mapping[int, str],
              kinds: Mapping[int, str], locale: str) -> Markup:
    """The deals list's ``<tr>``: title (a link to the card), customer, stage, amount, expected
    close, owner. ``labels``/``kinds``: each stage's label and its tag class ("won", "lost")."""
    return Markup("".join(
        f'<tr><td><a href="{card_url(d.id)}">{escape(d.title)}</a></td>'
        f"<td>{escape(d.customer_name)}</td>"
        f'<td><span class="tag {escape(kinds[d.stage_id])}">{escape(labels[d.stage_id])}'
        f'</span></td><td class="num">{escape(_money(d.amount, d.currency, locale))}</td>'
        f"<td>{escape(_date(d.expected_close, locale))}</td><td>{escape(_owner(d))}</td></tr>\n"
        for d in rows))


def customer_list_rows(rows: Iterable[Any], card_url: url_maker) -> Markup:
    """The customers list's ``<tr>``: name (a link to the card), industry, region, size,
    owner."""
    return Markup("".join(
        f'<tr><td><a href="{card_url(c.id)}">{escape(c.name)}</a></td>'
        f"<td>{escape(c.industry or '')}</td><td>{escape(c.region or '')}</td>"
        f"<td>{escape(c.size or '')}</td><td>{escape(_owner(c))}</td></tr>\n"
        for c in rows))


def board_cards(rows: Iterable[Any], card_url: url_maker, locale: str,
                move_url: url_maker | None = None, move_title: str = "",
                move_text: str = "", owners: bool = True) -> Markup:
    """A board column's cards: title (a link to the card), customer, amount, owner (unless
    ``owners`` is false: a board of one's own deals), and with
    ``move_url`` a button that moves the deal one step. The button belongs to the column's
    form, which carries the CSRF token, the target stage and where to come back; the button
    adds the deal's address and ``version`` (a card moved meanwhile is refused, not
    overwritten)."""
    head, tail = card_url.head, card_url.tail
    move_head, move_tail = (move_url.head, move_url.tail) if move_url is not None else ("", "")
    button = f'title="{escape(move_title)}">→ {escape(move_text)}</button>'
    return Markup("".join(
        f'<article class="card" data-deal="{int(d.id)}"><a href="{head}{int(d.id)}{tail}">'
        f'{escape(d.title)}</a><br><span class="muted">{escape(d.customer_name)}</span><br>'
        f"{escape(_money(d.amount, d.currency, locale))}"
        + (f' · <span class="muted">{escape(_owner(d))}</span>' if owners and d.owner_id else "")
        + (f'<button formaction="{move_head}{int(d.id)}{move_tail}" name="version" '
           f'value="{int(d.version)}" {button}' if move_url is not None else "")
        + "</article>\n"
        for d in rows))
