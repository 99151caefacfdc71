"""The SVG chart helpers of the quality dashboards: well-formed XML for every input (empty,
one point, hostile text), text escaped, no script or external reference, and the geometry
that carries the numbers (the band spans the interval, bars scale to the largest value,
heatmap shading follows the row share)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from qc import charts
from qc.charts import RatePoint

HOSTILE = 'x<script>alert("1")</script>&amp;\x00\x1f"\''


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 (our own output); raises unless well-formed
    assert root.tag == "svg"
    return root


def no_active_content(svg: str) -> None:
    assert "<script" not in svg
    assert "http://" not in svg and "https://" not in svg
    assert not re.search(r"\son\w+=", svg), "no event-handler attributes"
    assert 'font-family="sans-serif"' in svg


def texts(root: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in root.iter() if el.tag in ("text", "title")]


WEEKS = [
    RatePoint("06 Jan", 0.8, 0.4902, 0.9433, 10),
    RatePoint("13 Jan", None, 0.0, 1.0, 0),  # no checks that week: left out
    RatePoint("20 Jan", 0.5, 0.2366, 0.7634, 12),
]


def all_charts(label: str) -> list[str]:
    return [
        charts.rate_band_chart([RatePoint(label, 0.5, 0.2, 0.8, 4)] * 2, title=label),
        charts.bar_chart([(label, 3), ("b", 1)], title=label, value_name=label),
        charts.stacked_bar_chart([(label, [(label, 2), ("ok", 1)])], title=label),
        charts.heatmap([label, "ok"], [[3, 1], [0, 2]], title=label, row_name=label),
    ]


@pytest.mark.parametrize("index", range(4))
def test_hostile_text_is_escaped_and_the_output_stays_well_formed(index):
    svg = all_charts(HOSTILE)[index]
    root = parse(svg)
    no_active_content(svg)
    assert "\x00" not in svg and "\x1f" not in svg
    # The text survives as text: the parser gives back the label without the forbidden
    # characters, markup and all, as characters rather than elements.
    assert 'x<script>alert("1")</script>&amp;"\'' in "".join(texts(root))
    assert not [el for el in root.iter() if el.tag == "script"]


@pytest.mark.parametrize(
    "svg",
    [
        charts.rate_band_chart([], title="t"),
        charts.rate_band_chart([RatePoint("w", None, 0.0, 1.0, 0)], title="t"),
        charts.bar_chart([], title="t"),
        charts.bar_chart([("a", 0), ("b", 0)], title="t"),
        charts.stacked_bar_chart([], title="t"),
        charts.heatmap([], [], title="t"),
        charts.heatmap(["a", "b"], [[0, 0], [0, 0]], title="t"),
    ],
)
def test_empty_inputs_give_a_frame_saying_so(svg):
    root = parse(svg)
    no_active_content(svg)
    assert charts.EMPTY_TEXT in texts(root)


def test_rate_chart_band_spans_each_interval_and_the_tooltip_states_n_and_the_interval():
    # Two neighbouring points (the week without checks would break the line between them:
    # tests/qc/test_charts_axes.py).
    svg = charts.rate_band_chart([WEEKS[0], WEEKS[2]], title="Weekly gold accuracy")
    root = parse(svg)
    no_active_content(svg)
    # Plot area: y from 12 (100%) to 240 - 36 = 204 (0%), so y(v) = 204 - 192 v.
    band = next(el for el in root.iter("polygon") if el.get("class") == "lf-band")
    ys = sorted(float(p.split(",")[1]) for p in band.get("points").split())
    assert ys == pytest.approx(
        sorted(204 - 192 * v for v in (0.9433, 0.7634, 0.4902, 0.2366)), abs=0.01
    )
    line = next(el for el in root.iter("polyline") if el.get("class") == "lf-line")
    assert [float(p.split(",")[1]) for p in line.get("points").split()] == pytest.approx(
        [204 - 192 * 0.8, 204 - 192 * 0.5], abs=0.01
    )
    assert len(list(root.iter("circle"))) == 2
    tips = [circle.find("title").text for circle in root.iter("circle")]
    assert tips == [
        "06 Jan: 80.0% (n = 10, 95% CI 49.0%\u201394.3%)",
        "20 Jan: 50.0% (n = 12, 95% CI 23.7%\u201376.3%)",
    ]


def test_a_single_point_has_a_whisker_but_no_band():
    root = parse(charts.rate_band_chart(WEEKS[:1], title="t"))
    assert not list(root.iter("polygon"))
    whiskers = [el for el in root.iter("line") if el.get("stroke-width") == "3"]
    assert len(whiskers) == 1
    assert float(whiskers[0].get("y1")) == pytest.approx(204 - 192 * 0.4902, abs=0.01)
    assert float(whiskers[0].get("y2")) == pytest.approx(204 - 192 * 0.9433, abs=0.01)


def test_bars_scale_to_the_largest_value_and_show_it():
    root = parse(charts.bar_chart([("0.0", 2), ("0.1", 8), ("0.2", 0)], title="h"))
    heights = [float(el.get("height")) for el in root.iter("rect")]
    # Plot height: 220 - 30 - 18 = 172 for the largest bar.
    assert heights == pytest.approx([43, 172, 0])
    assert {"2", "8", "0"} <= set(texts(root))
    with pytest.raises(ValueError):
        charts.bar_chart([("a", 1), ("b", -1)], title="h")


def test_stacked_bars_split_by_share_in_a_fixed_class_order():
    svg = charts.stacked_bar_chart(
        [("batch 1", [("ok", 3), ("crack", 1)]), ("batch 2", [("crack", 2)])],
        classes=["crack", "ok"],
        title="Final labels per batch",
    )
    root = parse(svg)
    segments = [el for el in root.iter("rect") if el.find("title") is not None]
    assert [el.find("title").text for el in segments] == [
        "batch 1: crack 1 of 4 (25.0%)",
        "batch 1: ok 3 of 4 (75.0%)",
        "batch 2: crack 2 of 2 (100.0%)",
    ]
    full = 640 - 12 - 110
    assert [float(el.get("width")) for el in segments] == pytest.approx(
        [full / 4, full * 3 / 4, full], abs=0.01
    )
    # One colour per class across bars.
    assert segments[0].get("fill") == segments[2].get("fill") != segments[1].get("fill")


def test_heatmap_shades_by_row_share_and_writes_counts():
    root = parse(charts.heatmap(["crack", "rust"], [[8, 2], [0, 5]], title="Confusion"))
    cells = [el for el in root.iter("rect") if el.find("title") is not None]
    assert [float(el.get("fill-opacity")) for el in cells] == pytest.approx(
        [0.06 + 0.94 * 0.8, 0.06 + 0.94 * 0.2, 0.06, 1.0], abs=0.01
    )
    assert cells[0].find("title").text == "gold crack, answered crack: 8 (80.0% of the row)"
    assert {"8", "2", "0", "5"} <= set(texts(root))
    with pytest.raises(ValueError):
        charts.heatmap(["a", "b"], [[1, 2]], title="not square")
