"""The funnel drawn as server-rendered SVG: no script, each stage a link to its deals."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from markupsafe import Markup, escape

WIDTH, LABEL_W, BAR_H, GAP = 760, 250, 34, 6
LABEL_CHARS = 32  # what fits in LABEL_W at 13px; the full label stays in the bar's <title>


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1].rstrip() + "…"


def funnel_svg(bars: Sequence[tuple[str, float, str, str, bool]], title: str,
               href: Callable[[int], str] | None = None) -> Markup:
    """``bars``: (label, value, value text, stage key, flagged). Widths are proportional to the
    value; a flagged bar (wider than the one before) is drawn in the warning colour."""
    top = max((b[1] for b in bars), default=0) or 1
    area = WIDTH - LABEL_W - 10
    height = len(bars) * (BAR_H + GAP) + GAP
    parts: list[str] = [
        f'<svg class="funnel-chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, (label, value, text, _key, flagged) in enumerate(bars):
        y = GAP + i * (BAR_H + GAP)
        w = max(2.0, area * float(value) / float(top)) if value else 2.0
        x = LABEL_W + (area - w) / 2
        colour = "#b45309" if flagged else "#2563eb"
        link_open = f'<a href="{escape(href(i))}">' if href else ""
        link_close = "</a>" if href else ""
        parts.append(
            f'{link_open}<g class="stage{" flagged" if flagged else ""}">'
            f'<title>{escape(label)}: {escape(text)}</title>'
            f'<text x="{LABEL_W - 8}" y="{y + BAR_H / 2 + 5}" text-anchor="end" '
            f'font-size="13" fill="#1d2430">{escape(_short(label))}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR_H}" rx="4" '
            f'fill="{colour}"/>'
            f'<text x="{LABEL_W + area / 2}" y="{y + BAR_H / 2 + 5}" text-anchor="middle" '
            f'font-size="13" fill="{"#fff" if w > 90 else "#1d2430"}">{escape(text)}</text>'
            f'</g>{link_close}')
    parts.append("</svg>")
    return Markup("".join(parts))


def bars_for(rows: Sequence[Any], measure: str, flagged: set[int], label: Callable[[Any], str],
             text: Callable[[Any], str]) -> list[tuple[str, float, str, str, bool]]:
    return [(label(r), float(getattr(r, measure)), text(r), str(r.stage.id),
             r.stage.id in flagged) for r in rows]
