"""The guide admin: guides and drafts are written through the services, published versions are
read-only, the publish action numbers versions, acknowledgements are read-only."""

from __future__ import annotations

import json

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from qc.models import Guide, GuideAcknowledgement, GuideVersion
from tests.factories import admin_url
from tests.qc.factories import GuideFactory, acknowledge, make_draft, publish_version

pytestmark = pytest.mark.django_db

MAJOR, MINOR = GuideVersion.Bump.MAJOR, GuideVersion.Bump.MINOR


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _inline_management(prefix: str, total: int, initial: int) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


# -- guides and their drafts ----------------------------------------------------------------------


def test_add_guide_with_a_draft_inline(ops_client, ops_user):
    data = {
        "slug": "poles",
        "name": "Poles",
        "project_family": "utilities",
        "description": "",
        **_inline_management("versions", 1, 0),
        **_inline_management("versions-2", 0, 0),
        "versions-0-bump": "major",
        "versions-0-body": "# Poles",
        "versions-0-label_definitions": json.dumps(
            [{"label": "crack", "definition": "A fracture.", "examples": []}]
        ),
        "versions-0-change_summary": "First draft.",
    }
    response = ops_client.post(admin_url(Guide, "add"), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    guide = Guide.objects.get(slug="poles")
    draft = guide.versions.get()
    assert (draft.status, draft.bump, draft.body, draft.created_by) == (
        "draft",
        "major",
        "# Poles",
        ops_user,
    )


def test_invalid_label_definitions_inline_show_the_error_and_save_nothing(ops_client):
    data = {
        "slug": "poles",
        "name": "Poles",
        "project_family": "",
        "description": "",
        **_inline_management("versions", 1, 0),
        **_inline_management("versions-2", 0, 0),
        "versions-0-bump": "minor",
        "versions-0-body": "# Poles",
        "versions-0-label_definitions": json.dumps([{"label": "crack"}]),
        "versions-0-change_summary": "",
    }
    response = ops_client.post(admin_url(Guide, "add"), data)
    assert response.status_code == 200
    assert "definition must be a non-empty string" in response.content.decode()
    assert not Guide.objects.exists()
    assert not GuideVersion.objects.exists()


def test_guide_page_shows_drafts_editable_and_published_read_only(ops_client):
    guide = GuideFactory()
    published = publish_version(guide, change_summary="Published summary.")
    draft = make_draft(guide, change_summary="Draft summary.")
    page = ops_client.get(admin_url(Guide, "change", guide.pk)).content.decode()
    assert 'name="versions-0-body"' in page  # the draft
    assert draft.change_summary in page
    # The published version is shown (its summary, a link to it) but has no inputs.
    assert "Published summary." in page
    assert admin_url(GuideVersion, "change", published.pk) in page
    assert 'name="versions-2-0-change_summary"' not in page
    assert 'name="versions-2-0-body"' not in page


def test_guide_changelist_is_annotated_and_costs_constant_queries(ops_client):
    def add(n):
        for _ in range(n):
            g = GuideFactory()
            publish_version(g)
            publish_version(g, bump=MAJOR)
            make_draft(g)

    add(2)
    url = admin_url(Guide, "changelist")
    ops_client.get(url)
    with CaptureQueriesContext(connection) as few:
        response = ops_client.get(url)
    assert "2.0" in response.content.decode()
    add(10)
    with CaptureQueriesContext(connection) as many:
        ops_client.get(url)
    assert len(few) == len(many)


# -- versions -------------------------------------------------------------------------------------


def test_add_version_page_creates_a_draft_through_the_service(ops_client):
    guide = GuideFactory()
    response = ops_client.post(
        admin_url(GuideVersion, "add"),
        {
            "guide": guide.pk,
            "bump": "minor",
            "body": "Body",
            "label_definitions": "[]",
            "change_summary": "",
        },
    )
    assert response.status_code == 302
    assert guide.versions.get().status == "draft"


def test_published_version_is_read_only_in_the_admin(ops_client):
    version = publish_version(GuideFactory(), body="Original")
    response = ops_client.get(admin_url(GuideVersion, "change", version.pk))
    assert response.status_code == 200
    assert 'name="body"' not in response.content.decode()
    response = ops_client.post(
        admin_url(GuideVersion, "change", version.pk),
        {"bump": "minor", "body": "Edited", "label_definitions": "[]", "change_summary": ""},
    )
    assert response.status_code == 403
    version.refresh_from_db()
    assert version.body == "Original"
    assert ops_client.get(admin_url(GuideVersion, "delete", version.pk)).status_code == 403


def test_draft_can_be_edited_and_discarded(ops_client):
    draft = make_draft(GuideFactory(), body="Old")
    response = ops_client.post(
        admin_url(GuideVersion, "change", draft.pk),
        {"bump": "major", "body": "New", "label_definitions": "[]", "change_summary": "S"},
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.body, draft.bump, draft.change_summary) == ("New", "major", "S")
    response = ops_client.post(admin_url(GuideVersion, "delete", draft.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not GuideVersion.objects.filter(pk=draft.pk).exists()


def test_publish_action_confirms_with_the_numbers_then_publishes(ops_client, ops_user):
    guide = GuideFactory(name="Poles")
    publish_version(guide)
    minor = make_draft(guide, bump=MINOR)
    major = make_draft(guide, bump=MAJOR)
    url = admin_url(GuideVersion, "changelist")
    selected = {"action": "publish", "_selected_action": [minor.pk, major.pk]}

    response = ops_client.post(url, selected)
    assert response.status_code == 200
    page = response.content.decode()
    assert "→ v1.1" in page and "→ v2.0" in page
    assert GuideVersion.objects.filter(status="draft").count() == 2

    response = ops_client.post(url, {**selected, "post": "yes"})
    assert response.status_code == 302
    minor.refresh_from_db()
    major.refresh_from_db()
    assert (minor.number, major.number) == ("1.1", "2.0")
    assert major.published_by == ops_user
    assert "Published Poles v2.0." in _messages(response)


def test_publishing_a_published_version_reports_an_error(ops_client):
    version = publish_version(GuideFactory())
    response = ops_client.post(
        admin_url(GuideVersion, "changelist"),
        {"action": "publish", "_selected_action": [version.pk], "post": "yes"},
    )
    assert any("already published" in m for m in _messages(response))
    version.refresh_from_db()
    assert version.number == "1.0"


def test_version_autocomplete_for_gold_items_offers_published_versions_only(ops_client):
    guide = GuideFactory(name="Poles")
    published = publish_version(guide)
    make_draft(guide)
    response = ops_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "qc", "model_name": "golditem", "field_name": "guide_version", "term": "pol"},
    )
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(published.pk)]


# -- acknowledgements -----------------------------------------------------------------------------


def test_acknowledgements_are_read_only_and_filterable(ops_client, vendor_labeler, vendor_a):
    guide = GuideFactory()
    publish_version(guide)
    ack = acknowledge(vendor_labeler, guide)
    assert ops_client.get(admin_url(GuideAcknowledgement, "add")).status_code == 403
    response = ops_client.post(admin_url(GuideAcknowledgement, "change", ack.pk), {})
    assert response.status_code == 403
    assert ops_client.get(admin_url(GuideAcknowledgement, "delete", ack.pk)).status_code == 403
    response = ops_client.get(
        admin_url(GuideAcknowledgement, "changelist"), {"labeler__vendor__id__exact": vendor_a.pk}
    )
    assert response.status_code == 200
    assert [a.pk for a in response.context["cl"].result_list] == [ack.pk]
    assert "Acme Annotation" in response.content.decode()
