"""The charts tell time and scale truthfully (issue 14): dated points sit on a time axis where a
missing week is a gap (the line breaks, the next point sits two weeks on), not the next point;
a throughput bar chart has a y axis with round ticks and its name; class names and group labels
are drawn whole however long; the per-vendor interval chart puts each dot and whisker where the
rate and interval are."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta
from itertools import pairwise

import pytest

from qc import charts
from qc.charts import RatePoint

MONDAY = date(2026, 1, 5)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 (our own output); raises unless well-formed
    assert root.tag == "svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in root.iter() if el.tag in ("text", "title")]


def week(k: int, rate: float | None = 0.8, n: int = 10) -> RatePoint:
    at = MONDAY + timedelta(weeks=k)
    return RatePoint(f"{at:%d %b}", rate, 0.5, 0.95, n, at=at)


def lines(root) -> list[list[tuple[float, float]]]:
    return [
        [tuple(map(float, p.split(","))) for p in el.get("points").split()]
        for el in root.iter("polyline")
        if el.get("class") == "lf-line"
    ]


def circles_x(root) -> list[float]:
    return [float(c.get("cx")) for c in root.iter("circle")]


# -- time on a time axis ---------------------------------------------------------------------------


def test_a_missing_week_is_a_gap_in_the_line_and_on_the_axis():
    # Weeks 0, 1, then nothing in week 2, then weeks 3 and 4.
    root = parse(charts.rate_band_chart([week(0), week(1), week(3), week(4)], title="t"))
    segments = lines(root)
    assert [len(s) for s in segments] == [2, 2]  # two runs: the missing week breaks the line
    assert len([el for el in root.iter("polygon") if el.get("class") == "lf-band"]) == 2
    x = circles_x(root)
    step = x[1] - x[0]
    # x follows the dates: week 1 to week 3 is twice as far as week 0 to week 1.
    assert x[2] - x[1] == pytest.approx(2 * step, abs=0.02)
    assert x[3] - x[2] == pytest.approx(step, abs=0.02)
    assert "a gap: no data that period" in " ".join(texts(root))


def test_consecutive_weeks_make_one_line():
    root = parse(charts.rate_band_chart([week(k) for k in range(5)], title="t"))
    assert [len(s) for s in lines(root)] == [5]
    x = circles_x(root)
    assert len({round(b - a, 2) for a, b in pairwise(x)}) == 1


def test_a_week_without_observations_breaks_the_line_too():
    # The selectors may give a week with no checks (rate None): not drawn, and not joined over.
    root = parse(charts.rate_band_chart([week(0), week(1), week(2, None, 0), week(3)], title="t"))
    assert [len(s) for s in lines(root)] == [2]
    assert len(list(root.iter("circle"))) == 3


def test_undated_points_keep_their_order_and_a_point_without_rate_still_breaks():
    a, b, c = (RatePoint(x, r, 0.1, 0.9, 5) for x, r in (("a", 0.5), ("b", None), ("c", 0.6)))
    root = parse(charts.rate_band_chart([a, b, c], title="t"))
    assert lines(root) == []
    assert len(list(root.iter("circle"))) == 2


# -- a y axis on throughput ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "top, ticks",
    [
        (7, [0, 2, 4, 6, 8]),
        (40, [0, 10, 20, 30, 40]),
        (133, [0, 50, 100, 150]),
        (1, [0, 1]),
        (0.62, [0, 0.2, 0.4, 0.6, 0.8]),
    ],
)
def test_ticks_are_round_and_reach_the_top(top, ticks):
    assert charts.nice_ticks(top) == pytest.approx(ticks)


def test_throughput_bars_have_a_y_axis_with_ticks_and_a_name():
    days = [
        (f"{d:02d} Jan", v) for d, v in zip(range(1, 31), [0, 3, 7, 0] * 7 + [5, 2], strict=True)
    ]
    root = parse(
        charts.bar_chart(
            days, title="Labels per day", value_name="labels", y_label="labels per day"
        )
    )
    ticks = [el for el in root.iter("line") if el.get("class") == "lf-tick"]
    assert len(ticks) == 5  # 0, 2, 4, 6, 8
    shown = texts(root)
    assert {"0", "2", "4", "6", "8"} <= set(shown)
    name = next(el for el in root.iter("text") if el.get("class") == "lf-y")
    assert name.text == "labels per day" and name.get("transform").startswith("rotate(-90")
    # The bars scale to the top tick (8), so the 7-label days reach 7/8 of the axis.
    heights = sorted({float(el.get("height")) for el in root.iter("rect")})
    assert heights[-1] / (220 - 30 - 18) == pytest.approx(7 / 8, abs=0.001)
    # Thirty days: the x labels are thinned, each day keeps its bar and tooltip.
    assert len(list(root.iter("rect"))) == 30


# -- long names survive -------------------------------------------------------------------------

LONG = "corrosion under the insulation sleeve"


def test_heatmap_draws_long_class_names_whole_and_inside_the_chart():
    svg = charts.heatmap([LONG, "ok"], [[3, 1], [0, 2]], title="Confusion")
    root = parse(svg)
    assert texts(root).count(LONG) == 2  # the row and the column, whole
    assert "…" not in "".join(texts(root))
    width = float(root.get("width"))
    row_label = next(
        el for el in root.iter("text") if el.text == LONG and el.get("text-anchor") == "end"
    )
    assert float(row_label.get("x")) >= charts.text_width(LONG)  # room on its left
    column = next(el for el in root.iter("text") if el.text == LONG and el.get("transform"))
    assert "rotate(-40" in column.get("transform")
    assert float(root.get("height")) > 34 + charts.text_width(LONG) * 0.6  # room above
    assert width >= float(column.get("x")) + charts.text_width(LONG) * 0.76


def test_heatmap_of_short_names_keeps_its_key_whole():
    root = parse(charts.heatmap(["ok", "rust"], [[3, 1], [0, 2]], title="Confusion"))
    key = next(el for el in root.iter("text") if el.text.startswith("shade:"))
    assert float(key.get("x")) + charts.text_width(key.text) <= float(root.get("width"))


def test_stacked_bars_keep_long_group_labels_and_class_names():
    groups = [("batch 12 — imported from the spring survey", [(LONG, 3), ("ok", 1)])]
    root = parse(charts.stacked_bar_chart(groups, title="t"))
    names = texts(root)
    assert "batch 12 — imported from the spring survey" in names and LONG in names
    label = next(el for el in root.iter("text") if el.text.startswith("batch 12"))
    assert float(label.get("x")) >= charts.text_width(label.text)
    # The legend has room for the long name: its next entry starts after it.
    legend = [el for el in root.iter("text") if el.text in (LONG, "ok")]
    (long_el,) = [el for el in legend if el.text == LONG]
    (ok_el,) = [el for el in legend if el.text == "ok"]
    same_line = long_el.get("y") == ok_el.get("y")
    assert not same_line or float(ok_el.get("x")) >= float(long_el.get("x")) + charts.text_width(
        LONG
    )


# -- a rate per vendor --------------------------------------------------------------------------


def test_interval_chart_puts_each_dot_and_whisker_at_its_rate():
    rows = [
        ("Acme Annotation Services International", RatePoint("", 0.8, 0.6, 0.9, 40)),
        ("Internal labelers", RatePoint("", 0.5, 0.25, 0.75, 12)),
        ("New vendor", RatePoint("", None, 0.0, 1.0, 0)),
    ]
    root = parse(charts.interval_chart(rows, title="Gold accuracy per vendor"))
    whiskers = [el for el in root.iter("line") if el.get("class") == "lf-whisker"]
    dots = list(root.iter("circle"))
    assert len(whiskers) == len(dots) == 2  # the vendor without data has none
    ticks = [float(el.get("x1")) for el in root.iter("line") if el.get("class") == "lf-tick"]
    zero, full = ticks[0], ticks[-1]

    def at(v):
        return zero + v * (full - zero)

    assert float(dots[0].get("cx")) == pytest.approx(at(0.8), abs=0.01)
    assert float(whiskers[0].get("x1")) == pytest.approx(at(0.6), abs=0.01)
    assert float(whiskers[0].get("x2")) == pytest.approx(at(0.9), abs=0.01)
    assert float(dots[1].get("cx")) == pytest.approx(at(0.5), abs=0.01)
    shown = texts(root)
    assert "Acme Annotation Services International" in shown and "no data" in shown
    assert "n = 40" in shown and "n = 12" in shown
    assert dots[0].find("title").text.startswith("Acme Annotation Services International: 80.0%")
    assert zero >= charts.text_width("Acme Annotation Services International")
