"""qc.payload_shape: the shape of a payload and how control payloads compare with real ones.
Pure; plain examples, no database."""

from __future__ import annotations

import pytest

from qc.payload_shape import (
    EXTRA_KEY,
    MAX_DIFFERENCES,
    MISSING_KEY,
    TEXT,
    TYPE,
    URL_SHAPE,
    ShapeReport,
    compare,
    json_type,
    profile_of,
    render_path,
    shape_of,
    url_shape,
)
from tests.qc.factories import demo_gold_payload


@pytest.mark.parametrize(
    ("value", "shape"),
    [
        # scheme and host lower-cased, the port kept, directories literal, digit runs by length
        ("https://demo.example/north/0042.jpg", "https://demo.example/north/####.jpg"),
        ("https://demo.example/poles/042.jpg", "https://demo.example/poles/###.jpg"),
        ("HTTPS://Cdn.Example:9000/b/1.jpg", "https://cdn.example:9000/b/#.jpg"),
        ("https://user:pw@cdn.example/b/1.jpg", "https://cdn.example/b/#.jpg"),
        ("https://x/1.jpg", "https://x/#.jpg"),
        ("https://x", "https://x"),
        # digits in directories become one # per digit; letters of directories stay
        ("https://x/2024/06/a/1.jpg", "https://x/####/##/a/#.jpg"),
        # a file name is its runs: digits by length, anything else one *
        ("https://x/a/DSC_0042.jpg", "https://x/a/*####.jpg"),
        ("https://x/a/img-7-b.png", "https://x/a/*#*.png"),
        ("https://x/a/photo.png", "https://x/a/*.png"),
        # the extension as written
        ("https://x/a/0042.JPG", "https://x/a/####.JPG"),
        # opaque ids by length
        (
            "https://x/550e8400-e29b-41d4-a716-446655440000/f3a9b2c1d4.png",
            "https://x/<hex:36>/<hex:10>.png",
        ),
        # query parameter names, sorted; their values dropped
        ("https://x/a/1.jpg?v=2&sig=abc&v=3", "https://x/a/#.jpg?sig&v"),
        # paths
        ("images/0001.jpg", "images/####.jpg"),
        ("/media/x.png", "/media/*.png"),
        ("images/0001.jpg?a=1", "images/####.jpg?a"),
        # text
        ("hello world", TEXT),
        ("N/A", TEXT),
        ("2024/05/01", TEXT),
        ("crack", TEXT),
        ("", TEXT),
        ("https://bad host/1.jpg", TEXT),
        ("https://[::1/1.jpg", TEXT),
    ],
)
def test_url_shape(value, shape):
    assert url_shape(value) == shape


def test_json_types_tell_integers_from_numbers():
    assert [json_type(v) for v in (None, True, 1, 1.0, "a", [], {})] == [
        "null",
        "boolean",
        "integer",
        "number",
        "string",
        "array",
        "object",
    ]


def test_shape_of_walks_nested_keys_and_list_items():
    shape = shape_of(
        {
            "image_url": "https://x/a/1.jpg",
            "metadata": {"tags": ["a", 2], "boxes": [{"x": 1.5}], "a.b": None},
        }
    )
    rendered = {render_path(p) for p in shape.keys}
    assert rendered == {
        "image_url",
        "metadata",
        "metadata.tags",
        "metadata.tags[]",
        "metadata.boxes",
        "metadata.boxes[]",
        "metadata.boxes[].x",
        'metadata["a.b"]',
    }
    assert shape.types[("metadata", "tags", "[]")] == {"string", "integer"}
    assert shape.urls[("image_url",)] == {"https://x/a/#.jpg"}
    assert shape.urls[("metadata", "tags", "[]")] == {TEXT}


def test_shape_of_survives_deep_and_wide_values():
    deep: list = []
    for _ in range(5_000):
        deep = [deep]
    wide = {"metadata": {f"k{i}": i for i in range(10_000)}}
    assert len(shape_of(deep).keys) <= 16
    assert len(shape_of(wide).keys) < 2_001


REAL = [
    {
        "image_url": f"https://demo.example/north/{n:04d}.jpg",
        "metadata": {"pole_id": f"N-{7000 + n}", "flight": f"F{n // 30}"},
    }
    for n in range(1, 61)
]


def _controls(payloads):
    return [(f"G{i}", p) for i, p in enumerate(payloads)]


def test_controls_shaped_like_real_tasks_are_clean():
    controls = _controls(
        {
            "image_url": f"https://demo.example/north/{n:04d}.jpg",
            "metadata": {"pole_id": f"N-{9000 + n}", "flight": "F9"},
        }
        for n in range(500, 540)
    )
    report = compare(profile_of(REAL), controls)
    assert report.compared and report.ok
    assert (report.real_sampled, report.controls_checked, report.controls_differing) == (60, 40, 0)


def test_the_demo_difference_is_found_key_by_key():
    """The demo before the fix: another directory, three digits, seven metadata keys."""
    controls = _controls(demo_gold_payload(n) for n in range(1, 41))
    report = compare(profile_of(REAL), controls)
    assert not report.ok and report.controls_differing == 40
    by_kind: dict[str, set[str]] = {}
    for d in report.differences:
        by_kind.setdefault(d.kind, set()).add(d.path)
        assert d.items == 40 and len(d.examples) == 5
    assert by_kind[EXTRA_KEY] == {
        "metadata.material",
        "metadata.region",
        "metadata.captured_at",
        "metadata.altitude_m",
        "metadata.view",
    }
    assert by_kind[URL_SHAPE] == {"image_url"}
    url = next(d for d in report.differences if d.kind == URL_SHAPE)
    assert url.control == "https://demo.example/poles/###.jpg"
    assert url.real == ("https://demo.example/north/####.jpg",)
    assert MISSING_KEY not in by_kind and TYPE not in by_kind
    fields = report.field_messages()
    assert set(fields) == {EXTRA_KEY, URL_SHAPE}
    assert "metadata.view: present in 40 of 40 control items" in " ".join(fields[EXTRA_KEY])


def test_missing_keys_types_and_only_the_outermost_key():
    real = [{"image_url": "a/1.jpg", "metadata": {"site": {"id": 1, "zone": "n"}, "h": 1.5}}] * 3
    controls = _controls(
        [
            {"image_url": "a/2.jpg", "metadata": {"h": "1.5"}},  # site (and its keys) missing
            {"image_url": "a/3.jpg", "metadata": {"site": {"id": 1.0, "zone": "s"}, "h": 2}},
        ]
    )
    report = compare(profile_of(real), controls)
    found = {(d.kind, d.path, d.control, d.items) for d in report.differences}
    assert found == {
        (MISSING_KEY, "metadata.site", "", 1),
        (TYPE, "metadata.h", "string", 1),
        (TYPE, "metadata.h", "integer", 1),
        (TYPE, "metadata.site.id", "number", 1),
    }


def test_keys_some_real_tasks_lack_are_optional():
    real = [
        {"image_url": "a/1.jpg", "metadata": {"note": "x"}},
        {"image_url": "a/2.jpg", "metadata": {}},
        {"image_url": "a/3.jpg", "metadata": {"note": None}},
    ]
    controls = _controls(
        [
            {"image_url": "a/4.jpg", "metadata": {}},
            {"image_url": "a/5.jpg", "metadata": {"note": None}},
            {"image_url": "a/6.jpg", "metadata": {"note": "y"}},
        ]
    )
    assert compare(profile_of(real), controls).ok


def test_text_where_real_tasks_have_urls_and_the_reverse():
    real = [{"image_url": "https://x/a/1.jpg", "metadata": {"note": "fine"}}]
    controls = _controls([{"image_url": "no url here", "metadata": {"note": "https://x/a/1.jpg"}}])
    found = {(d.path, d.control) for d in compare(profile_of(real), controls).differences}
    assert found == {("image_url", TEXT), ("metadata.note", "https://x/a/#.jpg")}


def test_nothing_to_compare_without_real_tasks():
    report = compare(profile_of([]), _controls([{"image_url": "a/1.jpg"}]))
    assert report.ok and not report.compared and report.controls_checked == 1
    assert "Nothing to compare" in report.summary()


def test_signatures_ignore_how_many_items_differ():
    one = compare(profile_of(REAL), _controls([{"image_url": "b/1.jpg", "metadata": {}}]))
    two = compare(profile_of(REAL), _controls([{"image_url": "b/2.jpg", "metadata": {}}] * 2))
    assert one.signatures() == two.signatures() and one.differences != two.differences


def test_a_report_is_bounded_and_round_trips():
    controls = _controls([{"metadata": {f"k{i}": 1 for i in range(80)}}])
    report = compare(profile_of([{"metadata": {}}]), controls)
    assert len(report.differences) == MAX_DIFFERENCES and report.more == 30
    assert ShapeReport.from_dict(report.to_dict()) == report
    assert report.field_messages()["more"] == ["30 more differences not listed."]
