"""Charts for the quality dashboards as inline SVG strings. Pure; no ORM, no Django.

Each function takes plain values and returns one ``<svg>`` element as a string, meant to be
placed inline in an HTML page (so it carries no ``xmlns``: HTML5 puts inline ``<svg>`` in the
SVG namespace by itself, and the page then holds no external address at all). Everything is
drawn with basic shapes: no JavaScript, no external stylesheet or font — text uses the
browser's default ``sans-serif``. Every piece of text (titles, class names, labels, tooltips)
is escaped, and characters that XML does not allow are dropped, so the output is well-formed
XML whatever the labels hold.

* ``rate_band_chart`` — a rate over time (e.g. weekly gold accuracy) as a line, with its
  interval as a shaded band (and a whisker per point), the y axis 0 to 100%.
* ``bar_chart`` — bars of counts (a histogram when the labels are bins).
* ``stacked_bar_chart`` — one bar per group (e.g. a batch), split by class share, with a legend.
* ``heatmap`` — a confusion matrix: rows (gold or final class) by columns (class answered), each
  cell shaded by its share of the row and labeled with its count.

An empty input gives a chart frame saying "No data yet" rather than an error.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

FONT = "sans-serif"
LINE = "#417690"  # the admin's header blue
BAND = "#79aec8"
AXIS = "#999999"
TEXT = "#333333"
EMPTY_TEXT = "No data yet"
DASH = "\u2013"  # the en dash of ranges ("49.0%-94.3%" reads as a subtraction)
# Colour-blind-safe qualitative palette (Okabe and Ito), cycled for classes.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)

# Characters XML 1.0 forbids (control characters other than tab, newline, carriage return,
# lone surrogates, U+FFFE/U+FFFF): dropped before escaping.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def text(value: object) -> str:
    """``value`` as XML-safe text: forbidden characters dropped, markup characters escaped."""
    return html.escape(_NOT_XML.sub("", str(value)), quote=True)


def _num(x: float) -> str:
    """A coordinate: two decimals at most, no trailing zeros."""
    out = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if out in ("", "-0") else out


def percent(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{100 * x:.{digits}f}%"


def _open(width: int, height: int, title: str, css_class: str) -> list[str]:
    return [
        f'<svg class="lf-chart {css_class}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{text(title)}" '
        f'font-family="{FONT}" font-size="11">',
        f"<title>{text(title)}</title>",
    ]


def _label(
    x: float, y: float, value: object, *, anchor: str = "middle", fill: str = TEXT, **attrs: str
) -> str:
    """A text element; ``attrs`` become attributes (``fill_opacity`` -> ``fill-opacity``)."""
    extra = "".join(f' {k.replace("_", "-")}="{text(v)}"' for k, v in attrs.items())
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" fill="{text(fill)}"{extra}>'
        f"{text(value)}</text>"
    )


def _empty(width: int, height: int, title: str, css_class: str) -> str:
    parts = _open(width, height, title, css_class)
    parts.append(
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" fill="none" '
        f'stroke="{AXIS}" stroke-dasharray="4 3"/>'
    )
    parts.append(_label(width / 2, height / 2, EMPTY_TEXT, fill_opacity="0.8"))
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class _Frame:
    """The plot area inside the margins."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top


# -- a rate over time with its interval --------------------------------------------------------


@dataclass(frozen=True)
class RatePoint:
    """One point of a rate series: its x label, the rate (None: no observations, skipped), its
    interval and the count it rests on."""

    label: str
    rate: float | None
    low: float
    high: float
    n: int


def rate_band_chart(
    points: Sequence[RatePoint],
    *,
    title: str,
    width: int = 640,
    height: int = 240,
    interval_name: str = "95% CI",
) -> str:
    """A line of ``points`` (x evenly spaced in the given order) on a 0 to 100% axis, with the
    interval [low, high] as a shaded band between consecutive points and a whisker at each
    point; each point's tooltip states the rate, n and the interval. Points without a rate
    are left out."""
    shown = [p for p in points if p.rate is not None]
    if not shown:
        return _empty(width, height, title, "lf-rate-chart")
    f = _Frame(left=44, top=12, right=width - 12, bottom=height - 36)
    step = f.width / max(1, len(shown) - 1)

    def x(i: int) -> float:
        return f.left + (i * step if len(shown) > 1 else f.width / 2)

    def y(v: float) -> float:
        return f.bottom - max(0.0, min(1.0, v)) * f.height

    parts = _open(width, height, title, "lf-rate-chart")
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line x1="{_num(f.left)}" y1="{_num(y(tick))}" x2="{_num(f.right)}" '
            f'y2="{_num(y(tick))}" stroke="{AXIS}" stroke-opacity="0.35"/>'
        )
        parts.append(_label(f.left - 6, y(tick) + 4, percent(tick, 0), anchor="end"))
    if len(shown) > 1:
        upper = [f"{_num(x(i))},{_num(y(p.high))}" for i, p in enumerate(shown)]
        lower = [f"{_num(x(i))},{_num(y(p.low))}" for i, p in reversed(list(enumerate(shown)))]
        parts.append(
            f'<polygon class="lf-band" points="{" ".join(upper + lower)}" fill="{BAND}" '
            'fill-opacity="0.35" stroke="none"/>'
        )
        line = " ".join(f"{_num(x(i))},{_num(y(p.rate))}" for i, p in enumerate(shown))
        parts.append(
            f'<polyline class="lf-line" points="{line}" fill="none" stroke="{LINE}" '
            'stroke-width="2"/>'
        )
    every = max(1, len(shown) // 8)  # at most about eight x labels
    for i, p in enumerate(shown):
        tip = (
            f"{p.label}: {percent(p.rate)} (n = {p.n}, {interval_name} "
            f"{percent(p.low)}{DASH}{percent(p.high)})"
        )
        parts.append(
            f'<line x1="{_num(x(i))}" y1="{_num(y(p.low))}" x2="{_num(x(i))}" '
            f'y2="{_num(y(p.high))}" stroke="{BAND}" stroke-width="3"/>'
        )
        parts.append(
            f'<circle cx="{_num(x(i))}" cy="{_num(y(p.rate))}" r="3.5" fill="{LINE}">'
            f"<title>{text(tip)}</title></circle>"
        )
        if i % every == 0 or i == len(shown) - 1:
            parts.append(_label(x(i), f.bottom + 16, p.label))
    parts.append(
        f'<line x1="{_num(f.left)}" y1="{_num(f.bottom)}" x2="{_num(f.right)}" '
        f'y2="{_num(f.bottom)}" stroke="{AXIS}"/>'
    )
    parts.append(
        _label(
            f.left,
            height - 4,
            f"line: rate; band: {interval_name}; n per point in the tooltip",
            anchor="start",
            fill_opacity="0.8",
        )
    )
    parts.append("</svg>")
    return "".join(parts)


# -- bars ----------------------------------------------------------------------------------------


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 640,
    height: int = 220,
    value_name: str = "tasks",
) -> str:
    """One bar per ``(label, value)`` (values >= 0), scaled to the largest, the value written
    above each bar. All values zero (or no bars) gives the empty frame."""
    if not bars or max(v for _, v in bars) <= 0:
        return _empty(width, height, title, "lf-bar-chart")
    if min(v for _, v in bars) < 0:
        raise ValueError("bar_chart takes values >= 0.")
    top = max(v for _, v in bars)
    f = _Frame(left=12, top=18, right=width - 12, bottom=height - 30)
    slot = f.width / len(bars)
    gap = min(8.0, slot * 0.15)
    parts = _open(width, height, title, "lf-bar-chart")
    every = max(1, len(bars) // 12)
    for i, (label, value) in enumerate(bars):
        h = f.height * value / top
        x0 = f.left + i * slot + gap / 2
        parts.append(
            f'<rect x="{_num(x0)}" y="{_num(f.bottom - h)}" width="{_num(slot - gap)}" '
            f'height="{_num(h)}" fill="{LINE}">'
            f"<title>{text(f'{label}: {_fmt(value)} {value_name}')}</title></rect>"
        )
        parts.append(_label(x0 + (slot - gap) / 2, f.bottom - h - 4, _fmt(value)))
        if i % every == 0:
            parts.append(_label(x0 + (slot - gap) / 2, f.bottom + 14, label))
    parts.append(
        f'<line x1="{_num(f.left)}" y1="{_num(f.bottom)}" x2="{_num(f.right)}" '
        f'y2="{_num(f.bottom)}" stroke="{AXIS}"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


def stacked_bar_chart(
    groups: Sequence[tuple[str, Sequence[tuple[str, int]]]],
    *,
    title: str,
    classes: Sequence[str] | None = None,
    width: int = 640,
    bar_height: int = 22,
) -> str:
    """One horizontal bar per ``(group label, [(class, count), …])``, 100% wide, split by each
    class's share of the group, in a fixed class order (``classes``, else the order of first
    appearance) and colour, with a legend. Groups with no counts are drawn as an empty
    outline."""
    if not groups:
        return _empty(width, 120, title, "lf-stacked-chart")
    order = list(classes or [])
    for _, counts in groups:
        for name, _ in counts:
            if name not in order:
                order.append(name)
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(order)}
    legend_rows = (len(order) + 3) // 4
    f = _Frame(left=110, top=10, right=width - 12, bottom=10 + len(groups) * (bar_height + 6))
    height = int(f.bottom + 12 + legend_rows * 18)
    parts = _open(width, height, title, "lf-stacked-chart")
    for row, (label, counts) in enumerate(groups):
        y0 = f.top + row * (bar_height + 6)
        total = sum(c for _, c in counts)
        parts.append(_label(f.left - 6, y0 + bar_height / 2 + 4, label, anchor="end"))
        parts.append(
            f'<rect x="{_num(f.left)}" y="{_num(y0)}" width="{_num(f.width)}" '
            f'height="{bar_height}" fill="none" stroke="{AXIS}" stroke-opacity="0.5"/>'
        )
        x0 = f.left
        by_class = dict(counts)
        for name in order:
            count = by_class.get(name, 0)
            if not total or not count:
                continue
            w = f.width * count / total
            tip = f"{label}: {name} {count} of {total} ({percent(count / total)})"
            parts.append(
                f'<rect x="{_num(x0)}" y="{_num(y0)}" width="{_num(w)}" height="{bar_height}" '
                f'fill="{colour[name]}"><title>{text(tip)}</title></rect>'
            )
            x0 += w
    for i, name in enumerate(order):
        lx = f.left + (i % 4) * (f.width / 4)
        ly = f.bottom + 12 + (i // 4) * 18
        parts.append(
            f'<rect x="{_num(lx)}" y="{_num(ly - 9)}" width="10" height="10" '
            f'fill="{colour[name]}"/>'
        )
        parts.append(_label(lx + 14, ly, name, anchor="start"))
    parts.append("</svg>")
    return "".join(parts)


# -- a confusion matrix --------------------------------------------------------------------------


def heatmap(
    classes: Sequence[str],
    counts: Sequence[Sequence[int]],
    *,
    title: str,
    row_name: str = "gold",
    column_name: str = "answered",
    cell: int = 44,
) -> str:
    """A square confusion matrix: ``counts[i][j]`` is how often row class i (the reference:
    gold or final) was answered as column class j. Cells are shaded by their share of the row
    (so a perfect labeler has a dark diagonal whatever the class balance) and show the count;
    the tooltip adds the share. Raises ValueError if ``counts`` is not len(classes) square."""
    k = len(classes)
    if len(counts) != k or any(len(row) != k for row in counts):
        raise ValueError("heatmap needs a square matrix with one row and column per class.")
    if k == 0 or not any(any(row) for row in counts):
        return _empty(360, 120, title, "lf-heatmap")
    label_width = min(140, 14 + 7 * max(len(str(c)) for c in classes))
    left, top = label_width + 18, 34
    width = left + k * cell + 12
    height = top + k * cell + 22
    parts = _open(width, height, title, "lf-heatmap")
    parts.append(_label(left + k * cell / 2, 12, f"{column_name} →"))
    parts.append(
        _label(
            10,
            top + k * cell / 2,
            f"{row_name} →",
            transform=f"rotate(-90 10 {_num(top + k * cell / 2)})",
        )
    )
    for j, name in enumerate(classes):
        parts.append(_label(left + j * cell + cell / 2, top - 6, _short(name)))
    for i, name in enumerate(classes):
        total = sum(counts[i])
        y0 = top + i * cell
        parts.append(_label(left - 6, y0 + cell / 2 + 4, _short(name, 20), anchor="end"))
        for j, count in enumerate(counts[i]):
            share = count / total if total else 0.0
            x0 = left + j * cell
            tip = f"{row_name} {name}, {column_name} {classes[j]}: {count}" + (
                f" ({percent(share)} of the row)" if total else ""
            )
            parts.append(
                f'<rect x="{_num(x0)}" y="{_num(y0)}" width="{cell}" height="{cell}" '
                f'fill="{LINE}" fill-opacity="{_num(0.06 + 0.94 * share)}" stroke="#ffffff">'
                f"<title>{text(tip)}</title></rect>"
            )
            parts.append(
                _label(
                    x0 + cell / 2,
                    y0 + cell / 2 + 4,
                    count,
                    fill="#ffffff" if share > 0.5 else TEXT,
                )
            )
    parts.append(_label(left, height - 6, "shade: share of the row; number: count", anchor="start"))
    parts.append("</svg>")
    return "".join(parts)


def _short(name: object, limit: int = 8) -> str:
    s = str(name)
    return s if len(s) <= limit else s[: limit - 1] + "…"
