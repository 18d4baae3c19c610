"""Inline SVG charts and number formatting for the HTML drift report.

Pure string building, no dependencies: every chart is a ``<svg>`` element meant to sit inside an
HTML page (no ``xmlns``, nothing fetched). Reference bars are blue-grey, current bars orange;
each bar carries a ``<title>`` with the exact values, so hovering shows them.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from typing import Any

REFERENCE_COLOUR = "#6f8fb0"
CURRENT_COLOUR = "#f08a24"
MISSING = "—"
MAX_CATEGORY_ROWS = 30

_WIDTH = 600
_AXIS = "#8a94a3"
_GRID = "#e6e9ee"
_INK = "#4a5260"
# characters XML forbids (an SVG parser rejects them) and lone surrogates (not encodable as UTF-8)
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def text(value: Any) -> str:
    """``value`` as text safe in HTML and SVG content and in quoted attributes."""
    return html.escape(_INVALID_XML.sub("\ufffd", str(value)), quote=True)


def finite(value: Any) -> float | None:
    """``value`` as a finite float, or None for None, NaN, infinities and non-numbers."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def fmt_number(value: Any, digits: int = 3) -> str:
    """Compact text with ``digits`` significant digits: 0.0312, 12.3k, 1.5M, 1.2e-05; "—" if missing."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}" if abs(value) < 10**6 else fmt_number(float(value), digits)
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "-∞"
    number = finite(value)
    if number is None:
        return MISSING
    size = abs(number)
    if number == 0:
        return "0"
    if size < 1e-3 or size >= 1e15:
        mantissa, exponent = f"{number:.{digits - 1}e}".split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{exponent}"
    if size < 1000:
        return f"{number:.{digits}g}"
    for power, suffix in ((4, "T"), (3, "B"), (2, "M"), (1, "k")):
        if size >= 1000**power * (1 - 0.5 * 10**-digits):
            scaled = f"{number / 1000**power:.{digits}g}"
            return f"{scaled}{suffix}"
    return f"{number:.{digits}g}"  # pragma: no cover - every size >= 1000 matched above


def fmt_share(value: Any) -> str:
    """A share (0..1) as a percentage: 12.3%, <0.1%, 0%; "—" if missing."""
    share = finite(value)
    if share is None:
        return MISSING
    if share == 0:
        return "0%"
    if 0 < abs(share) < 0.001:
        return "<0.1%"
    return f"{share * 100:.1f}%".replace(".0%", "%")


def fmt_exact_share(value: Any) -> str:
    share = finite(value)
    return MISSING if share is None else f"{share:.6g} ({share * 100:.3g}%)"


def _exact(value: Any) -> str:
    number = finite(value)
    return fmt_number(value) if number is None else f"{number:.6g}"


def _nice_axis(top: float, ticks: int = 4) -> tuple[float, float]:
    """(axis maximum, tick step) for shares up to ``top``: steps of 1, 2, 2.5 or 5 times 10^n."""
    if top <= 0:
        return 1.0, 0.25
    raw = top / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    return math.ceil(top / step - 1e-9) * step, step


def _shares(values: Sequence[Any], n: int) -> list[float | None]:
    out = [finite(v) for v in list(values)[:n]]
    return out + [None] * (n - len(out))


def _legend(x: float, y: float) -> str:
    return (
        f'<g class="legend" font-size="11" fill="{_INK}">'
        f'<rect x="{x:.0f}" y="{y - 9:.0f}" width="10" height="10" rx="2" fill="{REFERENCE_COLOUR}"/>'
        f'<text x="{x + 14:.0f}" y="{y:.0f}">reference</text>'
        f'<rect x="{x + 84:.0f}" y="{y - 9:.0f}" width="10" height="10" rx="2" fill="{CURRENT_COLOUR}"/>'
        f'<text x="{x + 98:.0f}" y="{y:.0f}">current</text></g>'
    )


def _bar(cls: str, x: float, y: float, w: float, h: float, tooltip: str) -> str:
    colour = REFERENCE_COLOUR if cls == "ref" else CURRENT_COLOUR
    return (
        f'<rect class="bar {cls}" x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" '
        f'height="{max(h, 0):.1f}" fill="{colour}"><title>{text(tooltip)}</title></rect>'
    )


def histogram_svg(
    edges: Sequence[Any], reference: Sequence[Any], current: Sequence[Any], *, label: str
) -> str:
    """Side-by-side bars of the reference and current share in each bin (bins drawn equally wide)."""
    k = max(len(edges) - 1, 0)
    ref, cur = _shares(reference, k), _shares(current, k)
    left, right, top, bottom, height = 50, 28, 30, 44, 230
    plot_w, plot_h = _WIDTH - left - right, height - top - bottom
    axis_max, step = _nice_axis(max([s for s in ref + cur if s is not None] + [0.0]))
    parts = _svg_open("histogram", label, height, "bin", right)
    n_ticks = round(axis_max / step)
    for i in range(n_ticks + 1):
        y = top + plot_h - plot_h * i / n_ticks
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{_GRID}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" fill="{_INK}" text-anchor="end">'
            f"{fmt_number(step * i * 100)}%</text>"
        )
    slot = plot_w / k if k else plot_w
    bar_w = slot * 0.42
    for i in range(k):
        lo, hi = _exact(edges[i]), _exact(edges[i + 1])
        close = "]" if i == k - 1 else ")"
        where = f"bin {i + 1} [{lo}, {hi}{close}"
        for j, (cls, shares, name) in enumerate((("ref", ref, "reference"), ("cur", cur, "current"))):
            share = shares[i] or 0.0
            h = plot_h * min(max(share, 0.0) / axis_max, 1.0)
            x = left + slot * i + slot * 0.08 + j * bar_w
            tooltip = f"{where}: {name} {fmt_exact_share(shares[i])}"
            parts.append(_bar(cls, x, top + plot_h - h, bar_w, h, tooltip))
    every = max(1, math.ceil((k + 1) / max(plot_w // 58, 1)))
    for i in range(0, k + 1, every):
        x = left + slot * i
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}" stroke="{_AXIS}"/>'
            f'<text x="{x:.1f}" y="{top + plot_h + 16}" font-size="10" fill="{_INK}" text-anchor="middle">'
            f"{text(fmt_number(edges[i]))}</text>"
        )
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{_AXIS}"/>'
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 6}" font-size="11" fill="{_INK}" '
        f'text-anchor="middle">value (bin edges; bins drawn equally wide)</text>'
        f'<text transform="translate(13 {top + plot_h / 2:.0f}) rotate(-90)" font-size="11" '
        f'fill="{_INK}" text-anchor="middle">share of rows</text></svg>'
    )
    return "".join(parts)


def _pick_categories(
    categories: Sequence[Any], ref: list[float | None], cur: list[float | None], limit: int
) -> list[int]:
    """Indexes of the categories to draw: all, or the ``limit`` largest on either side, in order."""
    order = range(len(categories))
    if len(categories) <= limit:
        return list(order)
    biggest = sorted(order, key=lambda i: -max(ref[i] or 0.0, cur[i] or 0.0))[:limit]
    return sorted(biggest)


def categories_svg(
    categories: Sequence[Any],
    reference: Sequence[Any],
    current: Sequence[Any],
    *,
    label: str,
    new: frozenset[str] = frozenset(),
    limit: int = MAX_CATEGORY_ROWS,
) -> str:
    """Grouped horizontal bars per category (reference above current), long labels truncated."""
    n = len(categories)
    ref, cur = _shares(reference, n), _shares(current, n)
    shown = _pick_categories(categories, ref, cur, limit)
    left, right, top, row, label_chars = 160, 56, 30, 28, 24
    plot_w = _WIDTH - left - right
    hidden = n - len(shown)
    height = top + row * len(shown) + (46 if hidden else 30)
    axis_max, step = _nice_axis(max([s for s in ref + cur if s is not None] + [0.0]))
    parts = _svg_open("categories", label, height, "category", right)
    n_ticks = round(axis_max / step)
    bottom = top + row * len(shown)
    for i in range(n_ticks + 1):
        x = left + plot_w * i / n_ticks
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{bottom}" stroke="{_GRID}"/>'
            f'<text x="{x:.1f}" y="{bottom + 14}" font-size="10" fill="{_INK}" text-anchor="middle">'
            f"{fmt_number(step * i * 100)}%</text>"
        )
    for slot, i in enumerate(shown):
        name = "(other)" if categories[i] == "__other__" else str(categories[i])
        label_text = name if len(name) <= label_chars else name[: label_chars - 1] + "…"
        bars = ((ref[i], "ref", "reference"), (cur[i], "cur", "current"))
        geometry = (left, top + row * slot, row, plot_w, axis_max)
        parts += _category_row(name, label_text, str(categories[i]) in new, bars, geometry)
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top - 4}" y2="{bottom}" stroke="{_AXIS}"/>')
    parts.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{bottom + 28}" font-size="11" fill="{_INK}" '
        f'text-anchor="middle">share of rows</text>'
    )
    if hidden:
        parts.append(
            f'<text x="{left}" y="{height - 4}" font-size="10" fill="{_INK}">'
            f"{hidden} smaller categories not drawn</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _category_row(
    name: str,
    label_text: str,
    is_new: bool,
    bars: tuple[tuple[Any, str, str], ...],
    geometry: tuple[float, float, float, float, float],
) -> list[str]:
    """One category of :func:`categories_svg`: its label and its two bars with their shares."""
    left, y, row, plot_w, axis_max = geometry
    colour = CURRENT_COLOUR if is_new else _INK
    parts = [
        f"<g><title>{text(name)}{' (new in current)' if is_new else ''}</title>"
        f'<text x="{left - 8}" y="{y + row / 2 + 3:.1f}" font-size="11" fill="{colour}" '
        f'text-anchor="end">{text(label_text)}{" ★" if is_new else ""}</text></g>'
    ]
    for j, (share, cls, side) in enumerate(bars):
        w = plot_w * min(max(share or 0.0, 0.0) / axis_max, 1.0)
        by = y + 3 + j * 11
        parts.append(_bar(cls, left, by, w, 10, f"{name}: {side} {fmt_exact_share(share)}"))
        parts.append(
            f'<text x="{left + w + 4:.1f}" y="{by + 8.5:.1f}" font-size="9" fill="{_INK}">'
            f"{fmt_share(share)}</text>"
        )
    return parts


def _svg_open(kind: str, label: str, height: int, per: str, right: int) -> list[str]:
    """The opening of a chart: its ``<svg>`` tag, its title and the legend."""
    return [
        f'<svg class="chart {kind}" data-column="{text(label)}" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" role="img" font-family="inherit">'
        f"<title>{text(label)}: share of rows per {per}, reference vs current</title>",
        _legend(_WIDTH - right - 150, 16),
    ]
