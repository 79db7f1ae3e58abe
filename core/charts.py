"""One way to draw a chart: bars, progress bars and sparklines as server-rendered SVG.

No JavaScript and no library: each function returns markup a template prints as it is. Labels
and values are HTML text beside the drawing (so they wrap, follow the page's font and stay
readable from 1366 px down to a 390 px phone); the drawing itself only holds shapes, each SVG
with ``role="img"`` and a ``<title>`` naming what it shows. Every label is escaped here. Colours
are SVG attributes, so charts print. The caller formats the values (Babel filters in templates)
and shows the same figures in a table next to the chart; with nothing to draw a chart is an
"empty" sentence, never an empty drawing.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape

from .i18n import _

TONES = {"accent": "#2563eb", "warn": "#b45309", "won": "#15803d", "lost": "#b91c1c",
         "muted": "#9ca3af", "light": "#93c5fd", "track": "#e5e7eb"}
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
Number = int | float | Decimal


def tone(name: str | None, default: str = "accent") -> str:
    """A named tone (``accent``, ``warn``, ``won``, ``lost``, ``muted``) or a ``#rrggbb``."""
    if name and _HEX.match(name):
        return name
    return TONES.get(name or default, TONES[default])


@dataclass(frozen=True)
class ChartRow:
    """One row of a bar chart: a label, one value per series and the values as shown."""

    label: str
    values: Sequence[Number] | Number
    texts: Sequence[str] | str
    href: str | None = None
    key: str = ""
    tone: str | None = None  # this row's colour instead of its series' (a flagged stage)

    @property
    def numbers(self) -> list[float]:
        raw = self.values if isinstance(self.values, (list, tuple)) else [self.values]
        return [max(0.0, float(v or 0)) for v in raw]  # type: ignore[union-attr]

    @property
    def shown(self) -> list[str]:
        return [str(t) for t in (self.texts if isinstance(self.texts, (list, tuple))
                                 else [self.texts])]


@dataclass(frozen=True)
class ChartProgress:
    """One progress bar: what is done against a goal (``goal`` empty: no bar, ``note`` says
    why), ``text`` the figure as shown (a percentage)."""

    label: str
    done: Number
    goal: Number | None
    text: str
    note: str = ""
    key: str = ""
    detail: str = ""  # e.g. "signed of target", shown under the label


@dataclass(frozen=True)
class ChartSeries:
    """One kind of bar in a chart with several per row (won and lost): its name in the legend
    and its tone."""

    name: str
    tone: str = "accent"


def _attrs(chart_id: str | None, classes: str) -> str:
    return (f' id="{escape(chart_id)}"' if chart_id else "") + f' class="{classes}"'


def _empty(chart_id: str | None, text: str | None) -> Markup:
    message = text or _("Nothing to chart for this selection.")
    return Markup(f'<p{_attrs(chart_id, "chart-empty muted")}>{escape(message)}</p>')


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def bar_chart(rows: Sequence[ChartRow], title: str, *, series: Sequence[ChartSeries] = (),
              centered: bool = False, chart_id: str | None = None,
              empty: str | None = None) -> Markup:
    """Horizontal bars, one row per item and one bar per series in it, lengths proportional to
    the largest value of the chart. ``centered``: bars centred on one axis (a funnel)."""
    top = max((v for r in rows for v in r.numbers), default=0.0)
    if not rows or top <= 0:
        return _empty(chart_id, empty)
    kinds = list(series) or [ChartSeries("")]
    bar_h, gap = 12, 3
    height = len(kinds) * bar_h + (len(kinds) - 1) * gap
    out = [f'<figure{_attrs(chart_id, "chart chart-bars" + (" centered" if centered else ""))}>'
           f'<figcaption class="chart-title">{escape(title)}</figcaption>']
    if len(kinds) > 1:
        out.append('<ul class="chart-legend">')
        for s in kinds:
            out.append(f'<li><svg aria-hidden="true" width="12" height="12" viewBox="0 0 12 12">'
                       f'<rect width="12" height="12" rx="2" fill="{tone(s.tone)}"/></svg> '
                       f'{escape(s.name)}</li>')
        out.append("</ul>")
    out.append('<ol class="chart-rows">')
    for row in rows:
        numbers, shown = row.numbers, row.shown
        spoken = ", ".join(f"{s.name} {t}" if s.name else t for s, t in zip(kinds, shown))
        label = escape(row.label)
        if row.href:
            label = Markup(f'<a href="{escape(row.href)}">{label}</a>')
        out.append(f'<li class="chart-row" data-key="{escape(row.key)}" '
                   f'data-values="{";".join(_num(v) for v in numbers)}">'
                   f'<span class="chart-label">{label}</span>'
                   f'<svg class="chart-bar" role="img" viewBox="0 0 100 {height}" '
                   f'preserveAspectRatio="none" width="100%" height="{height}">'
                   f'<title>{escape(row.label)}: {escape(spoken)}</title>')
        for i, (s, value) in enumerate(zip(kinds, numbers)):
            width = 100 * value / top
            if value and width < 0.6:
                width = 0.6  # a non-zero value stays visible
            x = (100 - width) / 2 if centered else 0
            colour = tone(row.tone or s.tone)
            out.append(f'<rect x="{x:.2f}" y="{i * (bar_h + gap)}" width="{width:.2f}" '
                       f'height="{bar_h}" fill="{colour}"/>')
        values = "".join(
            '<span class="chart-figure">'
            + (f'<svg aria-hidden="true" width="8" height="8" viewBox="0 0 8 8"><rect width="8" '
               f'height="8" fill="{tone(s.tone)}"/></svg> ' if len(kinds) > 1 else "")
            + f'{escape(t)}</span>' for s, t in zip(kinds, shown))
        out.append(f'</svg><span class="chart-value">{values}</span></li>')
    out.append("</ol></figure>")
    return Markup("".join(out))


def progress_chart(items: Sequence[ChartProgress], title: str, *, chart_id: str | None = None,
                   empty: str | None = None) -> Markup:
    """Progress towards a goal: a grey track (the goal), the part done over it (green once the
    goal is reached), a mark at 100 % when the done part runs past it (drawn up to twice)."""
    if not items:
        return _empty(chart_id, empty)
    out = [f'<figure{_attrs(chart_id, "chart chart-progress")}>'
           f'<figcaption class="chart-title">{escape(title)}</figcaption><ol class="chart-rows">']
    for item in items:
        detail = (f'<small class="muted chart-detail">{escape(item.detail)}</small>'
                  if item.detail else "")
        goal = float(item.goal or 0)
        ratio = float(item.done or 0) / goal if goal > 0 else None
        out.append(f'<li class="chart-row" data-key="{escape(item.key)}" '
                   f'data-ratio="{"" if ratio is None else f"{ratio:.4f}"}">'
                   f'<span class="chart-label">{escape(item.label)}{detail}</span>')
        if ratio is None:
            out.append(f'<span class="chart-none muted">{escape(item.note or item.text)}</span>'
                       f'<span class="chart-value"></span></li>')
            continue
        scale = max(1.0, min(max(ratio, 0.0), 2.0))
        done = 100 * min(max(ratio, 0.0), scale) / scale
        mark = 100 / scale
        colour = tone("won" if ratio >= 1 else "accent")
        out.append(f'<svg class="chart-bar" role="img" viewBox="0 0 100 14" '
                   f'preserveAspectRatio="none" width="100%" height="14">'
                   f'<title>{escape(item.label)}: {escape(item.text)}</title>'
                   f'<rect x="0" y="0" width="100" height="14" fill="{TONES["track"]}"/>'
                   f'<rect class="done" x="0" y="0" width="{done:.2f}" height="14" '
                   f'fill="{colour}"/>')
        if scale > 1:
            out.append(f'<rect x="{mark - 0.4:.2f}" y="0" width="0.8" height="14" '
                       f'fill="#1d2430"/>')
        note = f'<small class="warn">{escape(item.note)}</small>' if item.note else ""
        out.append(f'</svg><span class="chart-value"><span class="chart-figure">'
                   f'{escape(item.text)}</span>{note}</span></li>')
    out.append("</ol></figure>")
    return Markup("".join(out))


@dataclass(frozen=True)
class SparkPoint:
    """One period of a sparkline: its name, its value and the value as shown."""

    label: str
    value: Number
    text: str


def sparkline(points: Sequence[SparkPoint], title: str, *,
              chart_id: str | None = None, empty: str | None = None) -> Markup:
    """A small column chart of one figure over consecutive periods, the last one (the
    selected period) darker; its title reads every period's value."""
    values = [max(0.0, float(p.value or 0)) for p in points]
    if not points:
        return _empty(chart_id, empty)
    top = max(values) or 1.0
    step, h = 10, 30
    width = len(points) * step
    spoken = ", ".join(f"{p.label}: {p.text}" for p in points)
    out = [f'<svg{_attrs(chart_id, "chart-spark")} role="img" viewBox="0 0 {width} {h + 2}" '
           f'width="{width}" height="{h + 2}" '
           f'data-values="{";".join(_num(v) for v in values)}">'
           f'<title>{escape(title)} — {escape(spoken)}</title>'
           f'<rect x="0" y="{h + 1}" width="{width}" height="1" fill="{TONES["track"]}"/>']
    for i, value in enumerate(values):
        bar = h * value / top
        if value and bar < 1.5:
            bar = 1.5
        colour = TONES["accent"] if i == len(values) - 1 else TONES["light"]
        out.append(f'<rect x="{i * step + 1}" y="{h + 1 - bar:.2f}" width="{step - 2}" '
                   f'height="{bar:.2f}" fill="{colour}"/>')
    out.append("</svg>")
    return Markup("".join(out))


def register(jinja_env: Any) -> None:
    """Make the chart functions callable from every template."""
    jinja_env.globals.update(bar_chart=bar_chart, progress_chart=progress_chart,
                             sparkline=sparkline, ChartRow=ChartRow,
                             ChartProgress=ChartProgress, SparkPoint=SparkPoint,
                             ChartSeries=ChartSeries)
