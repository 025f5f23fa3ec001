"""Small SVG bar charts for the dashboard, drawn on the server (no plotting runtime in the page).

Each chart is a self-contained ``<svg>`` with a ``<title>`` per bar (hover shows the value),
axis labels, and the largest value on the y axis. Text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart"]


def bar_chart(
    values: Sequence[float],
    labels: Sequence[str],
    *,
    title: str,
    x_label: str,
    y_label: str = "candidates",
    width: int = 420,
    height: int = 180,
    every: int | None = None,
) -> Markup:
    """An SVG bar chart of ``values`` with one ``label`` per bar.

    Parameters
    ----------
    values, labels : sequence
        Bar heights and their names (same length).
    title, x_label, y_label : str
        Chart title and axis names.
    width, height : int
        Size in CSS pixels.
    every : int, optional
        Label every n-th bar on the x axis (default: about 8 labels).

    Returns
    -------
    markupsafe.Markup
        The ``<svg>`` element.

    Raises
    ------
    ValueError
        When ``values`` and ``labels`` differ in length.
    """
    if len(values) != len(labels):
        raise ValueError(f"{len(values)} values but {len(labels)} labels")
    left, right, top, bottom = 44, 8, 22, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((float(v) for v in values), default=0.0)
    n = max(len(values), 1)
    bar_w = plot_w / n
    step = every or max(1, round(n / 8))
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" aria-label="{escape(title)}">',
        f'<text class="chart-title" x="{left}" y="14">{escape(title)}</text>',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/>',
        f'<text class="tick" x="{left - 4}" y="{top + 4}" text-anchor="end">{peak:g}</text>',
        f'<text class="tick" x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        h = 0.0 if peak <= 0 else plot_h * float(value) / peak
        x = left + i * bar_w
        parts.append(
            f'<rect class="bar" x="{x + 0.5:.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{max(bar_w - 1, 0.5):.1f}" height="{h:.1f}">'
            f"<title>{escape(label)}: {float(value):g}</title></rect>"
        )
        if i % step == 0:
            parts.append(
                f'<text class="tick" x="{x + bar_w / 2:.1f}" y="{top + plot_h + 12}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append(
        f'<text class="axis-label" x="{left + plot_w / 2}" y="{height - 4}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
    )
    parts.append(
        f'<text class="axis-label" x="10" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 10 {top + plot_h / 2})">{escape(y_label)}</text>'
    )
    parts.append("</svg>")
    # every interpolated text is escaped above
    return Markup("".join(parts))
