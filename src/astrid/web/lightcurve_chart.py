"""An object's light curve as a server-drawn SVG: flux against MJD, one colour per band.

Detections are filled circles with ±1σ error bars; non-detections are open down-pointing
triangles at their 5σ limit (flux units, so the chart works without a zero point). Band
colours come from CSS classes (``band-g``, ``band-r``, …, ``band-other``), never inline
styles, so the page keeps its strict content-security policy. Text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

__all__ = ["KNOWN_BANDS", "light_curve_chart"]

#: Bands with a colour of their own in the stylesheet; others are drawn as ``band-other``.
KNOWN_BANDS = ("u", "g", "r", "i", "z", "y")


def _band_class(band: str | None) -> str:
    name = (band or "").strip().lower()[:1]
    return f"band-{name}" if name in KNOWN_BANDS else "band-other"


def light_curve_chart(
    points: Sequence[Any], *, width: int = 640, height: int = 260, limit_sigma: float = 5.0
) -> Markup:
    """SVG of the points (objects with ``mjd, band, flux, flux_err, detected``)."""
    usable = [
        p
        for p in points
        if p.mjd is not None
        and p.flux is not None
        and p.flux_err is not None
        and math.isfinite(p.flux)
        and math.isfinite(p.flux_err)
    ]
    left, right, top, bottom = 64, 12, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    head = (
        f'<svg class="chart lightcurve" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="light curve">'
    )
    if not usable:
        return Markup(head + f'<text x="{left}" y="{top + 20}">no light-curve points</text></svg>')
    values = []
    for p in usable:
        if p.detected:
            values += [p.flux - p.flux_err, p.flux + p.flux_err]
        else:
            values.append(limit_sigma * p.flux_err)
    values.append(0.0)
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    lo, hi = lo - 0.05 * span, hi + 0.05 * span
    t0, t1 = min(p.mjd for p in usable), max(p.mjd for p in usable)
    tspan = (t1 - t0) or 1.0
    t0, t1 = t0 - 0.03 * tspan, t1 + 0.03 * tspan

    def sx(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * plot_w

    def sy(f: float) -> float:
        return top + (hi - f) / (hi - lo) * plot_h

    parts = [
        head,
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/>',
        f'<line class="zero" x1="{left}" y1="{sy(0):.1f}" x2="{left + plot_w}" y2="{sy(0):.1f}"/>',
        f'<text class="tick" x="{left - 4}" y="{top + 10}" text-anchor="end">{hi:.3g}</text>',
        f'<text class="tick" x="{left - 4}" y="{top + plot_h}" text-anchor="end">{lo:.3g}</text>',
        f'<text class="tick" x="{left}" y="{height - 18}">{t0:.2f}</text>',
        f'<text class="tick" x="{left + plot_w}" y="{height - 18}" text-anchor="end">'
        f"{t1:.2f}</text>",
        f'<text class="axis-label" x="{left + plot_w / 2}" y="{height - 4}" '
        'text-anchor="middle">MJD</text>',
        f'<text class="axis-label" x="12" y="{top + plot_h / 2}" '
        f'transform="rotate(-90 12 {top + plot_h / 2})" text-anchor="middle">flux</text>',
    ]
    for p in usable:
        x, cls = sx(p.mjd), _band_class(p.band)
        band = str(escape(p.band or "?"))
        if p.detected:
            y = sy(p.flux)
            parts.append(
                f'<g class="point detection {cls}"><title>MJD {p.mjd:.4f} {band}: '
                f"{p.flux:.4g} ± {p.flux_err:.2g}</title>"
                f'<line x1="{x:.1f}" y1="{sy(p.flux - p.flux_err):.1f}" x2="{x:.1f}" '
                f'y2="{sy(p.flux + p.flux_err):.1f}"/>'
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5"/></g>'
            )
        else:
            y = sy(limit_sigma * p.flux_err)
            parts.append(
                f'<g class="point limit {cls}"><title>MJD {p.mjd:.4f} {band}: '
                f"not detected, {limit_sigma:g}σ limit {limit_sigma * p.flux_err:.3g}</title>"
                f'<path d="M{x - 4:.1f},{y:.1f} L{x + 4:.1f},{y:.1f} L{x:.1f},{y + 7:.1f} Z"/>'
                "</g>"
            )
    bands = sorted({p.band or "?" for p in usable})
    for k, band in enumerate(bands):
        parts.append(
            f'<text class="legend {_band_class(band)}" x="{left + plot_w - 8}" '
            f'y="{top + 12 + 14 * k}" text-anchor="end">{escape(band)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
