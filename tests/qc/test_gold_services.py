"""Gold services: sets, items per answer type, status changes, and the all-or-nothing import and
its export round trip."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.exceptions import ValidationError

from config.errors import Conflict, InvalidTransition
from qc.models import AnswerType, GoldItem, GoldItemStatusChange, GoldSet
from qc.selectors.gold import gold_items_drawable, gold_strata
from qc.services import gold as services
from tests.conftest import requires_postgres
from tests.factories import race
from tests.qc.factories import (
    GuideFactory,
    make_draft,
    make_gold_item,
    make_gold_set,
    publish_version,
)

pytestmark = pytest.mark.django_db

GS = GoldItem.Status
BOX = {"label": "pole", "x": 10.0, "y": 20.0, "w": 30.0, "h": 40.0}


def _snapshot(gold_set: GoldSet) -> list[tuple]:
    return list(
        GoldItem.objects.filter(gold_set=gold_set)
        .order_by("external_id")
        .values_list(
            "external_id",
            "payload",
            "accepted_answers",
            "explanation",
            "difficulty",
            "status",
            "stratum",
            "guide_version_id",
            "updated_at",
        )
    )


# -- gold sets ------------------------------------------------------------------------------------


def test_gold_set_create(ops_user):
    guide = GuideFactory()
    gold_set = services.gold_set_create(
        actor=ops_user,
        slug="poles-gold",
        name="Poles gold",
        answer_type=AnswerType.BOXES,
        classes=["pole", "insulator"],
        iou_threshold="0.75",
        guide=guide,
    )
    gold_set.refresh_from_db()
    assert gold_set.classes == ["pole", "insulator"]
    assert str(gold_set.iou_threshold) == "0.75"


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"classes": []}, "classes", "non-empty list"),
        ({"classes": "crack"}, "classes", "non-empty list"),
        ({"classes": ["crack", "crack"]}, "classes", "listed twice"),
        ({"classes": ["crack", ""]}, "classes", "non-empty string"),
        ({"classes": ["crack", 3]}, "classes", "non-empty string"),
        ({"classes": [" crack"]}, "classes", "leading or trailing"),
        ({"iou_threshold": "0"}, "iou_threshold", "greater than 0"),
        ({"iou_threshold": "1.5"}, "iou_threshold", "at most 1"),
        ({"iou_threshold": "0.555"}, "iou_threshold", "two decimal places"),
        ({"iou_threshold": "high"}, "iou_threshold", "Expected a number"),
        ({"iou_threshold": True}, "iou_threshold", "Expected a number"),
        ({"answer_type": "essay"}, "answer_type", "Must be one of"),
        ({"slug": "not a slug"}, "slug", "slug"),
    ],
)
def test_gold_set_create_rejects(kwargs, field, message):
    arguments = {
        "actor": None,
        "slug": "gold",
        "name": "Gold",
        "answer_type": AnswerType.SINGLE_CHOICE,
        "classes": ["crack", "rust"],
        **kwargs,
    }
    with pytest.raises(ValidationError) as exc:
        services.gold_set_create(**arguments)
    assert message.lower() in " ".join(exc.value.message_dict[field]).lower()
    assert not GoldSet.objects.exists()


def test_gold_set_slug_is_unique():
    make_gold_set(slug="gold")
    with pytest.raises(ValidationError) as exc:
        make_gold_set(slug="gold")
    assert "slug" in exc.value.message_dict


def test_gold_set_update_may_add_classes_but_not_remove_them():
    gold_set = make_gold_set(classes=["crack", "rust"])
    services.gold_set_update(
        actor=None, gold_set=gold_set, data={"classes": ["crack", "rust", "bird"]}
    )
    gold_set.refresh_from_db()
    assert gold_set.classes == ["crack", "rust", "bird"]
    with pytest.raises(ValidationError) as exc:
        services.gold_set_update(actor=None, gold_set=gold_set, data={"classes": ["crack"]})
    assert "cannot be removed" in " ".join(exc.value.message_dict["classes"])
    with pytest.raises(ValidationError) as exc:
        services.gold_set_update(actor=None, gold_set=gold_set, data={"answer_type": "boxes"})
    assert "answer_type" in exc.value.message_dict


# -- gold items: answers per type -----------------------------------------------------------------


def test_single_choice_item_and_its_stratum():
    item = make_gold_item(make_gold_set(), accepted_answers=["rust", "crack", "rust"])
    assert item.accepted_answers == ["rust", "crack"]  # canonical and distinct
    assert item.stratum == "rust"
    assert item.payload == {"image_url": "https://img.example.test/pole.jpg", "metadata": {}}
    [change] = item.status_changes.all()
    assert (change.from_status, change.to_status) == ("", GS.ACTIVE)


def test_multiple_choice_item_is_canonical():
    gold_set = make_gold_set(answer_type=AnswerType.MULTIPLE_CHOICE)
    item = make_gold_item(gold_set, accepted_answers=[["rust", "crack", "rust"], []])
    assert item.accepted_answers == [["crack", "rust"], []]
    assert item.stratum == "crack+rust"


def test_box_item_is_canonical_and_stratified_by_its_labels():
    gold_set = make_gold_set(answer_type=AnswerType.BOXES)
    insulator = {"label": "insulator", "x": 1, "y": 2, "w": 3, "h": 4}
    item = make_gold_item(gold_set, accepted_answers=[[BOX, insulator]])
    assert item.accepted_answers[0][0] == {
        "label": "insulator",
        "x": 1.0,
        "y": 2.0,
        "w": 3.0,
        "h": 4.0,
    }
    assert item.stratum == "insulator+pole"


@pytest.mark.parametrize(
    ("answer_type", "accepted", "message"),
    [
        (AnswerType.SINGLE_CHOICE, [], "non-empty list"),
        (AnswerType.SINGLE_CHOICE, "crack", "non-empty list"),
        (AnswerType.SINGLE_CHOICE, ["tree"], "not one of the labels"),
        (AnswerType.SINGLE_CHOICE, [["crack"]], "Expected one label"),
        (AnswerType.MULTIPLE_CHOICE, [["crack", "tree"]], "Not labels of this set"),
        (AnswerType.MULTIPLE_CHOICE, ["crack"], "Expected a list of labels"),
        (AnswerType.BOXES, [[{**BOX, "label": "tree"}]], "label must be one of"),
        (AnswerType.BOXES, [[{"label": "pole", "x": 1, "y": 2, "w": 3}]], "h must be a number"),
        (AnswerType.BOXES, [[{**BOX, "w": 0}]], "w and h must be positive"),
        (AnswerType.BOXES, [[{**BOX, "x": -1}]], "must not be negative"),
        (AnswerType.BOXES, [[{**BOX, "angle": 3}]], "unknown keys angle"),
        (AnswerType.BOXES, [[{**BOX, "x": "10"}]], "x must be a number"),
        (AnswerType.BOXES, [BOX], "Expected a list of boxes"),
    ],
)
def test_malformed_accepted_answers_are_rejected(answer_type, accepted, message):
    gold_set = make_gold_set(answer_type=answer_type)
    with pytest.raises(ValidationError) as exc:
        make_gold_item(gold_set, accepted_answers=accepted)
    assert message in " ".join(exc.value.message_dict["accepted_answers"])
    assert not GoldItem.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "ftp://files.example.test/a.jpg",
        "https://",
        "//evil.example.test/a.jpg",
        "images/../../etc/passwd",
        "images/a b.jpg",
        "images\\a.jpg",
        "",
    ],
)
def test_bad_image_urls_are_rejected(url):
    with pytest.raises(ValidationError) as exc:
        make_gold_item(make_gold_set(), image_url=url)
    assert "image_url" in " ".join(exc.value.message_dict["payload"])


@pytest.mark.parametrize(
    "url",
    ["https://img.example.test/a.jpg?x=1", "http://cdn.test/a.png", "images/0001.jpg", "/m/a.jpg"],
)
def test_good_image_urls_and_relative_paths_are_accepted(url):
    assert make_gold_item(make_gold_set(), image_url=url).payload["image_url"] == url


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("https://img/a.jpg", "Expected a JSON object"),
        ({"image_url": "a.jpg", "label": "crack"}, "Unknown keys: label"),
        ({"image_url": "a.jpg", "metadata": ["x"]}, "metadata: Expected a JSON object"),
        ({"metadata": {}}, "image_url"),
    ],
)
def test_bad_payloads_are_rejected(payload, message):
    with pytest.raises(ValidationError) as exc:
        services.gold_item_create(
            actor=None,
            gold_set=make_gold_set(),
            external_id="x",
            payload=payload,
            accepted_answers=["crack"],
        )
    assert message in " ".join(exc.value.message_dict["payload"])


def test_item_errors_are_reported_for_every_bad_field_at_once():
    with pytest.raises(ValidationError) as exc:
        services.gold_item_create(
            actor=None,
            gold_set=make_gold_set(),
            external_id="",
            payload={"image_url": "javascript:x"},
            accepted_answers=[],
            difficulty="brutal",
        )
    assert {"external_id", "payload", "accepted_answers", "difficulty"} <= set(
        exc.value.message_dict
    )


def test_guide_version_must_be_a_published_version_of_the_sets_guide():
    guide = GuideFactory()
    version = publish_version(guide)
    draft = make_draft(guide)
    other_version = publish_version(GuideFactory())
    gold_set = make_gold_set(guide=guide)
    assert make_gold_item(gold_set, guide_version=version).guide_version == version
    for bad, message in ((draft, "published"), (other_version, "this gold set's guide")):
        with pytest.raises(ValidationError) as exc:
            make_gold_item(gold_set, guide_version=bad)
        assert message in " ".join(exc.value.message_dict["guide_version"])
    with pytest.raises(ValidationError) as exc:
        make_gold_item(make_gold_set(), guide_version=version)
    assert "no guide" in " ".join(exc.value.message_dict["guide_version"])


def test_external_id_is_unique_within_a_set_only():
    gold_set = make_gold_set()
    make_gold_item(gold_set, external_id="a-1")
    with pytest.raises(ValidationError) as exc:
        make_gold_item(gold_set, external_id="a-1")
    assert "external_id" in exc.value.message_dict
    make_gold_item(make_gold_set(), external_id="a-1")


def test_item_update_recomputes_the_stratum_and_keeps_status_and_id():
    item = make_gold_item(make_gold_set(), accepted_answers=["crack"])
    services.gold_item_update(
        actor=None, item=item, data={"accepted_answers": ["rust"], "explanation": "Orange."}
    )
    item.refresh_from_db()
    assert (item.accepted_answers, item.stratum, item.explanation) == (["rust"], "rust", "Orange.")
    for field in ("status", "external_id", "stratum"):
        with pytest.raises(ValidationError) as exc:
            services.gold_item_update(actor=None, item=item, data={field: "x"})
        assert field in exc.value.message_dict


def test_item_update_rejects_invalid_answers_and_changes_nothing():
    item = make_gold_item(make_gold_set(), accepted_answers=["crack"])
    with pytest.raises(ValidationError):
        services.gold_item_update(
            actor=None, item=item, data={"accepted_answers": ["tree"], "explanation": "new"}
        )
    item.refresh_from_db()
    assert (item.accepted_answers, item.explanation) == (["crack"], "Look at the base of the pole.")


# -- status ---------------------------------------------------------------------------------------


def test_quarantine_and_retire_take_items_out_of_the_draw(ops_user):
    gold_set = make_gold_set()
    keep, doubtful, old = (make_gold_item(gold_set) for _ in range(3))
    services.gold_item_set_status(
        actor=ops_user, item=doubtful, status=GS.QUARANTINED, reason="Two reviewers disagree."
    )
    services.gold_item_set_status(actor=ops_user, item=old, status=GS.RETIRED, reason="Outdated.")
    assert list(gold_items_drawable(gold_set=gold_set)) == [keep]
    assert gold_strata(gold_set=gold_set) == {"crack": 1}
    change = doubtful.status_changes.first()
    assert (change.from_status, change.to_status, change.actor, change.reason) == (
        GS.ACTIVE,
        GS.QUARANTINED,
        ops_user,
        "Two reviewers disagree.",
    )
    services.gold_item_set_status(
        actor=ops_user, item=doubtful, status=GS.ACTIVE, reason="Resolved."
    )
    assert set(gold_items_drawable(gold_set=gold_set)) == {keep, doubtful}


def test_status_change_needs_a_reason_and_a_new_status():
    item = make_gold_item(make_gold_set())
    with pytest.raises(ValidationError) as exc:
        services.gold_item_set_status(actor=None, item=item, status=GS.RETIRED, reason="  ")
    assert "reason" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.gold_item_set_status(actor=None, item=item, status="deleted", reason="x")
    with pytest.raises(InvalidTransition):
        services.gold_item_set_status(actor=None, item=item, status=GS.ACTIVE, reason="x")
    assert item.status_changes.count() == 1  # just the creation


def test_status_change_from_a_stale_copy_is_a_conflict():
    item = make_gold_item(make_gold_set())
    stale = GoldItem.objects.get(pk=item.pk)
    services.gold_item_set_status(actor=None, item=item, status=GS.RETIRED, reason="old")
    with pytest.raises(Conflict) as exc:
        services.gold_item_set_status(actor=None, item=stale, status=GS.QUARANTINED, reason="doubt")
    assert exc.value.code == "stale_status"
    item.refresh_from_db()
    assert item.status == GS.RETIRED


# -- import ---------------------------------------------------------------------------------------

HEADER = list(services.COLUMNS)


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADER)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()


def _row(n: int, **overrides) -> dict:
    row = {
        "external_id": f"g-{n:03d}",
        "image_url": f"images/{n:03d}.jpg",
        "metadata": json.dumps({"camera": "north", "n": n}),
        "accepted_answers": json.dumps(["crack"] if n % 2 else ["rust", "ok"]),
        "explanation": f"Explanation {n}.",
        "difficulty": "easy",
        "status": "active",
        "guide_version": "",
    }
    row.update(overrides)
    return row


def _import(gold_set, text, file_format="csv", **kwargs):
    return services.gold_import(
        actor=None, gold_set=gold_set, data=text, file_format=file_format, **kwargs
    )


def test_good_csv_creates_every_row(ops_user):
    gold_set = make_gold_set()
    result = services.gold_import(
        actor=ops_user,
        gold_set=gold_set,
        data=_csv([_row(n) for n in range(1, 41)]).encode(),
        file_format="csv",
        file_name="gold.csv",
    )
    assert (result.created, result.updated, result.unchanged) == (40, 0, 0)
    item = GoldItem.objects.get(gold_set=gold_set, external_id="g-002")
    assert item.payload == {"image_url": "images/002.jpg", "metadata": {"camera": "north", "n": 2}}
    assert (item.accepted_answers, item.stratum) == (["rust", "ok"], "rust")
    assert (item.difficulty, item.explanation) == ("easy", "Explanation 2.")
    change = item.status_changes.get()
    assert (change.to_status, change.actor, change.reason) == (
        "active",
        ops_user,
        "Import (gold.csv).",
    )


def test_one_bad_row_among_fifty_writes_nothing_and_names_row_and_field():
    gold_set = make_gold_set()
    make_gold_item(gold_set, external_id="g-001", explanation="Before.")
    rows = [_row(n) for n in range(1, 51)]
    rows[36] = _row(37, accepted_answers=json.dumps(["tree"]))  # spreadsheet row 38
    before = _snapshot(gold_set)
    with pytest.raises(services.ImportInvalid) as exc:
        _import(gold_set, _csv(rows))
    assert exc.value.code == "import_invalid"
    [error] = exc.value.fields["rows"]
    assert (error["row"], error["field"]) == (38, "accepted_answers")
    assert "'tree' is not one of the labels" in error["message"]
    assert _snapshot(gold_set) == before
    assert GoldItemStatusChange.objects.count() == 1


def test_every_bad_cell_is_reported_and_the_report_is_capped():
    gold_set = make_gold_set()
    rows = [_row(n, image_url="javascript:x", difficulty="brutal") for n in range(1, 76)]
    with pytest.raises(services.ImportInvalid) as exc:
        _import(gold_set, _csv(rows))
    listed = exc.value.fields["rows"]
    assert len(listed) == services.MAX_REPORTED_ROW_ERRORS
    assert "150 problem(s)" in exc.value.detail
    assert listed[:2] == [
        {"row": 2, "field": "image_url", "message": listed[0]["message"]},
        {"row": 2, "field": "difficulty", "message": listed[1]["message"]},
    ]
    assert not GoldItem.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"external_id": ""}, "external_id", "required"),
        ({"image_url": ""}, "image_url", "required"),
        ({"image_url": "ftp://x/a.jpg"}, "image_url", "http or https"),
        ({"metadata": "not json"}, "metadata", "Not valid JSON"),
        ({"metadata": "[1]"}, "metadata", "Expected a JSON object"),
        ({"accepted_answers": ""}, "accepted_answers", "required"),
        ({"accepted_answers": "crack"}, "accepted_answers", "Not valid JSON"),
        ({"accepted_answers": "[]"}, "accepted_answers", "non-empty list"),
        ({"accepted_answers": '{"a": 1}'}, "accepted_answers", "JSON list"),
        ({"difficulty": "brutal"}, "difficulty", "Must be one of"),
        ({"status": "deleted"}, "status", "Must be one of"),
        ({"guide_version": "1.0"}, "guide_version", "no guide"),
    ],
)
def test_csv_cell_errors(overrides, field, message):
    gold_set = make_gold_set()
    with pytest.raises(services.ImportInvalid) as exc:
        _import(gold_set, _csv([_row(1), _row(2, **overrides)]))
    [error] = exc.value.fields["rows"]
    assert (error["row"], error["field"]) == (3, field)
    assert message in error["message"]
    assert not GoldItem.objects.exists()


def test_repeated_external_id_in_the_file_is_an_error():
    with pytest.raises(services.ImportInvalid) as exc:
        _import(make_gold_set(), _csv([_row(1), _row(2), _row(1)]))
    [error] = exc.value.fields["rows"]
    assert (error["row"], error["field"]) == (4, "external_id")
    assert "row 2" in error["message"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("external_id,image_url\nx,a.jpg\n", "missing columns accepted_answers"),
        (
            "external_id,image_url,accepted_answers,answer\nx,a.jpg,[],\n",
            "unknown columns 'answer'",
        ),
        ("", "empty"),
    ],
)
def test_header_problems_are_reported_once(text, message):
    with pytest.raises(services.ImportInvalid) as exc:
        _import(make_gold_set(), text)
    [error] = exc.value.fields["rows"]
    assert error["field"] == "header"
    assert message in error["message"]


def test_a_row_with_more_cells_than_columns_is_an_error():
    text = 'external_id,image_url,accepted_answers\nx,a.jpg,"[""crack""]",extra\n'
    with pytest.raises(services.ImportInvalid) as exc:
        _import(make_gold_set(), text)
    assert exc.value.fields["rows"][0]["row"] == 2


def test_not_utf8_is_a_file_error():
    with pytest.raises(services.ImportInvalid) as exc:
        _import(make_gold_set(), b"external_id,image_url,accepted_answers\n\xff\xfe,a,b\n")
    assert exc.value.fields["rows"][0]["field"] == "file"


def test_reimport_updates_and_does_not_duplicate():
    gold_set = make_gold_set()
    _import(gold_set, _csv([_row(n) for n in range(1, 11)]))
    rows = [_row(n) for n in range(1, 11)]
    rows[2] = _row(3, explanation="Clarified.", accepted_answers=json.dumps(["ok"]))
    rows.append(_row(11))
    result = _import(gold_set, _csv(rows))
    assert (result.created, result.updated, result.unchanged) == (1, 1, 9)
    assert GoldItem.objects.filter(gold_set=gold_set).count() == 11
    item = GoldItem.objects.get(gold_set=gold_set, external_id="g-003")
    assert (item.explanation, item.accepted_answers, item.stratum) == ("Clarified.", ["ok"], "ok")


def test_import_status_change_is_recorded_and_blank_keeps_values(ops_user):
    gold_set = make_gold_set()
    item = make_gold_item(gold_set, external_id="g-001", difficulty="hard")
    text = _csv([_row(1, status="quarantined", difficulty="")])
    services.gold_import(
        actor=ops_user, gold_set=gold_set, data=text, file_format="csv", file_name="fix.csv"
    )
    item.refresh_from_db()
    assert (item.status, item.difficulty) == ("quarantined", "hard")
    change = item.status_changes.first()
    assert (change.from_status, change.to_status, change.actor, change.reason) == (
        "active",
        "quarantined",
        ops_user,
        "Import (fix.csv).",
    )


def test_columns_left_out_keep_the_items_values():
    gold_set = make_gold_set()
    make_gold_item(gold_set, external_id="k", metadata={"a": 1}, explanation="Keep me.")
    result = _import(gold_set, 'external_id,image_url,accepted_answers\nk,new.jpg,"[""rust""]"\n')
    assert result.updated == 1
    item = GoldItem.objects.get(external_id="k")
    assert item.payload == {"image_url": "new.jpg", "metadata": {"a": 1}}
    assert (item.explanation, item.accepted_answers) == ("Keep me.", ["rust"])


def test_import_resolves_guide_version_numbers():
    guide = GuideFactory()
    v10 = publish_version(guide)
    publish_version(guide)
    gold_set = make_gold_set(guide=guide)
    _import(gold_set, _csv([_row(1, guide_version="1.0")]))
    assert GoldItem.objects.get().guide_version == v10
    with pytest.raises(services.ImportInvalid) as exc:
        _import(gold_set, _csv([_row(2, guide_version="9.9")]))
    assert exc.value.fields["rows"][0]["field"] == "guide_version"


def test_jsonl_import_with_box_answers_and_line_numbers():
    gold_set = make_gold_set(answer_type=AnswerType.BOXES, iou_threshold="0.6")
    lines = [
        json.dumps({"external_id": "b1", "image_url": "a.jpg", "accepted_answers": [[BOX]]}),
        "",
        json.dumps({"external_id": "b2", "image_url": "b.jpg", "accepted_answers": [[BOX], []]}),
    ]
    result = _import(gold_set, "\n".join(lines) + "\n", "jsonl")
    assert result.created == 2
    assert GoldItem.objects.get(external_id="b2").stratum == "pole"

    bad = [
        json.dumps({"external_id": "b3", "image_url": "c.jpg", "accepted_answers": [[BOX]]}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"external_id": 4, "image_url": "d.jpg", "accepted_answers": [[BOX]]}),
        json.dumps(
            {"external_id": "b5", "image_url": "e.jpg", "accepted_answers": [[{**BOX, "w": -1}]]}
        ),
        json.dumps({"external_id": "b6", "image_url": "f.jpg", "accepted_answers": [], "x": 1}),
    ]
    with pytest.raises(services.ImportInvalid) as exc:
        _import(gold_set, "\n".join(bad), "jsonl")
    found = [(e["row"], e["field"]) for e in exc.value.fields["rows"]]
    assert found == [
        (2, "row"),
        (3, "row"),
        (4, "external_id"),
        (5, "accepted_answers"),
        (6, "x"),
        (6, "accepted_answers"),
    ]
    assert GoldItem.objects.count() == 2


def test_too_many_rows_is_refused_before_validation():
    rows = "\n".join(f"r{n},a.jpg,x" for n in range(services.GOLD_IMPORT_MAX_ROWS + 1))
    with pytest.raises(services.ImportTooLarge) as exc:
        _import(make_gold_set(), "external_id,image_url,accepted_answers\n" + rows)
    assert exc.value.status == 413
    assert str(services.GOLD_IMPORT_MAX_ROWS) in exc.value.detail


def test_too_many_bytes_is_refused(monkeypatch):
    monkeypatch.setattr(services, "GOLD_IMPORT_MAX_BYTES", 200)
    text = _csv([_row(n) for n in range(1, 5)])
    assert len(text) > 200
    with pytest.raises(services.ImportTooLarge):
        _import(make_gold_set(), text.encode())
    with pytest.raises(services.ImportTooLarge):
        _import(make_gold_set(), text)


def test_unknown_format_is_a_validation_error():
    with pytest.raises(ValidationError) as exc:
        _import(make_gold_set(), "x", "xlsx")
    assert "format" in exc.value.message_dict


# -- export ---------------------------------------------------------------------------------------


@pytest.fixture
def mixed_set():
    guide = GuideFactory()
    version = publish_version(guide)
    gold_set = make_gold_set(answer_type=AnswerType.BOXES, guide=guide)
    make_gold_item(
        gold_set,
        external_id="p1",
        accepted_answers=[[BOX, {"label": "insulator", "x": 0.5, "y": 1.25, "w": 2, "h": 3}]],
        metadata={"camera": "ñorth", "tags": ["a", "b"]},
        explanation='Quotes " and, commas\nand newlines.',
        guide_version=version,
        difficulty="hard",
    )
    make_gold_item(gold_set, external_id="p2", accepted_answers=[[], [BOX]], status="quarantined")
    make_gold_item(gold_set, external_id="p3", image_url="/m/p3.jpg", explanation="")
    return gold_set


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_export_then_import_changes_nothing(mixed_set, file_format):
    text = "".join(services.gold_export(gold_set=mixed_set, file_format=file_format))
    before = _snapshot(mixed_set)
    changes = GoldItemStatusChange.objects.count()
    result = _import(mixed_set, text.encode(), file_format)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 3)
    assert _snapshot(mixed_set) == before
    assert GoldItemStatusChange.objects.count() == changes


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_export_into_an_empty_set_recreates_the_items(mixed_set, file_format):
    text = "".join(services.gold_export(gold_set=mixed_set, file_format=file_format))
    copy = make_gold_set(answer_type=AnswerType.BOXES, guide=mixed_set.guide)
    assert _import(copy, text, file_format).created == 3

    def comparable(gold_set):
        return [row[:-1] for row in _snapshot(gold_set)]  # all but updated_at

    assert comparable(copy) == comparable(mixed_set)


def test_csv_export_has_the_import_columns(mixed_set):
    chunks = list(services.gold_export(gold_set=mixed_set, file_format="csv"))
    assert len(chunks) == 4  # the header, then one chunk per item
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert list(rows[0]) == HEADER
    assert [r["external_id"] for r in rows] == ["p1", "p2", "p3"]
    assert rows[0]["guide_version"] == "1.0"
    assert json.loads(rows[0]["metadata"]) == {"camera": "ñorth", "tags": ["a", "b"]}


def test_export_of_unknown_format_fails_before_streaming(mixed_set):
    with pytest.raises(ValidationError):
        services.gold_export(gold_set=mixed_set, file_format="xml")


# -- concurrency (PostgreSQL) ---------------------------------------------------------------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_imports_of_one_file_create_each_item_once():
    gold_set = make_gold_set()
    text = _csv([_row(n) for n in range(1, 31)])
    results = race(3, lambda _: _import(gold_set, text))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sorted((r.created, r.unchanged) for r in results) == [(0, 30), (0, 30), (30, 0)]
    assert GoldItem.objects.filter(gold_set=gold_set).count() == 30
    assert GoldItemStatusChange.objects.count() == 30
