"""Inline SVG bar charts for the HTML report (no scripts, no external assets)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

_ROW = 22
_LABEL_W = 230
_BAR_W = 360
_VALUE_W = 120


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    low: float | None = None
    high: float | None = None
    marker: float | None = None  # a floor/ceiling drawn as a tick
    bad: bool = False


def _header(height: int, title: str) -> str:
    width = _LABEL_W + _BAR_W + _VALUE_W
    return (f'<svg role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>')


def rate_chart(bars: list[Bar], title: str) -> str:
    """Horizontal bars on a 0..1 scale with CI whiskers and threshold ticks."""
    height = _ROW * len(bars) + 24
    parts = [_header(height, title)]
    x0 = _LABEL_W
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = x0 + tick * _BAR_W
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 18}" class="grid"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 4}" class="axis">{tick:g}</text>')
    for i, bar in enumerate(bars):
        y = i * _ROW + 4
        value = min(max(bar.value, 0.0), 1.0)
        parts.append(f'<text x="{x0 - 6}" y="{y + 13}" class="label">{escape(bar.label)}</text>')
        parts.append(f'<rect x="{x0}" y="{y}" width="{value * _BAR_W:.1f}" height="16" '
                     f'class="{"bar bad" if bar.bad else "bar"}"/>')
        if bar.low is not None and bar.high is not None:
            lo, hi = (x0 + min(max(v, 0.0), 1.0) * _BAR_W for v in (bar.low, bar.high))
            parts.append(f'<line x1="{lo:.1f}" y1="{y + 8}" x2="{hi:.1f}" y2="{y + 8}" class="ci"/>')
        if bar.marker is not None:
            mx = x0 + min(max(bar.marker, 0.0), 1.0) * _BAR_W
            parts.append(f'<line x1="{mx:.1f}" y1="{y - 2}" x2="{mx:.1f}" y2="{y + 18}" class="floor"/>')
        parts.append(f'<text x="{x0 + _BAR_W + 8}" y="{y + 13}" class="value">{bar.value:.3f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def delta_chart(bars: list[Bar], title: str) -> str:
    """Bars of signed deltas around a centre line, scaled to the largest |delta| or CI end."""
    height = _ROW * len(bars) + 24
    span = max([abs(v) for b in bars for v in (b.value, b.low or 0.0, b.high or 0.0)] + [0.01])
    centre = _LABEL_W + _BAR_W / 2
    scale = (_BAR_W / 2 - 4) / span
    parts = [_header(height, title)]
    parts.append(f'<line x1="{centre}" y1="0" x2="{centre}" y2="{height - 18}" class="zero"/>')
    parts.append(f'<text x="{centre - _BAR_W / 2 + 4:.1f}" y="{height - 4}" class="axis">-{span:.3g}</text>')
    parts.append(f'<text x="{centre + _BAR_W / 2 - 30:.1f}" y="{height - 4}" class="axis">+{span:.3g}</text>')
    for i, bar in enumerate(bars):
        y = i * _ROW + 4
        x = centre + min(bar.value, 0.0) * scale
        parts.append(f'<text x="{_LABEL_W - 6}" y="{y + 13}" class="label">{escape(bar.label)}</text>')
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="{abs(bar.value) * scale:.1f}" height="16" '
                     f'class="{"bar bad" if bar.bad else "bar good"}"/>')
        if bar.low is not None and bar.high is not None:
            lo, hi = centre + bar.low * scale, centre + bar.high * scale
            parts.append(f'<line x1="{lo:.1f}" y1="{y + 8}" x2="{hi:.1f}" y2="{y + 8}" class="ci"/>')
        parts.append(f'<text x="{_LABEL_W + _BAR_W + 8}" y="{y + 13}" class="value">{bar.value:+.3f}</text>')
    parts.append("</svg>")
    return "".join(parts)
