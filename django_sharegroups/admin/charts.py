"""Small server-side SVG charts for the dashboards: no JavaScript, readable without it.

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that says in words
what it shows; the pages print the same numbers in a table next to it. The geometry (where a
point or bar lands) is computed by plain methods, so it can be tested without parsing SVG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import count

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

#: Series colours that stay apart for common colour blindness (Okabe–Ito).
PALETTE = ("#009E73", "#E69F00", "#D55E00", "#56B4E9", "#CC79A7", "#0072B2", "#999999")
#: Room for the axis labels around the plot, in SVG units.
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28

_ids = count(1)


def nice_ceiling(value: float) -> float:
    """The y axis' top: ``value`` rounded up to 1, 2, 2.5 or 5 × a power of ten (1 for 0)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    return f"{value:g}" if value < 1e6 else f"{value:.3g}"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    color: str = ""


@dataclass
class Chart:
    """What both chart kinds share: size, title, description and the y scale."""

    title: str
    width: int = 640
    height: int = 200
    description: str = ""
    chart_id: str = field(default_factory=lambda: f"sharegroups-chart-{next(_ids)}")

    @property
    def plot_width(self) -> float:
        return self.width - LEFT - RIGHT

    @property
    def plot_height(self) -> float:
        return self.height - TOP - BOTTOM

    def y_max(self) -> float:
        raise NotImplementedError

    def y(self, value: float) -> float:
        """The SVG y of ``value`` (SVG's y grows downwards)."""
        return round(TOP + self.plot_height * (1 - value / self.y_max()), 2)

    def _frame(self, body: SafeString, legend: SafeString | None = None) -> SafeString:
        top = self.y_max()
        grid = format_html_join(
            "",
            '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#ccc" stroke-width="0.5"/>'
            '<text x="{}" y="{}" text-anchor="end" font-size="10" fill="currentColor">{}</text>',
            (
                (LEFT, self.width - RIGHT, y, y, LEFT - 4, y + 3, _number(value))
                for value in (0, top / 2, top)
                for y in (self.y(value),)
            ),
        )
        return format_html(
            '<figure class="sharegroups-chart">'
            '<svg id="{id}" role="img" aria-labelledby="{id}-title {id}-desc" '
            'viewBox="0 0 {w} {h}" width="100%" style="max-width:{w}px" '
            'xmlns="http://www.w3.org/2000/svg">'
            '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
            "{grid}{body}</svg>{legend}</figure>",
            id=self.chart_id,
            w=self.width,
            h=self.height,
            title=self.title,
            desc=self.description,
            grid=grid,
            body=body,
            legend=legend or "",
        )


@dataclass
class LineChart(Chart):
    """Several series over the same x labels (e.g. minutes), one polyline each."""

    labels: Sequence[str] = ()
    series: Sequence[Series] = ()

    def y_max(self) -> float:
        return nice_ceiling(max((v for s in self.series for v in s.values), default=0))

    def x(self, index: int) -> float:
        slots = max(len(self.labels) - 1, 1)
        return round(LEFT + self.plot_width * index / slots, 2)

    def points(self, series: Series) -> list[tuple[float, float]]:
        return [(self.x(i), self.y(v)) for i, v in enumerate(series.values)]

    def colors(self) -> list[str]:
        return [s.color or PALETTE[i % len(PALETTE)] for i, s in enumerate(self.series)]

    def render(self) -> SafeString:
        lines = format_html_join(
            "",
            '<polyline fill="none" stroke="{}" stroke-width="2" points="{}">'
            "<title>{}</title></polyline>",
            (
                (color, " ".join(f"{x},{y}" for x, y in self.points(s)), s.name)
                for s, color in zip(self.series, self.colors(), strict=True)
            ),
        )
        ticks = self._x_ticks()
        legend = format_html(
            '<figcaption class="sharegroups-legend">{}</figcaption>',
            format_html_join(
                " ",
                '<span><span class="swatch" style="background:{}"></span>{}: {}</span>',
                (
                    (color, s.name, _number(sum(s.values)))
                    for s, color in zip(self.series, self.colors(), strict=True)
                ),
            ),
        )
        return self._frame(mark_safe(lines + ticks), legend)

    def _x_ticks(self) -> SafeString:
        if not self.labels:
            return format_html(
                '<text x="{}" y="{}" text-anchor="middle" font-size="12" fill="currentColor">'
                "{}</text>",
                LEFT + self.plot_width / 2,
                TOP + self.plot_height / 2,
                gettext("no data"),
            )
        last = len(self.labels) - 1
        picks = sorted({0, len(self.labels) // 2, last})
        anchors = {0: "start", last: "end"} if last else {}
        return format_html_join(
            "",
            '<text x="{}" y="{}" text-anchor="{}" font-size="10" fill="currentColor">{}</text>',
            ((self.x(i), self.height - 8, anchors.get(i, "middle"), self.labels[i]) for i in picks),
        )


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float


@dataclass
class BarChart(Chart):
    """One bar per label (e.g. delivery count → records, partition → lag)."""

    items: Sequence[tuple[str, float]] = ()
    color: str = PALETTE[5]

    def y_max(self) -> float:
        return nice_ceiling(max((value for _, value in self.items), default=0))

    def bars(self) -> list[Bar]:
        if not self.items:
            return []
        slot = self.plot_width / len(self.items)
        width = round(slot * 0.7, 2)
        return [
            Bar(
                label,
                value,
                round(LEFT + slot * i + (slot - width) / 2, 2),
                self.y(value),
                width,
                round(TOP + self.plot_height - self.y(value), 2),
            )
            for i, (label, value) in enumerate(self.items)
        ]

    def render(self) -> SafeString:
        bars = self.bars()
        body = format_html_join(
            "",
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>'
            '<text x="{}" y="{}" text-anchor="middle" font-size="10" fill="currentColor">{}</text>',
            (
                (
                    b.x,
                    b.y,
                    b.width,
                    b.height,
                    self.color,
                    b.label,
                    _number(b.value),
                    round(b.x + b.width / 2, 2),
                    self.height - 8,
                    b.label,
                )
                for b in bars
            ),
        )
        if not bars:
            body = format_html(
                '<text x="{}" y="{}" text-anchor="middle" font-size="12" fill="currentColor">'
                "{}</text>",
                LEFT + self.plot_width / 2,
                TOP + self.plot_height / 2,
                gettext("no data"),
            )
        return self._frame(body)
