"""The trend chart: pass rate per dimension over a dataset's batches, as inline SVG.

Drawn on the server (a few dozen lines of SVG) rather than with a charting script: the view
ships no JavaScript library, loads nothing from elsewhere, and the chart prints and
screenshots as the page does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from lienthong.pipeline.dataset import DIMENSIONS

#: One colour per dimension, the same everywhere in the view (CSS variables ``--dim-*``).
COLOURS = {"correct": "#2b6cb0", "sufficient": "#2f855a", "clean": "#b7791f", "live": "#9f7aea"}
LABELS = {
    "correct": "correct (đúng)",
    "sufficient": "sufficient (đủ)",
    "clean": "clean (sạch)",
    "live": "live (sống)",
}

#: Project 06's own words for the dimensions.
WORDS = {"correct": "đúng", "sufficient": "đủ", "clean": "sạch", "live": "sống"}

WIDTH, HEIGHT = 860, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 150, 16, 40


def _lower_bound(points: Sequence[Mapping[str, Any]], threshold: float | None) -> float:
    lowest = min(
        [r for p in points for r in p["rates"].values()] + ([threshold] if threshold else [])
    )
    # A step below the lowest value, rounded to a step that keeps the lines apart (1, 5 or
    # 10 %), so that a line on the threshold is not drawn on the axis.
    for step in (0.01, 0.05, 0.10):
        bound = round(math.floor(round(lowest / step, 6) - 1e-6) * step, 4)
        if 1 - bound <= step * 8:
            return max(0.0, bound)
    return 0.0


def trend_svg(points: Sequence[Mapping[str, Any]], threshold: float | None = 0.95) -> str:
    """An SVG line chart: x the batches in time order, y the pass rate, one line a dimension."""
    if not points:
        return ""
    low = _lower_bound(points, threshold)
    span = (1 - low) or 0.01
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (inner_w / 2 if len(points) == 1 else inner_w * i / (len(points) - 1))

    def y(rate: float) -> float:
        return TOP + inner_h * (1 - (rate - low) / span)

    parts = [
        f'<svg class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Pass rate per dimension over time" xmlns="http://www.w3.org/2000/svg">'
    ]
    ticks = 5
    label = "{:.0%}" if span >= 0.05 else "{:.1%}"
    for t in range(ticks + 1):
        rate = low + span * t / ticks
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + inner_w}" y1="{y(rate):.1f}" '
            f'y2="{y(rate):.1f}"/><text class="axis" x="{LEFT - 8}" y="{y(rate) + 4:.1f}" '
            f'text-anchor="end">{label.format(rate)}</text>'
        )
    if threshold and threshold >= low:
        parts.append(
            f'<line class="threshold" x1="{LEFT}" x2="{LEFT + inner_w}" y1="{y(threshold):.1f}" '
            f'y2="{y(threshold):.1f}"><title>threshold {threshold:.0%}</title></line>'
        )
    labels = max(1, len(points) // 6)
    for i, point in enumerate(points):
        if i % labels == 0 or i == len(points) - 1:
            parts.append(
                f'<text class="axis" x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 18}" '
                f'text-anchor="middle">{point["at"]:%m-%d %H:%M}</text>'
            )
    for n, dimension in enumerate(DIMENSIONS):
        colour = COLOURS[dimension]
        coords = [
            (x(i), y(p["rates"][dimension]), p)
            for i, p in enumerate(points)
            if dimension in p["rates"]
        ]
        if not coords:
            continue
        path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy, _ in coords)
        parts.append(
            f'<polyline class="line" data-dimension="{dimension}" fill="none" '
            f'stroke="{colour}" stroke-width="2" points="{path}"/>'
        )
        for cx, cy, p in coords:
            tip = escape(
                f"batch {p['batch_no']} · {p['at']:%Y-%m-%d %H:%M} UTC · "
                f"{dimension} {p['rates'][dimension]:.2%}"
            )
            parts.append(
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{colour}">'
                f"<title>{tip}</title></circle>"
            )
        ly = TOP + 14 + n * 22
        parts.append(
            f'<line x1="{WIDTH - RIGHT + 16}" x2="{WIDTH - RIGHT + 36}" y1="{ly - 4}" '
            f'y2="{ly - 4}" stroke="{colour}" stroke-width="3"/>'
            f'<text class="legend" x="{WIDTH - RIGHT + 42}" y="{ly}">{escape(LABELS[dimension])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
