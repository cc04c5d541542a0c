"""Charts drawn on the server as SVG (pure functions; no script, no CDN).

The SVG holds only shapes: bars and lines on a grid, stretched to the width of the page
(``preserveAspectRatio="none"``, lines kept one pixel wide by ``non-scaling-stroke``), its
colours from the stylesheet by class, so it obeys ``default-src 'self'`` (no inline style)
and follows light and dark mode. The axis labels are HTML beside it, readable at any
width. The drawing is hidden from screen readers: every chart comes with a table of the
same numbers, which is what they read. Each day carries a ``<title>`` for a pointer's
tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

#: Width of one day in the drawing's units; the height is 100 units.
STEP = 10
HEIGHT = 100
#: Fewer days than this are drawn centred in this many slots, so one day is no wall.
MIN_SLOTS = 7
#: Each axis has this many intervals; the labels sit at fixed heights in the stylesheet.
INTERVALS = 4
_MULTIPLIERS = (1, 2, 2.5, 3, 4, 5, 6, 8, 10)


@dataclass(frozen=True, slots=True)
class Line:
    """A series: ``name`` picks its colour (``s-<name>`` in the stylesheet), ``shape`` is
    ``bar``, ``line`` or ``dashed``; None values are gaps."""

    name: str
    values: Sequence[float | None]
    shape: str = "line"


@dataclass(frozen=True, slots=True)
class Chart:
    """The drawing and its axis: ``ticks`` are the values at the grid lines, top first."""

    svg: Markup
    ticks: list[float]


def nice_top(peak: float, intervals: int = INTERVALS) -> float:
    """The smallest round axis maximum at or above ``peak`` whose ``intervals`` steps are
    whole numbers (counts are never drawn against 2.5)."""
    if peak <= 0:
        return float(intervals)
    step = peak / intervals
    power = 10.0 ** math.floor(math.log10(step))
    for m in _MULTIPLIERS:
        candidate = round(m * power, 9)
        if candidate >= step and candidate >= 1 and candidate.is_integer():
            return candidate * intervals
    return float(math.ceil(step) * intervals)  # not reached: 10 * power >= step


def time_chart(days: Sequence[str], lines: Sequence[Line], tips: Sequence[str], *,
               top: float | None = None) -> Chart:
    """A chart of ``lines`` over ``days`` (one value per day each).

    :param tips: one tooltip per day (the day and its values, in the page's language).
    :param top: the axis maximum (1.0 for shares); else a round value above the peak.
    """
    n = len(days)
    slots = max(n, MIN_SLOTS)
    width = slots * STEP
    offset = (slots - n) * STEP / 2
    peak = max((v for line in lines for v in line.values if v is not None), default=0.0)
    axis = top if top is not None else nice_top(peak)

    def y(value: float) -> float:
        return HEIGHT - min(value / axis, 1.0) * HEIGHT if axis else HEIGHT

    def x(i: int) -> float:
        return offset + i * STEP + STEP / 2

    grid = "".join(f"M0 {HEIGHT * k / INTERVALS:g}H{width}" for k in range(INTERVALS + 1))
    parts = [f'<svg class="chart-svg" viewBox="0 0 {width} {HEIGHT}" '
             'preserveAspectRatio="none" aria-hidden="true" focusable="false" '
             'xmlns="http://www.w3.org/2000/svg">',
             f'<path class="grid" d="{grid}" vector-effect="non-scaling-stroke"/>']
    for line in lines:
        if line.shape == "bar":
            bar = STEP * 0.7
            d = "".join(f"M{x(i) - bar / 2:.2f} {y(v):.2f}h{bar:g}V{HEIGHT}h-{bar:g}Z"
                        for i, v in enumerate(line.values) if v)
        else:
            d = _path([(x(i), None if v is None else y(v)) for i, v in enumerate(line.values)])
        if d:
            parts.append(f'<path class="series s-{escape(line.name)} {escape(line.shape)}" '
                         f'd="{d}" vector-effect="non-scaling-stroke"/>')
    for i, tip in enumerate(tips):
        parts.append(f'<rect class="tip" x="{offset + i * STEP:g}" y="0" width="{STEP}" '
                     f'height="{HEIGHT}"><title>{escape(tip)}</title></rect>')
    parts.append("</svg>")
    ticks = [axis * (INTERVALS - k) / INTERVALS for k in range(INTERVALS + 1)]
    return Chart(Markup("".join(parts)), ticks)


def _path(points: Sequence[tuple[float, float | None]]) -> str:
    """A polyline broken at gaps; a lone point between gaps is a short dash, so it shows."""
    out = []
    run: list[tuple[float, float]] = []
    for px, py in [*points, (0.0, None)]:
        if py is not None:
            run.append((px, py))
            continue
        if len(run) == 1:
            (qx, qy), = run
            out.append(f"M{qx - STEP * 0.3:.2f} {qy:.2f}h{STEP * 0.6:g}")
        elif run:
            out.append("M" + "L".join(f"{qx:.2f} {qy:.2f}" for qx, qy in run))
        run = []
    return "".join(out)
