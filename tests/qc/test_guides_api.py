"""Guides API: what labelers, vendor managers and ops read; acknowledging; acknowledgement
lists; query counts."""

from __future__ import annotations

import pytest

from qc.models import GuideAcknowledgement, GuideVersion
from qc.selectors.guides import guide_ack_missing
from tests.factories import make_labeler
from tests.qc.factories import GuideFactory, acknowledge, make_draft, publish_version

pytestmark = pytest.mark.django_db

MAJOR, MINOR = GuideVersion.Bump.MAJOR, GuideVersion.Bump.MINOR


@pytest.fixture
def guide(db):
    guide = GuideFactory(slug="poles", name="Utility poles")
    publish_version(guide, change_summary="First.", body="# Poles v1")
    return guide


@pytest.fixture
def unpublished(db):
    guide = GuideFactory(slug="draft-only")
    make_draft(guide, body="SECRET DRAFT BODY")
    return guide


def _ids(response) -> set[int]:
    return {g["id"] for g in response.json()["results"]}


# -- list -----------------------------------------------------------------------------------------


def test_labeler_lists_published_guides_with_their_state(
    client_for, guide, unpublished, vendor_labeler
):
    response = client_for(vendor_labeler.user).get("/api/v1/guides/")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == guide.pk
    assert row["current_version"]["number"] == "1.0"
    assert row["current_version"]["change_summary"] == "First."
    assert row["must_acknowledge"] is True
    assert row["acknowledged_version"] is None
    assert "draft_count" not in row
    assert "body" not in row["current_version"]


def test_ops_list_all_guides_with_draft_counts(client_for, guide, unpublished, ops_user):
    make_draft(guide)
    response = client_for(ops_user).get("/api/v1/guides/")
    rows = {g["slug"]: g for g in response.json()["results"]}
    assert set(rows) == {"poles", "draft-only"}
    assert (rows["poles"]["draft_count"], rows["draft-only"]["draft_count"]) == (1, 1)
    assert rows["draft-only"]["current_version"] is None
    assert rows["poles"]["must_acknowledge"] is None  # ops are not labelers


def test_vendor_manager_lists_published_guides(client_for, guide, unpublished, manager_a):
    assert _ids(client_for(manager_a).get("/api/v1/guides/")) == {guide.pk}


def test_list_shows_changes_since_last_acknowledgement(client_for, guide, vendor_labeler):
    acknowledge(vendor_labeler, guide)
    publish_version(guide, bump=MINOR, change_summary="Rust examples.")
    [row] = client_for(vendor_labeler.user).get("/api/v1/guides/").json()["results"]
    assert row["must_acknowledge"] is False
    assert row["acknowledged_version"] == "1.0"
    assert [(c["number"], c["change_summary"]) for c in row["changes_since_ack"]] == [
        ("1.1", "Rust examples.")
    ]


def test_guide_list_query_count_does_not_grow(
    client_for, vendor_labeler, django_assert_max_num_queries
):
    def add(n):
        for _ in range(n):
            g = GuideFactory()
            publish_version(g)
            publish_version(g, bump=MINOR)
            acknowledge(vendor_labeler, g)

    add(2)
    client = client_for(vendor_labeler.user)
    with django_assert_max_num_queries(5):
        response = client.get("/api/v1/guides/")
    assert len(response.json()["results"]) == 2
    add(20)
    with django_assert_max_num_queries(5):
        response = client.get("/api/v1/guides/")
    assert len(response.json()["results"]) == 22


def test_ops_guide_list_query_count(client_for, ops_user, django_assert_max_num_queries):
    for _ in range(12):
        g = GuideFactory()
        publish_version(g)
        make_draft(g)
    with django_assert_max_num_queries(4):
        response = client_for(ops_user).get("/api/v1/guides/")
    assert len(response.json()["results"]) == 12


# -- detail ---------------------------------------------------------------------------------------


def test_labeler_reads_the_current_version(client_for, guide, vendor_labeler):
    publish_version(guide, bump=MAJOR, body="# Poles v2", change_summary="Rewritten.")
    make_draft(guide, body="SECRET DRAFT BODY")
    response = client_for(vendor_labeler.user).get(f"/api/v1/guides/{guide.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["version"]["number"] == "2.0"
    assert body["version"]["body"] == "# Poles v2"
    assert body["version"]["label_definitions"][0]["label"] == "crack"
    assert body["version"]["published_at"]
    assert body["must_acknowledge"] is True
    assert "versions" not in body
    assert "SECRET DRAFT BODY" not in response.content.decode()


def test_labeler_may_read_an_older_published_version_but_never_a_draft(
    client_for, guide, vendor_labeler
):
    v1 = guide.versions.get()
    publish_version(guide)
    draft = make_draft(guide)
    client = client_for(vendor_labeler.user)
    response = client.get(f"/api/v1/guides/{guide.pk}/", {"version": v1.pk})
    assert response.json()["version"]["number"] == "1.0"
    response = client.get(f"/api/v1/guides/{guide.pk}/", {"version": draft.pk})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_ops_may_preview_a_draft_and_see_the_version_index(client_for, guide, ops_user):
    draft = make_draft(guide, body="Draft text")
    response = client_for(ops_user).get(f"/api/v1/guides/{guide.pk}/", {"version": draft.pk})
    assert response.status_code == 200
    body = response.json()
    assert (body["version"]["status"], body["version"]["body"]) == ("draft", "Draft text")
    assert [v["number"] for v in body["versions"]] == ["draft", "1.0"]


def test_ops_version_of_another_guide_is_404(client_for, guide, unpublished, ops_user):
    other = unpublished.versions.get()
    response = client_for(ops_user).get(f"/api/v1/guides/{guide.pk}/", {"version": other.pk})
    assert response.status_code == 404


def test_ops_detail_of_a_guide_with_nothing_published(client_for, unpublished, ops_user):
    response = client_for(ops_user).get(f"/api/v1/guides/{unpublished.pk}/")
    assert response.status_code == 200
    assert response.json()["version"] is None
    assert response.json()["draft_count"] == 1


def test_bad_version_parameter_is_400(client_for, guide, vendor_labeler):
    response = client_for(vendor_labeler.user).get(
        f"/api/v1/guides/{guide.pk}/", {"version": "latest"}
    )
    assert response.status_code == 400
    assert "version" in response.json()["fields"]


def test_unpublished_guide_is_404_for_labelers(client_for, unpublished, vendor_labeler):
    response = client_for(vendor_labeler.user).get(f"/api/v1/guides/{unpublished.pk}/")
    assert response.status_code == 404
    assert "SECRET" not in response.content.decode()


def test_guide_detail_query_count(client_for, guide, vendor_labeler, django_assert_max_num_queries):
    for _ in range(5):
        publish_version(guide)
    with django_assert_max_num_queries(5):
        response = client_for(vendor_labeler.user).get(f"/api/v1/guides/{guide.pk}/")
    assert response.json()["version"]["number"] == "1.5"


# -- acknowledge ----------------------------------------------------------------------------------


def test_acknowledge_returns_the_ack_and_is_idempotent(client_for, guide, vendor_labeler):
    client = client_for(vendor_labeler.user)
    first = client.post(f"/api/v1/guides/{guide.pk}/acknowledge/", format="json")
    assert first.status_code == 200
    body = first.json()
    assert (body["guide"], body["version_number"], body["labeler"]) == (
        guide.pk,
        "1.0",
        vendor_labeler.pk,
    )
    again = client.post(f"/api/v1/guides/{guide.pk}/acknowledge/", format="json")
    assert again.json()["id"] == body["id"]
    assert GuideAcknowledgement.objects.count() == 1
    assert guide_ack_missing(labeler=vendor_labeler, guide=guide) is None


def test_acknowledge_after_a_major_bump(client_for, guide, vendor_labeler):
    client = client_for(vendor_labeler.user)
    client.post(f"/api/v1/guides/{guide.pk}/acknowledge/")
    publish_version(guide, bump=MAJOR)
    [row] = client.get("/api/v1/guides/").json()["results"]
    assert row["must_acknowledge"] is True
    response = client.post(f"/api/v1/guides/{guide.pk}/acknowledge/")
    assert response.json()["version_number"] == "2.0"
    [row] = client.get("/api/v1/guides/").json()["results"]
    assert row["must_acknowledge"] is False


def test_acknowledge_rejects_a_body(client_for, guide, vendor_labeler):
    response = client_for(vendor_labeler.user).post(
        f"/api/v1/guides/{guide.pk}/acknowledge/", {"version": 1}, format="json"
    )
    assert response.status_code == 400
    assert "version" in response.json()["fields"]
    assert not GuideAcknowledgement.objects.exists()


def test_non_labelers_cannot_acknowledge(client_for, guide, ops_user, manager_a):
    for user in (ops_user, manager_a):
        response = client_for(user).post(f"/api/v1/guides/{guide.pk}/acknowledge/")
        assert response.status_code == 403
    assert not GuideAcknowledgement.objects.exists()


# -- acknowledgements -----------------------------------------------------------------------------


@pytest.fixture
def acked(guide, vendor_a, vendor_labeler, vendor_b_labeler, internal_labeler):
    acknowledge(vendor_labeler, guide)
    acknowledge(vendor_b_labeler, guide)
    return make_labeler(vendor=vendor_a, username="late_a")


def test_ops_see_every_acknowledgement(client_for, guide, acked, ops_user):
    response = client_for(ops_user).get(f"/api/v1/guides/{guide.pk}/acknowledgements/")
    rows = response.json()["results"]
    assert {(r["username"], r["vendor"], r["version_number"]) for r in rows} == {
        ("acme1", "acme", "1.0"),
        ("bravo1", "bravo", "1.0"),
    }
    response = client_for(ops_user).get(
        f"/api/v1/guides/{guide.pk}/acknowledgements/", {"vendor": "bravo"}
    )
    assert [r["username"] for r in response.json()["results"]] == ["bravo1"]


def test_vendor_manager_sees_only_their_labelers(client_for, guide, acked, manager_a):
    client = client_for(manager_a)
    rows = client.get(f"/api/v1/guides/{guide.pk}/acknowledgements/").json()["results"]
    assert [r["username"] for r in rows] == ["acme1"]
    rows = client.get(f"/api/v1/guides/{guide.pk}/acknowledgements/missing/").json()["results"]
    assert [(r["username"], r["vendor"]) for r in rows] == [("late_a", "acme")]


def test_ops_see_who_has_not_acknowledged_the_current_major(
    client_for, guide, acked, ops_user, internal_labeler
):
    url = f"/api/v1/guides/{guide.pk}/acknowledgements/missing/"
    rows = client_for(ops_user).get(url).json()["results"]
    assert {r["username"] for r in rows} == {"late_a", "internal1"}
    publish_version(guide, bump=MAJOR)
    rows = client_for(ops_user).get(url).json()["results"]
    assert {r["username"] for r in rows} == {"late_a", "internal1", "acme1", "bravo1"}
    rows = client_for(ops_user).get(url, {"vendor": "acme"}).json()["results"]
    assert {r["username"] for r in rows} == {"late_a", "acme1"}


def test_acknowledgement_list_query_count(
    client_for, guide, vendor_a, ops_user, django_assert_max_num_queries
):
    for _ in range(15):
        acknowledge(make_labeler(vendor=vendor_a), guide)
    with django_assert_max_num_queries(3):
        response = client_for(ops_user).get(f"/api/v1/guides/{guide.pk}/acknowledgements/")
    assert len(response.json()["results"]) == 15
