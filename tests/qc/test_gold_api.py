"""Gold API (ops only): sets, items, import (multipart and raw body) and streamed export."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from qc.models import AnswerType, GoldItem, GoldSet
from qc.services import gold as services
from tests.qc.factories import GuideFactory, make_gold_item, make_gold_set, publish_version

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"detail", "code", "fields"}


@pytest.fixture
def ops(client_for, ops_user):
    return client_for(ops_user)


@pytest.fixture
def gold_set(db):
    guide = GuideFactory(slug="poles")
    publish_version(guide)
    return make_gold_set(guide=guide, slug="poles-gold")


def _csv_text(n: int, bad_row: int | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["external_id", "image_url", "accepted_answers", "guide_version"])
    for i in range(1, n + 1):
        answer = ["tree"] if i == bad_row else ["crack"]
        writer.writerow([f"g-{i}", f"img/{i}.jpg", json.dumps(answer), "1.0"])
    return buffer.getvalue()


# -- sets -----------------------------------------------------------------------------------------


def test_create_and_list_gold_sets(ops, gold_set):
    response = ops.post(
        "/api/v1/gold-sets/",
        {
            "slug": "boxes",
            "name": "Boxes",
            "answer_type": "boxes",
            "classes": ["pole", "insulator"],
            "iou_threshold": "0.70",
            "guide": "poles",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["guide"], body["iou_threshold"], body["item_count"]) == ("poles", "0.70", 0)

    make_gold_item(gold_set)
    make_gold_item(gold_set, status="retired")
    rows = {s["slug"]: s for s in ops.get("/api/v1/gold-sets/").json()["results"]}
    assert set(rows) == {"boxes", "poles-gold"}
    assert (rows["poles-gold"]["active_count"], rows["poles-gold"]["retired_count"]) == (1, 1)
    detail = ops.get(f"/api/v1/gold-sets/{gold_set.pk}/").json()
    assert detail["classes"] == ["crack", "rust", "ok"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"classes": []}, "classes"),
        ({"classes": ["a", "a"]}, "classes"),
        ({"iou_threshold": "1.50"}, "iou_threshold"),
        ({"answer_type": "essay"}, "answer_type"),
        ({"guide": "nope"}, "guide"),
        ({"is_public": True}, "is_public"),  # strict input: unknown field
    ],
)
def test_create_gold_set_errors(ops, body, field):
    data = {"slug": "s", "name": "S", "answer_type": "single_choice", "classes": ["a"], **body}
    response = ops.post("/api/v1/gold-sets/", data, format="json")
    assert response.status_code == 400
    assert set(response.json()) == ERROR_KEYS
    assert field in response.json()["fields"]
    assert not GoldSet.objects.filter(slug="s").exists()


# -- items ----------------------------------------------------------------------------------------


def test_create_item_with_guide_version_number(ops, gold_set):
    response = ops.post(
        f"/api/v1/gold-sets/{gold_set.pk}/items/",
        {
            "external_id": "x-1",
            "payload": {"image_url": "img/x.jpg", "metadata": {"site": 4}},
            "accepted_answers": ["rust", "crack"],
            "explanation": "Orange streaks.",
            "guide_version": "1.0",
            "difficulty": "hard",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["guide_version"], body["stratum"], body["status"]) == ("1.0", "rust", "active")
    assert body["accepted_answers"] == ["rust", "crack"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"accepted_answers": []}, "accepted_answers"),
        ({"accepted_answers": ["tree"]}, "accepted_answers"),
        ({"payload": {"image_url": "javascript:alert(1)"}}, "payload"),
        ({"guide_version": "7.0"}, "guide_version"),
        ({"stratum": "crack"}, "stratum"),  # derived, not accepted
    ],
)
def test_create_item_errors(ops, gold_set, body, field):
    data = {
        "external_id": "x-1",
        "payload": {"image_url": "img/x.jpg"},
        "accepted_answers": ["crack"],
        **body,
    }
    response = ops.post(f"/api/v1/gold-sets/{gold_set.pk}/items/", data, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not GoldItem.objects.exists()


def test_item_list_filters(ops, gold_set):
    make_gold_item(gold_set, external_id="a", accepted_answers=["crack"])
    make_gold_item(gold_set, external_id="b", accepted_answers=["rust"], status="quarantined")
    make_gold_item(gold_set, external_id="c", accepted_answers=["rust"], difficulty="hard")
    url = f"/api/v1/gold-sets/{gold_set.pk}/items/"

    def ids(**params):
        return {i["external_id"] for i in ops.get(url, params).json()["results"]}

    assert ids() == {"a", "b", "c"}
    assert ids(status="quarantined") == {"b"}
    assert ids(stratum="rust") == {"b", "c"}
    assert ids(difficulty="hard") == {"c"}


def test_items_of_a_missing_set_are_404(ops):
    assert ops.get("/api/v1/gold-sets/987654/items/").status_code == 404


def test_gold_item_list_query_count(ops, gold_set, django_assert_max_num_queries):
    version = gold_set.guide.versions.get()
    for _ in range(3):
        make_gold_item(gold_set, guide_version=version)
    url = f"/api/v1/gold-sets/{gold_set.pk}/items/"
    with django_assert_max_num_queries(3):
        assert len(ops.get(url).json()["results"]) == 3
    for _ in range(40):
        make_gold_item(gold_set, guide_version=version)
    with django_assert_max_num_queries(3):
        response = ops.get(url)
    assert len(response.json()["results"]) == 43
    assert {i["guide_version"] for i in response.json()["results"]} == {"1.0"}


# -- import ---------------------------------------------------------------------------------------


def test_import_multipart_csv(ops, gold_set):
    upload = SimpleUploadedFile("gold.csv", _csv_text(30).encode(), content_type="text/csv")
    response = ops.post(f"/api/v1/gold-sets/{gold_set.pk}/import/", {"file": upload})
    assert response.status_code == 201, response.json()
    assert response.json() == {"created": 30, "updated": 0, "unchanged": 0, "control_checks": []}
    assert GoldItem.objects.filter(gold_set=gold_set).count() == 30


def test_import_raw_body_with_format_parameter(ops, gold_set):
    url = f"/api/v1/gold-sets/{gold_set.pk}/import/?format=csv"
    response = ops.generic("POST", url, _csv_text(5), content_type="text/csv")
    assert response.status_code == 201, response.json()
    assert response.json()["created"] == 5
    # The same file again: nothing new, nothing changed.
    response = ops.generic("POST", url, _csv_text(5), content_type="application/octet-stream")
    assert response.json() == {"created": 0, "updated": 0, "unchanged": 5, "control_checks": []}


def test_import_raw_jsonl_by_content_type(ops, gold_set):
    lines = "\n".join(
        json.dumps({"external_id": f"j{i}", "image_url": "a.jpg", "accepted_answers": ["ok"]})
        for i in range(3)
    )
    response = ops.generic(
        "POST",
        f"/api/v1/gold-sets/{gold_set.pk}/import/",
        lines,
        content_type="application/x-ndjson",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["created"] == 3


def test_import_with_a_bad_row_is_400_with_row_errors_and_writes_nothing(ops, gold_set):
    upload = SimpleUploadedFile("gold.csv", _csv_text(50, bad_row=37).encode())
    response = ops.post(f"/api/v1/gold-sets/{gold_set.pk}/import/", {"file": upload})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == "import_invalid"
    assert body["fields"]["rows"] == [
        {
            "row": 38,
            "field": "accepted_answers",
            "message": "Accepted answer 0: 'tree' is not one of the labels.",
        }
    ]
    assert not GoldItem.objects.exists()


def test_import_without_a_known_format_is_400(ops, gold_set):
    upload = SimpleUploadedFile("gold.txt", _csv_text(2).encode())
    response = ops.post(f"/api/v1/gold-sets/{gold_set.pk}/import/", {"file": upload})
    assert response.status_code == 400
    assert "format" in response.json()["fields"]
    response = ops.post(
        f"/api/v1/gold-sets/{gold_set.pk}/import/?format=xlsx",
        {"file": SimpleUploadedFile("gold.csv", b"x")},
    )
    assert response.status_code == 400
    assert "format" in response.json()["fields"]


def test_import_needs_a_file(ops, gold_set):
    response = ops.post(f"/api/v1/gold-sets/{gold_set.pk}/import/", {"other": "x"})
    assert response.status_code == 400
    assert "other" in response.json()["fields"]  # strict input: unknown field
    response = ops.post(f"/api/v1/gold-sets/{gold_set.pk}/import/", {}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["fields"]
    response = ops.generic("POST", f"/api/v1/gold-sets/{gold_set.pk}/import/?format=csv", b"")
    assert response.status_code == 400


def test_oversize_import_is_413(ops, gold_set, monkeypatch):
    monkeypatch.setattr(services, "GOLD_IMPORT_MAX_BYTES", 100)
    text = _csv_text(10)
    response = ops.generic(
        "POST", f"/api/v1/gold-sets/{gold_set.pk}/import/?format=csv", text, content_type="text/csv"
    )
    assert response.status_code == 413
    assert response.json()["code"] == "import_too_large"
    upload = SimpleUploadedFile("gold.csv", text.encode())
    response = ops.post(f"/api/v1/gold-sets/{gold_set.pk}/import/", {"file": upload})
    assert response.status_code == 413
    assert not GoldItem.objects.exists()


def test_a_raw_body_past_the_global_memory_limit_is_spooled_to_disk_and_read_from_there(
    ops, gold_set, settings, monkeypatch
):
    """The import reads a raw body up to its own limit (GOLD_IMPORT_MAX_BYTES, 20 MB), past the
    global DATA_UPLOAD_MAX_MEMORY_SIZE: spooled to a temporary file on disk, which the service
    reads its rows from — the body is never bytes in memory. A multipart file goes to the
    service as a file too."""
    received = []
    gold_import = services.gold_import

    def spy(**kwargs):
        received.append(kwargs["data"])
        return gold_import(**kwargs)

    monkeypatch.setattr(services, "gold_import", spy)
    padding = "x" * 15_000  # within the 16 KB of metadata a row may have
    lines = [
        json.dumps(
            {
                "external_id": f"big-{i}",
                "image_url": f"img/{i}.jpg",
                "metadata": {"note": padding},
                "accepted_answers": ["crack"],
            }
        )
        for i in range(720)
    ]
    body = "\n".join(lines).encode()
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < len(body) <= services.GOLD_IMPORT_MAX_BYTES
    response = ops.generic(
        "POST",
        f"/api/v1/gold-sets/{gold_set.pk}/import/",
        body,
        content_type="application/x-ndjson",
    )
    assert response.status_code == 201, response.content[:500]
    assert response.json()["created"] == 720
    assert GoldItem.objects.get(external_id="big-719").payload["metadata"] == {"note": padding}
    spooled = received[0]
    assert not isinstance(spooled, bytes | str)
    assert spooled._rolled  # the SpooledTemporaryFile went to disk

    upload = SimpleUploadedFile("gold.csv", _csv_text(3).encode(), content_type="text/csv")
    response = ops.post(f"/api/v1/gold-sets/{gold_set.pk}/import/", {"file": upload})
    assert response.status_code == 201, response.json()
    assert hasattr(received[1], "read") and not isinstance(received[1], bytes | str)


# -- export ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_format", "content_type"), [("csv", "text/csv"), ("jsonl", "application/x-ndjson")]
)
def test_export_streams_and_round_trips(ops, gold_set, file_format, content_type):
    for i in range(3):
        make_gold_item(gold_set, external_id=f"e{i}", metadata={"i": i})
    response = ops.get(f"/api/v1/gold-sets/{gold_set.pk}/export/", {"format": file_format})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith(content_type)
    assert f'filename="poles-gold-gold.{file_format}"' in response["Content-Disposition"]
    content = b"".join(response.streaming_content)
    back = ops.generic(
        "POST",
        f"/api/v1/gold-sets/{gold_set.pk}/import/?format={file_format}",
        content,
        content_type=content_type,
    )
    assert back.json() == {"created": 0, "updated": 0, "unchanged": 3, "control_checks": []}


def test_export_defaults_to_csv_and_rejects_unknown_formats(ops, gold_set):
    response = ops.get(f"/api/v1/gold-sets/{gold_set.pk}/export/")
    assert response["Content-Type"].startswith("text/csv")
    assert b"".join(response.streaming_content).startswith(b"external_id,image_url")
    response = ops.get(f"/api/v1/gold-sets/{gold_set.pk}/export/", {"format": "xml"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "format" in response.json()["fields"]


def test_boxes_set_round_trip_through_the_api(ops):
    gold_set = make_gold_set(answer_type=AnswerType.BOXES)
    make_gold_item(
        gold_set,
        accepted_answers=[[{"label": "pole", "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4}], []],
    )
    content = b"".join(
        ops.get(f"/api/v1/gold-sets/{gold_set.pk}/export/?format=jsonl").streaming_content
    )
    back = ops.generic("POST", f"/api/v1/gold-sets/{gold_set.pk}/import/?format=jsonl", content)
    assert back.json() == {"created": 0, "updated": 0, "unchanged": 1, "control_checks": []}
