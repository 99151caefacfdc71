"""The gold admin: sets and items through the services, a limited items inline, the import page
(per-row errors, nothing written on error), export links, and status actions with a reason."""

from __future__ import annotations

import json

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from qc.admin.gold import INLINE_ITEMS
from qc.models import GoldItem, GoldSet
from qc.services import gold as services
from tests.factories import admin_url
from tests.qc.factories import GuideFactory, make_gold_item, make_gold_set, publish_version

pytestmark = pytest.mark.django_db

GS = GoldItem.Status


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _csv(*rows: str) -> bytes:
    return ("external_id,image_url,accepted_answers\n" + "\n".join(rows) + "\n").encode()


# -- gold sets ------------------------------------------------------------------------------------


def test_add_gold_set_through_the_service(ops_client):
    guide = GuideFactory()
    response = ops_client.post(
        admin_url(GoldSet, "add"),
        {
            "slug": "poles",
            "name": "Poles",
            "guide": guide.pk,
            "answer_type": "multiple_choice",
            "classes": '["crack", "rust"]',
            "iou_threshold": "0.5",
            "description": "",
        },
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    gold_set = GoldSet.objects.get(slug="poles")
    assert (gold_set.answer_type, gold_set.classes, gold_set.guide) == (
        "multiple_choice",
        ["crack", "rust"],
        guide,
    )


def test_add_gold_set_with_repeated_classes_shows_the_error(ops_client):
    response = ops_client.post(
        admin_url(GoldSet, "add"),
        {
            "slug": "poles",
            "name": "Poles",
            "answer_type": "single_choice",
            "classes": '["crack", "crack"]',
            "iou_threshold": "0.5",
            "description": "",
        },
    )
    assert response.status_code == 200
    assert "listed twice" in " ".join(response.context["adminform"].form.errors["classes"])
    assert not GoldSet.objects.exists()


def test_gold_set_page_lists_only_the_first_items_and_links_to_all(ops_client):
    gold_set = make_gold_set()
    for _ in range(40):
        make_gold_item(gold_set)
    response = ops_client.get(admin_url(GoldSet, "change", gold_set.pk))
    assert response.status_code == 200
    [inline] = response.context["inline_admin_formsets"]
    assert len(list(inline)) == INLINE_ITEMS
    page = response.content.decode()
    assert "all 40 items" in page
    assert f"gold_set__id__exact={gold_set.pk}" in page
    assert admin_url(GoldSet, "import", gold_set.pk) in page
    assert admin_url(GoldSet, "export", gold_set.pk) + "?format=jsonl" in page


def test_gold_set_change_page_query_count_does_not_grow_with_items(ops_client):
    gold_set = make_gold_set()
    for _ in range(3):
        make_gold_item(gold_set)
    url = admin_url(GoldSet, "change", gold_set.pk)
    ops_client.get(url)
    with CaptureQueriesContext(connection) as few:
        ops_client.get(url)
    for _ in range(40):
        make_gold_item(gold_set)
    with CaptureQueriesContext(connection) as many:
        ops_client.get(url)
    assert len(few) == len(many), [q["sql"] for q in many.captured_queries]


def test_gold_set_edit_keeps_answer_type_and_guide(ops_client):
    gold_set = make_gold_set(classes=["crack", "rust"])
    make_gold_item(gold_set)
    response = ops_client.post(
        admin_url(GoldSet, "change", gold_set.pk),
        {
            "name": "Renamed",
            "classes": '["crack", "rust", "bird"]',
            "iou_threshold": "0.6",
            "description": "",
            "answer_type": "boxes",  # read-only: ignored
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "1",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000",
            "items-0-id": gold_set.items.get().pk,
            "items-0-gold_set": gold_set.pk,
        },
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    gold_set.refresh_from_db()
    assert (gold_set.name, gold_set.answer_type) == ("Renamed", "single_choice")
    assert gold_set.classes == ["crack", "rust", "bird"]
    assert str(gold_set.iou_threshold) == "0.60"


# -- import / export ------------------------------------------------------------------------------


def test_import_page_creates_items(ops_client, ops_user):
    gold_set = make_gold_set()
    assert ops_client.get(admin_url(GoldSet, "import", gold_set.pk)).status_code == 200
    rows = [f'g{i},img/{i}.jpg,"[""crack""]"' for i in range(12)]
    response = ops_client.post(
        admin_url(GoldSet, "import", gold_set.pk),
        {"file": SimpleUploadedFile("gold.csv", _csv(*rows)), "format": ""},
    )
    assert response.status_code == 302
    assert response.url == admin_url(GoldSet, "change", gold_set.pk)
    assert "Imported gold.csv: 12 created, 0 updated, 0 unchanged." in _messages(response)
    assert gold_set.items.count() == 12
    assert gold_set.items.first().status_changes.get().actor == ops_user


def test_import_page_lists_row_errors_and_writes_nothing(ops_client):
    gold_set = make_gold_set()
    rows = [f'g{i},img/{i}.jpg,"[""crack""]"' for i in range(50)]
    rows[20] = 'g20,javascript:alert(1),"[""crack""]"'
    rows[30] = 'g30,img/30.jpg,"[""tree""]"'
    response = ops_client.post(
        admin_url(GoldSet, "import", gold_set.pk),
        {"file": SimpleUploadedFile("gold.csv", _csv(*rows))},
    )
    assert response.status_code == 200
    errors = response.context["row_errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(22, "image_url"), (32, "accepted_answers")]
    page = response.content.decode()
    assert "nothing was imported" in page
    assert "import-errors" in page
    assert not gold_set.items.exists()


def test_import_page_needs_a_format_it_can_tell(ops_client):
    gold_set = make_gold_set()
    response = ops_client.post(
        admin_url(GoldSet, "import", gold_set.pk),
        {"file": SimpleUploadedFile("gold.txt", _csv('a,b.jpg,"[""crack""]"'))},
    )
    assert response.status_code == 200
    assert "format" in response.context["form"].errors
    response = ops_client.post(
        admin_url(GoldSet, "import", gold_set.pk),
        {"file": SimpleUploadedFile("gold.txt", _csv('a,b.jpg,"[""crack""]"')), "format": "csv"},
    )
    assert response.status_code == 302
    assert gold_set.items.count() == 1


def test_import_page_refuses_an_oversize_file(ops_client, monkeypatch):
    monkeypatch.setattr(services, "GOLD_IMPORT_MAX_BYTES", 10)
    gold_set = make_gold_set()
    response = ops_client.post(
        admin_url(GoldSet, "import", gold_set.pk),
        {"file": SimpleUploadedFile("gold.csv", _csv('a,b.jpg,"[""crack""]"'))},
    )
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not gold_set.items.exists()


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_export_link_downloads_what_import_accepts(ops_client, file_format):
    guide = GuideFactory()
    version = publish_version(guide)
    gold_set = make_gold_set(guide=guide, slug="poles")
    make_gold_item(gold_set, external_id="a", guide_version=version, metadata={"k": "v"})
    make_gold_item(gold_set, external_id="b", status=GS.RETIRED)
    response = ops_client.get(admin_url(GoldSet, "export", gold_set.pk), {"format": file_format})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="poles-gold.{file_format}"'
    content = b"".join(response.streaming_content)
    result = services.gold_import(
        actor=None, gold_set=gold_set, data=content, file_format=file_format
    )
    assert (result.created, result.updated, result.unchanged) == (0, 0, 2)


# -- gold items -----------------------------------------------------------------------------------


def test_add_item_through_the_service_and_errors_on_its_fields(ops_client):
    gold_set = make_gold_set()
    data = {
        "gold_set": gold_set.pk,
        "external_id": "x1",
        "payload": json.dumps({"image_url": "img/x1.jpg"}),
        "accepted_answers": json.dumps(["tree"]),
        "explanation": "",
        "difficulty": "easy",
        "status": "active",
    }
    response = ops_client.post(admin_url(GoldItem, "add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "not one of the labels" in " ".join(errors["accepted_answers"])
    assert not GoldItem.objects.exists()

    response = ops_client.post(admin_url(GoldItem, "add"), {**data, "accepted_answers": '["rust"]'})
    assert response.status_code == 302
    item = GoldItem.objects.get()
    assert (item.stratum, item.payload["metadata"]) == ("rust", {})


def test_edit_item_recomputes_the_stratum(ops_client):
    item = make_gold_item(make_gold_set(), accepted_answers=["crack"])
    response = ops_client.post(
        admin_url(GoldItem, "change", item.pk),
        {
            "payload": json.dumps(item.payload),
            "accepted_answers": '["ok"]',
            "explanation": "Fine.",
            "difficulty": "hard",
            "status_changes-TOTAL_FORMS": "1",
            "status_changes-INITIAL_FORMS": "1",
        },
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    item.refresh_from_db()
    assert (item.accepted_answers, item.stratum, item.difficulty) == (["ok"], "ok", "hard")


def _act(client, action, items, **extra):
    data = {"action": action, "_selected_action": [i.pk for i in items], **extra}
    return client.post(admin_url(GoldItem, "changelist"), data)


def test_quarantine_asks_for_a_reason_then_records_it(ops_client, ops_user):
    gold_set = make_gold_set()
    items = [make_gold_item(gold_set) for _ in range(2)]
    response = _act(ops_client, "quarantine", items)
    assert response.status_code == 200
    assert "admin/reason_confirmation.html" in [t.name for t in response.templates]
    assert str(items[0]) in response.content.decode()
    assert GoldItem.objects.filter(status=GS.QUARANTINED).count() == 0

    response = _act(ops_client, "quarantine", items, post="yes", reason="  ")
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors

    response = _act(ops_client, "quarantine", items, post="yes", reason="Answer disputed.")
    assert response.status_code == 302
    assert "Quarantined 2 gold item(s)." in _messages(response)
    for item in items:
        item.refresh_from_db()
        assert item.status == GS.QUARANTINED
        change = item.status_changes.first()
        assert (change.to_status, change.actor, change.reason) == (
            GS.QUARANTINED,
            ops_user,
            "Answer disputed.",
        )


def test_retire_and_reactivate_report_items_already_in_that_status(ops_client):
    gold_set = make_gold_set()
    active, retired = make_gold_item(gold_set), make_gold_item(gold_set, status=GS.RETIRED)
    response = _act(ops_client, "retire", [active, retired], post="yes", reason="Old guide.")
    messages = _messages(response)
    assert "Retired 1 gold item(s)." in messages
    assert any(m.startswith(f"Could not retire {retired}") for m in messages)
    response = _act(ops_client, "reactivate", [active], post="yes", reason="Still valid.")
    active.refresh_from_db()
    assert active.status == GS.ACTIVE


def test_item_change_page_shows_history_and_status_is_read_only(ops_client):
    item = make_gold_item(make_gold_set())
    response = ops_client.get(admin_url(GoldItem, "change", item.pk))
    page = response.content.decode()
    assert 'name="status"' not in page
    assert "status history" in page.lower()
    assert "Created." in page
    assert ops_client.get(admin_url(GoldItem, "delete", item.pk)).status_code == 403


def test_item_changelist_filters_and_constant_queries(ops_client):
    guide = GuideFactory()
    version = publish_version(guide)
    gold_set = make_gold_set(guide=guide)
    for _ in range(3):
        make_gold_item(gold_set, guide_version=version)
    url = admin_url(GoldItem, "changelist")
    ops_client.get(url)
    with CaptureQueriesContext(connection) as few:
        ops_client.get(url)
    for i in range(30):
        make_gold_item(
            gold_set,
            guide_version=version,
            accepted_answers=["rust"] if i % 2 else ["ok"],
            status=GS.QUARANTINED if i % 3 == 0 else GS.ACTIVE,
        )
    with CaptureQueriesContext(connection) as many:
        ops_client.get(url)
    assert len(few) == len(many), [q["sql"] for q in many.captured_queries]
    response = ops_client.get(url, {"status__exact": "quarantined", "stratum": "ok"})
    shown = response.context["cl"].result_list
    assert shown and all(i.status == GS.QUARANTINED and i.stratum == "ok" for i in shown)
