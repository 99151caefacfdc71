"""A project's settings and a quality rule's are declared once, next to their models
(``PROJECT_SETTINGS``, ``QUALITY_RULE_SETTINGS``): the services, the admin forms and the API's
serializers take exactly those names, a setting left out of a create is the model's default, and
a name outside them is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assignments import services
from assignments.admin import ProjectAdmin, ProjectForm
from assignments.models import PROJECT_DRAFT_ONLY_SETTINGS, PROJECT_SETTINGS, Project
from qc.admin.rules import QualityRuleForm
from qc.models import QUALITY_RULE_SETTINGS, QualityRule
from qc.services import rules as rule_services
from tests.assignments.factories import empty_project

pytestmark = pytest.mark.django_db


def test_every_project_list_is_the_declaration():
    import config.urls  # noqa: F401  (registers the URL converters the API modules use)
    from assignments.api.projects import ProjectIn, ProjectOpsOut, ProjectPatchIn

    assert set(PROJECT_SETTINGS) == services.projects.EDITABLE_FIELDS
    assert set(PROJECT_DRAFT_ONLY_SETTINGS) == services.projects.DRAFT_ONLY_FIELDS
    assert set(PROJECT_DRAFT_ONLY_SETTINGS) <= set(PROJECT_SETTINGS)
    assert ProjectForm.Meta.fields == ("slug", *PROJECT_SETTINGS)
    assert ProjectAdmin.schema_fields == PROJECT_DRAFT_ONLY_SETTINGS
    assert list(ProjectPatchIn().fields) == list(PROJECT_SETTINGS)
    assert set(ProjectIn().fields) == {"slug", *PROJECT_SETTINGS}
    assert set(PROJECT_SETTINGS) <= set(ProjectOpsOut().fields)


def test_every_rule_list_is_the_declaration():
    import config.urls  # noqa: F401  (registers the URL converters the API modules use)
    from assignments.api.rules import QualityRuleCreateIn, QualityRuleOut, QualityRuleUpdateIn

    assert set(QUALITY_RULE_SETTINGS) == rule_services.RULE_EDITABLE_FIELDS
    assert QualityRuleForm.Meta.fields == ("project_id", *QUALITY_RULE_SETTINGS)
    assert list(QualityRuleUpdateIn().fields) == list(QUALITY_RULE_SETTINGS)
    assert set(QualityRuleCreateIn().fields) == {"project", *QUALITY_RULE_SETTINGS}
    assert set(QUALITY_RULE_SETTINGS) <= set(QualityRuleOut().fields)


def test_a_project_created_with_the_four_it_needs_has_the_models_defaults(ops_user):
    project = services.project_create(
        actor=ops_user, slug="bare", name="Bare", answer_type="single_choice", classes=["a", "b"]
    )
    project.refresh_from_db()
    for name in PROJECT_SETTINGS:
        field = Project._meta.get_field(name)
        if field.many_to_many or name in {"name", "answer_type", "classes"}:
            continue
        default = field.get_default()
        value = getattr(project, name)
        if isinstance(value, Decimal):
            default = Decimal(str(default))
        assert value == default, name
    assert project.max_overlap == project.overlap + 1
    assert not project.required_qualifications.exists()


def test_a_max_overlap_of_none_is_the_overlap_plus_one(ops_user):
    project = services.project_create(
        actor=ops_user,
        slug="none-max",
        name="None max",
        answer_type="single_choice",
        classes=["a", "b"],
        overlap=3,
        max_overlap=None,
    )
    assert project.max_overlap == 4


def test_a_keyword_outside_the_settings_is_a_type_error(ops_user):
    with pytest.raises(TypeError, match="status"):
        services.project_create(
            actor=ops_user,
            slug="x",
            name="X",
            answer_type="single_choice",
            classes=["a"],
            status="active",
        )
    assert not Project.objects.filter(slug="x").exists()
    with pytest.raises(TypeError, match="created_by"):
        rule_services.rule_create(
            actor=ops_user,
            project_id=empty_project().pk,
            name="r",
            action="warn",
            threshold="0.5",
            created_by=ops_user,
        )
    assert not QualityRule.objects.exists()


def test_a_rule_created_with_the_three_it_needs_has_the_models_defaults(ops_user):
    rule = rule_services.rule_create(
        actor=ops_user, project_id=empty_project().pk, name="r", action="warn", threshold="0.5"
    )
    rule.refresh_from_db()
    for name in QUALITY_RULE_SETTINGS:
        if name in {"name", "action", "threshold"}:
            continue
        default = QualityRule._meta.get_field(name).get_default()
        assert getattr(rule, name) == default, name


def test_a_rule_update_writes_the_settings_and_keeps_the_rest(ops_user):
    rule = rule_services.rule_create(
        actor=ops_user, project_id=empty_project().pk, name="r", action="warn", threshold="0.5"
    )
    rule = rule_services.rule_update(
        actor=ops_user, rule=rule, data={"window": 80, "min_n": 20, "name": "renamed"}
    )
    row = QualityRule.objects.get(pk=rule.pk)
    assert (row.name, row.window, row.min_n, row.threshold) == ("renamed", 80, 20, Decimal("0.5"))
    assert row.created_by == ops_user


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("overlap", 0, "Must be between 1 and 100."),
        ("overlap", -1, "Must be between 1 and 100."),
        ("priority", 2**31, "Must be between -2147483647 and 2147483647."),
        ("max_overlap", 101, "Must be between 1 and 100."),
        ("lease_seconds", 10, "Must be between 30 and 604800."),
        ("refit_every", -1, "A whole number of new labels, 0 or more"),
        ("iou_threshold", "0", "Must be greater than 0 and at most 1."),
    ],
)
def test_the_api_leaves_the_settings_bounds_to_the_service(
    client_for, ops_user, field, value, message
):
    """The serializers take their types from the model but not the columns' bounds: a number
    out of the project's range gets the service's message, on the field."""
    body = {"slug": "bounds", "name": "B", "answer_type": "single_choice", "classes": ["a", "b"]}
    response = client_for(ops_user).post("/api/v1/projects/", {**body, field: value}, format="json")
    assert response.status_code == 400, response.json()
    [text] = response.json()["fields"][field]
    assert text.startswith(message)
    project = services.project_create(actor=ops_user, **{**body, "slug": "draft"})
    response = client_for(ops_user).patch(
        f"/api/v1/projects/{project.pk}/", {field: value}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"][field][0].startswith(message)
