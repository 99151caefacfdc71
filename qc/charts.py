"""Charts for the quality dashboards as inline SVG strings. Pure; no ORM, no Django.

Each function takes plain values and returns one ``<svg>`` element as a string, meant to be
placed inline in an HTML page (so it carries no ``xmlns``: HTML5 puts inline ``<svg>`` in the
SVG namespace by itself, and the page then holds no external address at all). Everything is
drawn with basic shapes: no JavaScript, no external stylesheet or font — text uses the
browser's default ``sans-serif``. Every piece of text (titles, class names, labels, tooltips)
is escaped, and characters that XML does not allow are dropped, so the output is well-formed
XML whatever the labels hold.

* ``rate_band_chart`` — a rate over time (e.g. weekly gold accuracy) as a line, with its
  interval as a shaded band (and a whisker per point), the y axis 0 to 100%. Dated points sit on
  a time axis: a missing period is a gap in the line, never two periods drawn side by side.
* ``bar_chart`` — bars of counts (a histogram when the labels are bins), with a y axis (ticks
  and its name) when asked.
* ``stacked_bar_chart`` — one bar per group (e.g. a batch), split by class share, with a legend.
* ``heatmap`` — a confusion matrix: rows (gold or final class) by columns (class answered), each
  cell shaded by its share of the row and labeled with its count.
* ``interval_chart`` — a rate per group (e.g. per vendor) as a dot with its interval as a
  whisker, on a 0 to 100% axis.

Class names and group labels are never cut: the margins grow to the longest one (column
names of the heatmap are slanted), as the text width is estimated from its length.

An empty input gives a chart frame saying "No data yet" rather than an error.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

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


CHAR_WIDTH = 6.6  # an estimate of a character's width at font-size 11 (sans-serif), in px


def text_width(value: object) -> float:
    """The estimated width of ``value`` drawn at font-size 11: margins are sized by it."""
    return len(str(value)) * CHAR_WIDTH


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Ticks from 0 up to at least ``top`` in round steps (1, 2, 2.5 or 5 times a power of
    ten), about ``count`` of them; whole steps when ``top`` is 1 or more (counts)."""
    if top <= 0:
        return [0, 1]
    raw = top / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    multipliers = (1, 2, 2.5, 5, 10) if top < 1 or power >= 10 else (1, 2, 5, 10)
    step = next(m * power for m in multipliers if m * power >= raw - 1e-12)
    if top >= 1:
        step = max(1, round(step))
    n = math.ceil(top / step - 1e-9)
    return [round(k * step, 10) for k in range(n + 1)]


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


def _closed(parts: list[str], x: float, y: float, note: str) -> str:
    """The chart: ``parts``, then the key ``note`` at (x, y), closed."""
    parts.append(_label(x, y, note, anchor="start", fill_opacity="0.8"))
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
    """One point of a rate series: its x label, the rate (None: no observations — a gap), its
    interval, the count it rests on, and the start of its period (``at``) when the x axis is
    time."""

    label: str
    rate: float | None
    low: float
    high: float
    n: int
    at: date | None = None


def _runs(points: Sequence[RatePoint], period: timedelta | None) -> list[list[int]]:
    """Indexes of ``points`` in runs that a line may join: a point without a rate ends a run,
    and so does more than one ``period`` between two dated points (a period is missing)."""
    runs: list[list[int]] = []
    current: list[int] = []
    previous: RatePoint | None = None
    for i, p in enumerate(points):
        if p.rate is None:
            if current:
                runs.append(current)
            current, previous = [], None
            continue
        if (
            previous is not None
            and period is not None
            and p.at is not None
            and previous.at is not None
            and p.at - previous.at > period
        ):
            runs.append(current)
            current = []
        current.append(i)
        previous = p
    if current:
        runs.append(current)
    return runs


def rate_band_chart(
    points: Sequence[RatePoint],
    *,
    title: str,
    width: int = 640,
    height: int = 240,
    interval_name: str = "95% CI",
    period: timedelta | None = timedelta(days=7),
) -> str:
    """A line of ``points`` on a 0 to 100% axis, with the interval [low, high] as a shaded band
    between consecutive points and a whisker at each point; each point's tooltip states the
    rate, n and the interval.

    x is time when every point has its date (``at``): positions follow the dates, and two
    points more than one ``period`` apart (a period with no point) are not joined — the line
    and band break there. Otherwise the points are evenly spaced in the given order. A point
    without a rate is not drawn and breaks the line too."""
    shown = [i for i, p in enumerate(points) if p.rate is not None]
    if not shown:
        return _empty(width, height, title, "lf-rate-chart")
    f = _Frame(left=44, top=12, right=width - 12, bottom=height - 36)
    dated = all(p.at is not None for p in points)
    if dated:
        first = min(p.at for p in points)
        span = (max(p.at for p in points) - first).days

        def x(i: int) -> float:
            if not span:
                return f.left + f.width / 2
            return f.left + f.width * (points[i].at - first).days / span

    else:
        step = f.width / max(1, len(points) - 1)

        def x(i: int) -> float:
            return f.left + (i * step if len(points) > 1 else f.width / 2)

    def y(v: float) -> float:
        return f.bottom - max(0.0, min(1.0, v)) * f.height

    parts = _open(width, height, title, "lf-rate-chart")
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line x1="{_num(f.left)}" y1="{_num(y(tick))}" x2="{_num(f.right)}" '
            f'y2="{_num(y(tick))}" stroke="{AXIS}" stroke-opacity="0.35"/>'
        )
        parts.append(_label(f.left - 6, y(tick) + 4, percent(tick, 0), anchor="end"))
    for run in _runs(points, period if dated else None):
        if len(run) < 2:
            continue
        upper = [f"{_num(x(i))},{_num(y(points[i].high))}" for i in run]
        lower = [f"{_num(x(i))},{_num(y(points[i].low))}" for i in reversed(run)]
        parts.append(
            f'<polygon class="lf-band" points="{" ".join(upper + lower)}" fill="{BAND}" '
            'fill-opacity="0.35" stroke="none"/>'
        )
        line = " ".join(f"{_num(x(i))},{_num(y(points[i].rate))}" for i in run)
        parts.append(
            f'<polyline class="lf-line" points="{line}" fill="none" stroke="{LINE}" '
            'stroke-width="2"/>'
        )
    every = max(1, len(shown) // 8)  # at most about eight x labels
    for k, i in enumerate(shown):
        p = points[i]
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
        if k % every == 0 or k == len(shown) - 1:
            # A label at the right edge ends there instead of running off the chart.
            if x(i) + text_width(p.label) / 2 > width - 2:
                parts.append(_label(x(i) + 4, f.bottom + 16, p.label, anchor="end"))
            else:
                parts.append(_label(x(i), f.bottom + 16, p.label))
    parts.append(
        f'<line x1="{_num(f.left)}" y1="{_num(f.bottom)}" x2="{_num(f.right)}" '
        f'y2="{_num(f.bottom)}" stroke="{AXIS}"/>'
    )
    gaps = "; a gap: no data that period" if dated else ""
    note = f"line: rate; band: {interval_name}; n per point in the tooltip{gaps}"
    return _closed(parts, f.left, height - 4, note)


# -- bars ----------------------------------------------------------------------------------------


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 640,
    height: int = 220,
    value_name: str = "tasks",
    y_label: str | None = None,
) -> str:
    """One bar per ``(label, value)`` (values >= 0), the value written above each bar. Without
    ``y_label`` the bars scale to the largest; with it, a y axis named ``y_label`` with round
    ticks (``nice_ticks``) and grid lines, the bars scaled to the top tick. All values zero (or
    no bars) gives the empty frame."""
    if not bars or max(v for _, v in bars) <= 0:
        return _empty(width, height, title, "lf-bar-chart")
    if min(v for _, v in bars) < 0:
        raise ValueError("bar_chart takes values >= 0.")
    ticks = nice_ticks(max(v for _, v in bars)) if y_label else []
    top = ticks[-1] if ticks else max(v for _, v in bars)
    left = 12 if not ticks else 28 + max(text_width(_fmt(t)) for t in ticks)
    f = _Frame(left=left, top=18, right=width - 12, bottom=height - 30)
    slot = f.width / len(bars)
    gap = min(8.0, slot * 0.15)
    parts = _open(width, height, title, "lf-bar-chart")
    for tick in ticks:
        ty = f.bottom - f.height * tick / top
        parts.append(
            f'<line class="lf-tick" x1="{_num(f.left)}" y1="{_num(ty)}" x2="{_num(f.right)}" '
            f'y2="{_num(ty)}" stroke="{AXIS}" stroke-opacity="0.35"/>'
        )
        parts.append(_label(f.left - 6, ty + 4, _fmt(tick), anchor="end"))
    if ticks:
        mid = f.top + f.height / 2
        parts.append(
            _label(12, mid, y_label, transform=f"rotate(-90 12 {_num(mid)})", **{"class": "lf-y"})
        )
        parts.append(
            f'<line x1="{_num(f.left)}" y1="{_num(f.top)}" x2="{_num(f.left)}" '
            f'y2="{_num(f.bottom)}" stroke="{AXIS}"/>'
        )
    # At most about twelve x labels, fewer when the labels are long.
    fit = max(1, int(f.width // max(1.0, max(text_width(b[0]) for b in bars) + 8)))
    every = max(1, math.ceil(len(bars) / min(12, fit)))
    for i, (label, value) in enumerate(bars):
        h = f.height * value / top
        x0 = f.left + i * slot + gap / 2
        parts.append(
            f'<rect x="{_num(x0)}" y="{_num(f.bottom - h)}" width="{_num(slot - gap)}" '
            f'height="{_num(h)}" fill="{LINE}">'
            f"<title>{text(f'{label}: {_fmt(value)} {value_name}')}</title></rect>"
        )
        if not ticks or len(bars) <= 16:  # with an axis, many small numbers only clutter
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
    # Group labels and class names are whole: the left margin fits the longest label, the
    # legend has as many columns as its longest name leaves room for (one per line at worst).
    left = max(110, 18 + max(text_width(label) for label, _ in groups))
    if left > width / 2:
        width = int(2 * left)
    f = _Frame(left=left, top=10, right=width - 12, bottom=10 + len(groups) * (bar_height + 6))
    column = 24 + max((text_width(name) for name in order), default=0)
    columns = max(1, min(4, int(f.width // column)))
    legend_rows = (len(order) + columns - 1) // columns
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
        lx = f.left + (i % columns) * (f.width / columns)
        ly = f.bottom + 12 + (i // columns) * 18
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
    # Class names are whole: rows get the longest name's width, column names are slanted
    # (40 degrees up) with room above for the longest.
    longest = max(text_width(c) for c in classes)
    left = longest + 30
    top = 34 + longest * math.sin(math.radians(40))
    key = "shade: share of the row; number: count"
    width = int(
        max(left + k * cell + 12 + longest * math.cos(math.radians(40)), left + text_width(key) + 8)
    )
    height = int(top + k * cell + 22)
    parts = _open(width, height, title, "lf-heatmap")
    parts.append(_label(left + k * cell / 2, 12, f"{column_name} →"))  # above the names
    parts.append(
        _label(
            10,
            top + k * cell / 2,
            f"{row_name} →",
            transform=f"rotate(-90 10 {_num(top + k * cell / 2)})",
        )
    )
    for j, name in enumerate(classes):
        cx, cy = left + j * cell + cell / 2, top - 6
        parts.append(
            _label(cx, cy, name, anchor="start", transform=f"rotate(-40 {_num(cx)} {_num(cy)})")
        )
    for i, name in enumerate(classes):
        total = sum(counts[i])
        y0 = top + i * cell
        parts.append(_label(left - 6, y0 + cell / 2 + 4, name, anchor="end"))
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
    parts.append(_label(left, height - 6, key, anchor="start"))
    parts.append("</svg>")
    return "".join(parts)


# -- a rate per group with its interval -----------------------------------------------------------


def interval_chart(
    rows: Sequence[tuple[str, RatePoint]],
    *,
    title: str,
    width: int = 640,
    row_height: int = 26,
    interval_name: str = "95% CI",
) -> str:
    """One line per ``(group label, point)``: the rate as a dot and its interval [low, high] as
    a whisker on a shared 0 to 100% axis (ticks every 25%), n at the right end. A group
    without a rate (n = 0) keeps its line, saying "no data". No rows gives the empty frame."""
    if not rows:
        return _empty(width, 120, title, "lf-interval-chart")
    left = 18 + max(text_width(label) for label, _ in rows)
    right_text = 12 + max(text_width(f"n = {p.n}") for _, p in rows)
    width = max(width, int(left + right_text + 240))
    f = _Frame(left=left, top=10, right=width - right_text, bottom=10 + len(rows) * row_height)
    height = int(f.bottom + 34)

    def x(v: float) -> float:
        return f.left + max(0.0, min(1.0, v)) * f.width

    parts = _open(width, height, title, "lf-interval-chart")
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line class="lf-tick" x1="{_num(x(tick))}" y1="{_num(f.top)}" x2="{_num(x(tick))}" '
            f'y2="{_num(f.bottom)}" stroke="{AXIS}" stroke-opacity="0.35"/>'
        )
        parts.append(_label(x(tick), f.bottom + 14, percent(tick, 0)))
    for row, (label, p) in enumerate(rows):
        cy = f.top + row * row_height + row_height / 2
        parts.append(_label(f.left - 8, cy + 4, label, anchor="end"))
        if p.rate is None or not p.n:
            parts.append(_label(f.left + 4, cy + 4, "no data", anchor="start", fill_opacity="0.7"))
            continue
        tip = (
            f"{label}: {percent(p.rate)} (n = {p.n}, {interval_name} "
            f"{percent(p.low)}{DASH}{percent(p.high)})"
        )
        parts.append(
            f'<line class="lf-whisker" x1="{_num(x(p.low))}" y1="{_num(cy)}" '
            f'x2="{_num(x(p.high))}" y2="{_num(cy)}" stroke="{BAND}" stroke-width="3"/>'
        )
        parts.append(
            f'<circle cx="{_num(x(p.rate))}" cy="{_num(cy)}" r="4" fill="{LINE}">'
            f"<title>{text(tip)}</title></circle>"
        )
        parts.append(_label(f.right + 8, cy + 4, f"n = {p.n}", anchor="start"))
    return _closed(parts, f.left, height - 4, f"dot: rate; whisker: {interval_name}")
