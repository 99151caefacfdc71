"""Qualifications through the API: operations grant and revoke by hand with a reason; lists are
scoped; an expired or revoked grant makes the quiz open again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.qc.quiz_factories import make_qualification_type, make_quiz
from workforce import services as workforce_services
from workforce.models import Qualification

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"detail", "code", "fields"}


def _grant(client, **body):
    return client.post("/api/v1/qualifications/", body, format="json")


def test_ops_grant_by_hand(client_for, ops_user, vendor_labeler):
    qtype = make_qualification_type("poles")
    response = _grant(
        client_for(ops_user),
        labeler=vendor_labeler.pk,
        qualification_type="poles",
        valid_days=30,
        reason="Certified elsewhere.",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    grant = Qualification.objects.get(pk=body["id"])
    assert (grant.labeler, grant.qualification_type, grant.source) == (
        vendor_labeler,
        qtype,
        "manual",
    )
    assert grant.granted_by == ops_user and grant.reason == "Certified elsewhere."
    assert grant.expires_at == grant.granted_at + timedelta(days=30)
    assert body["state"] == "valid" and body["qualification_type"] == "poles"
    assert body["labeler_code"] == vendor_labeler.public_code


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"labeler": "{labeler}", "qualification_type": "poles"}, "reason"),
        ({"labeler": "{labeler}", "qualification_type": "poles", "reason": "  "}, "reason"),
        ({"labeler": 987654321, "qualification_type": "poles", "reason": "x"}, "labeler"),
        (
            {"labeler": "{labeler}", "qualification_type": "nope", "reason": "x"},
            "qualification_type",
        ),
        (
            {"labeler": "{labeler}", "qualification_type": "poles", "reason": "x", "valid_days": 0},
            "valid_days",
        ),
        (
            {"labeler": "{labeler}", "qualification_type": "poles", "reason": "x", "score": 1},
            "score",
        ),
    ],
)
def test_grant_errors_name_the_field(client_for, ops_user, vendor_labeler, body, field):
    make_qualification_type("poles")
    body = {k: (vendor_labeler.pk if v == "{labeler}" else v) for k, v in body.items()}
    response = _grant(client_for(ops_user), **body)
    assert response.status_code == 400, response.content
    assert set(response.json()) == ERROR_KEYS
    assert field in response.json()["fields"]
    assert not Qualification.objects.exists()


def test_only_ops_grant(client_for, manager_a, vendor_labeler):
    make_qualification_type("poles")
    for user in (manager_a, vendor_labeler.user):
        response = _grant(
            client_for(user), labeler=vendor_labeler.pk, qualification_type="poles", reason="x"
        )
        assert response.status_code == 403
    assert not Qualification.objects.exists()


def test_ops_revoke_with_a_reason_then_it_is_not_live(client_for, ops_user, vendor_labeler):
    qtype = make_qualification_type("poles")
    grant = workforce_services.qualification_grant(
        actor=ops_user,
        labeler=vendor_labeler,
        qualification_type=qtype,
        source="manual",
        reason="x",
    )
    client = client_for(ops_user)
    missing_reason = client.post(f"/api/v1/qualifications/{grant.pk}/revoke/", {}, format="json")
    assert missing_reason.status_code == 400
    assert "reason" in missing_reason.json()["fields"]

    response = client.post(
        f"/api/v1/qualifications/{grant.pk}/revoke/", {"reason": "Audit failed."}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "revoked" and body["revoke_reason"] == "Audit failed."
    grant.refresh_from_db()
    assert grant.revoked_by == ops_user and grant.revoked_at is not None

    again = client.post(
        f"/api/v1/qualifications/{grant.pk}/revoke/", {"reason": "again"}, format="json"
    )
    assert again.status_code == 409 and again.json()["code"] == "qualification_not_live"


def test_revoke_is_ops_only_and_foreign_grants_are_404(
    client_for, manager_a, manager_b, vendor_labeler, internal_labeler
):
    qtype = make_qualification_type("poles")
    grant = workforce_services.qualification_grant(
        actor=None, labeler=vendor_labeler, qualification_type=qtype, source="manual", reason="x"
    )
    url = f"/api/v1/qualifications/{grant.pk}/revoke/"
    expected = {
        manager_a: 403,
        vendor_labeler.user: 403,
        manager_b: 404,
        internal_labeler.user: 404,
    }
    for user, status in expected.items():
        response = client_for(user).post(url, {"reason": "x"}, format="json")
        assert response.status_code == status, (user, response.content)
    grant.refresh_from_db()
    assert grant.revoked_at is None


def test_list_is_scoped_and_filters(
    client_for, ops_user, manager_a, vendor_labeler, vendor_b_labeler, internal_labeler
):
    poles, wires = make_qualification_type("poles"), make_qualification_type("wires")
    grants = {}
    for labeler in (vendor_labeler, vendor_b_labeler, internal_labeler):
        grants[labeler.pk] = workforce_services.qualification_grant(
            actor=None, labeler=labeler, qualification_type=poles, source="manual", reason="x"
        )
    expired = workforce_services.qualification_grant(
        actor=None,
        labeler=vendor_labeler,
        qualification_type=wires,
        source="manual",
        reason="x",
        valid_days=1,
        now=timezone.now() - timedelta(days=2),
    )

    def ids(user, **params):
        response = client_for(user).get("/api/v1/qualifications/", params)
        assert response.status_code == 200
        return {row["id"] for row in response.json()["results"]}

    assert ids(manager_a) == {grants[vendor_labeler.pk].pk, expired.pk}
    assert ids(vendor_labeler.user) == {grants[vendor_labeler.pk].pk, expired.pk}
    assert ids(internal_labeler.user) == {grants[internal_labeler.pk].pk}
    assert len(ids(ops_user)) == 4
    assert ids(ops_user, labeler=vendor_b_labeler.pk) == {grants[vendor_b_labeler.pk].pk}
    assert ids(ops_user, qualification_type="wires") == {expired.pk}
    assert ids(ops_user, valid="false") == {expired.pk}
    assert ids(ops_user, valid="true") == {g.pk for g in grants.values()}
    rows = client_for(ops_user).get("/api/v1/qualifications/", {"qualification_type": "wires"})
    assert rows.json()["results"][0]["state"] == "expired"


def test_qualification_types_are_listed_for_everyone(client_for, vendor_labeler, manager_b):
    make_qualification_type("poles", "Utility poles")
    for user in (vendor_labeler.user, manager_b):
        response = client_for(user).get("/api/v1/qualification-types/")
        assert response.status_code == 200
        assert [r["slug"] for r in response.json()["results"]] == ["poles"]


def test_revoked_qualification_reopens_the_quiz_for_the_labeler(
    client_for, ops_user, vendor_labeler
):
    quiz = make_quiz(num_questions=2, max_attempts=1)
    grant = workforce_services.qualification_grant(
        actor=None,
        labeler=vendor_labeler,
        qualification_type=quiz.qualification_type,
        source="manual",
        reason="x",
    )
    labeler_client = client_for(vendor_labeler.user)
    [row] = labeler_client.get("/api/v1/quizzes/").json()["results"]
    assert row["availability"]["available"] is False
    assert row["availability"]["holds_qualification"]["id"] == grant.pk
    assert labeler_client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/").status_code == 409

    client_for(ops_user).post(
        f"/api/v1/qualifications/{grant.pk}/revoke/", {"reason": "recheck"}, format="json"
    )
    [row] = labeler_client.get("/api/v1/quizzes/").json()["results"]
    assert row["availability"]["available"] is True
    assert row["availability"]["holds_qualification"] is None
    assert labeler_client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/").status_code == 201
