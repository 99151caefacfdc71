"""The project's quality settings through the services and the API: consensus method and
confidence threshold, adaptive control and its floor — validated with field messages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from assignments import services
from tests.assignments.factories import make_project

pytestmark = pytest.mark.django_db


def test_create_and_update_take_the_quality_settings(ops_user):
    project = services.project_create(
        actor=ops_user,
        slug="weighted",
        name="Weighted",
        answer_type="single_choice",
        classes=["ok", "rust"],
        consensus_method="weighted",
        confidence_threshold="0.9",
    )
    assert (project.consensus_method, project.confidence_threshold) == ("weighted", Decimal("0.9"))
    project = services.project_update(
        actor=ops_user, project=project, data={"consensus_method": "majority"}
    )
    assert project.consensus_method == "majority"


def test_bad_quality_settings_are_field_errors_and_change_nothing(ops_user):
    project = make_project(consensus_method="majority", confidence_threshold="0.8")
    with pytest.raises(ValidationError) as exc:
        services.project_update(
            actor=ops_user,
            project=project,
            data={"consensus_method": "vibes", "confidence_threshold": "1.5"},
        )
    assert set(exc.value.message_dict) == {"consensus_method", "confidence_threshold"}
    project.refresh_from_db()
    assert (project.consensus_method, str(project.confidence_threshold)) == ("majority", "0.800")


def test_new_projects_decide_by_the_model():
    assert make_project().consensus_method == "weighted"


def test_the_adaptive_floor_may_not_exceed_the_ratio(ops_user):
    project = make_project()
    with pytest.raises(ValidationError) as exc:
        services.project_update(
            actor=ops_user,
            project=project,
            data={"adaptive_control": True, "control_floor": "0.1"},  # ratio is 0
        )
    assert "control_floor" in exc.value.message_dict


def test_the_api_patches_the_quality_settings(client_for, ops_user):
    project = make_project()
    client = client_for(ops_user)
    response = client.patch(
        f"/api/v1/projects/{project.pk}/",
        {"consensus_method": "weighted", "confidence_threshold": "0.8"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["consensus_method"] == "weighted"
    bad = client.patch(
        f"/api/v1/projects/{project.pk}/", {"consensus_method": "vibes"}, format="json"
    )
    assert bad.status_code == 400 and "consensus_method" in bad.json()["fields"]
