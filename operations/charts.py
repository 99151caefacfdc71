"""A sparkline for the landing page's project rows, as an inline SVG string. Pure; no ORM.

It follows ``qc.charts``: one ``<svg>`` element with a ``<title>`` and ``role="img"``, basic
shapes only, every piece of text escaped by ``qc.charts.text``, no script and no external
asset. Bars, not a line: a day without progress is a visible gap at zero.
"""

from __future__ import annotations

from collections.abc import Sequence

from qc.charts import AXIS, LINE, text


def sparkline(values: Sequence[int], *, title: str, width: int = 112, height: int = 26) -> str:
    """One thin bar per value (oldest first), scaled to the largest; the last bar (today,
    still running) lighter. Each bar's tooltip gives its value; the title says what it shows.
    All zero draws the baseline only."""
    n = len(values)
    top = max(values, default=0)
    slot = width / max(1, n)
    base = height - 1.5
    parts = [
        f'<svg class="lf-chart lf-spark" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{text(title)}">',
        f"<title>{text(title)}</title>",
        f'<line x1="0" y1="{base}" x2="{width}" y2="{base}" stroke="{AXIS}" stroke-width="1"/>',
    ]
    for i, value in enumerate(values):
        if value <= 0:
            continue
        h = max(1.5, (base - 1) * value / top)
        opacity = "0.55" if i == n - 1 else "1"
        label = "today" if i == n - 1 else f"{n - 1 - i} d ago"
        parts.append(
            f'<rect x="{i * slot + 1:.1f}" y="{base - h:.1f}" width="{max(1.0, slot - 2):.1f}" '
            f'height="{h:.1f}" fill="{LINE}" fill-opacity="{opacity}">'
            f"<title>{text(f'{label}: {value}')}</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)
