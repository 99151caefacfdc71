"""The landing page's sparkline: pure, escaped, one bar per day with progress."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from operations.charts import sparkline


def test_one_bar_per_nonzero_day_scaled_to_the_largest():
    svg = sparkline([0, 2, 4, 0, 1], title="Poles <1>")
    root = ET.fromstring(svg)  # noqa: S314 (our own output); raises unless well-formed
    bars = root.findall("rect")
    assert len(bars) == 3
    heights = [float(b.get("height")) for b in bars]
    assert heights[1] == max(heights) and heights[0] < heights[1]
    assert [b.find("title").text for b in bars] == ["3 d ago: 2", "2 d ago: 4", "today: 1"]
    assert root.find("title").text == "Poles <1>"
    assert 'aria-label="Poles &lt;1&gt;"' in svg


def test_all_zero_draws_only_the_baseline():
    root = ET.fromstring(sparkline([0] * 14, title="idle"))  # noqa: S314 (our own output)
    assert root.findall("rect") == []
    assert len(root.findall("line")) == 1
