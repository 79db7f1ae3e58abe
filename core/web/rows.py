"""HTML of what a page repeats by the dozen: the deals and customers lists' rows and the board's
columns and cards. Templates call these for the loop and keep everything around it.

Why Python and not a Jinja loop: Jinja spends about a microsecond on each ``{{ … }}`` (an
``escape`` call, an attribute lookup, a generator step). A board of 90 cards had 1,300 of them,
half the page's time; one f-string per row does the same work in about a quarter.

What keeps this as safe as autoescaping: every text value goes through ``escape`` here, ids and
versions are ``int`` (formatted as numbers), amounts are formatted by ``money`` and escaped, URLs
come from :class:`~conveyor.web.url_maker` (escaped once when made). ``tests/test_web_rows.py``
puts markup in every text field of every row kind.

Each row's HTML is a pure function of the row (a named tuple of everything it shows), the
page's language and the URLs' shape, so it is memoized (``lru_cache``, ``ROWS_KEPT`` per kind):
a list or board seen again renders only the rows that changed. A changed deal is a different
row, so nothing needs invalidating; the bench times pages both ways.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from markupsafe import Markup, escape

from . import _date, _money, url_maker

# Rendered rows kept per kind: ~1.1 KB each (the row and its HTML), so 1,024 is ~1 MB a kind and
# ~3.4 MB a worker at most — twenty list pages or a large board seen again. It was 8,192: up to
# ~27 MB a worker once enough different rows had been shown (a per-record cache that grows).
ROWS_KEPT = 1024


def _owner(row: Any) -> str:
    return row.owner_display or row.owner_username or ""


def deal_list_rows(rows: Iterable[Any], card_url: url_maker, labels: Mapping[int, str],
                   kinds: Mapping[int, str], locale: str, today: date | None = None,
                   past_due: str = "") -> Markup:
    """The deals list's ``<tr>``: title (a link to the card), customer, stage, amount, expected
    close, owner. ``labels``/``kinds``: each stage's label and its tag class ("won", "lost").
    An open deal's expected close before ``today`` is marked past due (``past_due``: its
    tooltip)."""
    head, tail = card_url.head, card_url.tail
    return Markup("".join(_deal_row(d, head, tail, labels[d.stage_id], kinds[d.stage_id], locale,
                                    today, past_due) for d in rows))


@lru_cache(maxsize=ROWS_KEPT)
def _deal_row(d: Any, head: str, tail: str, label: str, kind: str, locale: str,
              today: date | None, past_due: str) -> str:
    close = escape(_date(d.expected_close, locale))
    if today is not None and d.expected_close and not kind and d.expected_close < today:
        close = f'<span class="due overdue" title="{escape(past_due)}">{close}</span>'
    return (f'<tr><td><a href="{head}{int(d.id)}{tail}">{escape(d.title)}</a></td>'
            f"<td>{escape(d.customer_name)}</td>"
            f'<td><span class="tag {escape(kind)}">{escape(label)}</span></td>'
            f'<td class="num">{escape(_money(d.amount, d.currency, locale))}</td>'
            f"<td>{close}</td><td>{escape(_owner(d))}</td>"
            "</tr>\n")


def customer_list_rows(rows: Iterable[Any], card_url: url_maker) -> Markup:
    """The customers list's ``<tr>``: name (a link to the card), industry, region, size,
    owner."""
    head, tail = card_url.head, card_url.tail
    return Markup("".join(_customer_row(c, head, tail) for c in rows))


@lru_cache(maxsize=ROWS_KEPT)
def _customer_row(c: Any, head: str, tail: str) -> str:
    return (f'<tr><td><a href="{head}{int(c.id)}{tail}">{escape(c.name)}</a></td>'
            f"<td>{escape(c.industry or '')}</td><td>{escape(c.region or '')}</td>"
            f"<td>{escape(c.size or '')}</td><td>{escape(_owner(c))}</td></tr>\n")


def board_columns(columns: Iterable[Any], card_url: url_maker, move_url: url_maker, token: str,
                  back: str, locale: str, owners: bool, texts: Mapping[str, str],
                  today: date, new_url: url_maker | None = None) -> Markup:
    """The board's open columns (``deals.BoardColumn``): label, count and sums, the cards, "no
    deals" (``texts["empty"]``) and a link to the stage's full list (``texts["more"]``) when
    the column can't show them all; with ``new_url``, a "+" (``texts["new"]``) to start a deal
    in that stage.

    A card shows its title (a link to the card), customer, amount, owner (unless ``owners``
    is false: a board of one's own deals) and expected close, marked past due (``today``,
    ``texts["past_due"]``) while the deal is open. The cards sit in a ``.cards`` list (what
    ``board.js`` drags between columns), inside one form per column when the column has a next
    step: the form carries the CSRF token (``token``), the target stage and where to come back
    (``back``); each card's button adds the deal's address and ``version`` (a card moved
    meanwhile is refused, not overwritten). The list names the step (``data-step-*``) so a
    card dragged in takes the column's button along."""
    head, tail = card_url.head, card_url.tail
    hidden = (f'<input type="hidden" name="csrf_token" value="{escape(token)}">'
              f'<input type="hidden" name="next" value="{escape(back)}">')
    past_due = texts["past_due"]
    out = []
    for col in columns:
        move = step = None
        if col.step is not None:
            move = (move_url.head, move_url.tail,
                    f'title="{escape(col.step_title)}">→ {escape(col.step_text)}</button>')
            step = (f' data-step-title="{escape(col.step_title)}" '
                    f'data-step-text="→ {escape(col.step_text)}"')
        sid = int(col.stage.id)
        cards = (f'<div class="cards"{step or ""}>\n'
                 + "".join(_card(d, head, tail, locale, move, owners, today, past_due)
                           for d in col.cards) + "</div>\n")
        if move is not None:
            cards = (f'<form method="post" class="move">{hidden}<input type="hidden" '
                     f'name="stage_id" value="{int(col.step.id)}">\n{cards}</form>\n')
        sums = "".join(f'<br><span class="sum">{escape(s)}</span>' for s in col.sums)
        add = (f'<a class="add" href="{new_url(sid)}" title="{escape(texts["new"])}" '
               f'aria-label="{escape(texts["new"])}">+</a>' if new_url is not None else "")
        out.append(
            f'<section class="column" data-stage="{sid}" data-kind="open">\n'
            f"<h2><span>{escape(col.label)}</span>{add}</h2>\n"
            f'<p class="small totals"><strong class="count">{escape(col.count)}</strong>'
            f"{sums}</p>\n{cards}"
            f'<p class="muted small empty"{" hidden" if col.cards else ""}>'
            f'{escape(texts["empty"])}</p>\n'
            + (f'<p class="small"><a href="{escape(col.more_url)}">{escape(texts["more"])} →'
               "</a></p>\n" if col.more_url else "")
            + "</section>\n")
    return Markup("".join(out))


@lru_cache(maxsize=ROWS_KEPT)
def _card(d: Any, head: str, tail: str, locale: str, move: tuple[str, str, str] | None,
          owners: bool, today: date, past_due: str) -> str:
    owner = f' · <span class="muted">{escape(_owner(d))}</span>' if owners and d.owner_id else ""
    button = (f'<button formaction="{move[0]}{int(d.id)}{move[1]}" name="version" '
              f'value="{int(d.version)}" {move[2]}' if move is not None else "")
    due = ""
    if d.expected_close:
        late = d.expected_close < today
        due = (f'<br><span class="due{" overdue" if late else ""}"'
               + (f' title="{escape(past_due)}"' if late else "")
               + f">{escape(_date(d.expected_close, locale))}</span>")
    return (f'<article class="card" data-deal="{int(d.id)}" data-version="{int(d.version)}">'
            f'<a href="{head}{int(d.id)}{tail}">{escape(d.title)}</a><br>'
            f'<span class="muted">{escape(d.customer_name)}</span><br>'
            f"{escape(_money(d.amount, d.currency, locale))}{owner}{due}{button}</article>\n")


def forget_rows() -> None:
    """Drop the kept rows (the bench uses it to time rendering from scratch)."""
    for kept in (_deal_row, _customer_row, _card):
        kept.cache_clear()
