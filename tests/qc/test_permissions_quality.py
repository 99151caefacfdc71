"""Role-by-endpoint matrix over the quality routes of API v1: scorecards, the project quality
page, the vendor comparison (and, appended by their authors, the quality rules and gold-check
routes).

Same conventions as ``tests/workforce/test_permissions_matrix.py`` (whose route-coverage test
also reads ``MATRIX`` here): a foreign object is a 404; a caller who sees the object but may not
read this view of it gets a 403. Paths may carry a query string; bodies may name ids of the world
below as ``"{name}"``. Add ids to ``world`` for new rows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from assignments.models import Project
from qc.models import GoldCheck, GoldItem, GoldSet
from tests.assignments.factories import make_project
from tests.permissions import V1, Row, matrix_test, route_test
from tests.qc.factories import make_rule

pytestmark = pytest.mark.django_db

SCORECARD = V1 + "labelers/<id:pk>/scorecard/"
QUALITY = V1 + "projects/<id:pk>/quality/"
RULE_FIRING = V1 + "rule-firings/<id:pk>/"
QUALITY_RULE = V1 + "quality-rules/<id:pk>/"
CONTEST = V1 + "me/gold-checks/<id:pk>/contest/"

# ops, manager A, manager B, internal labeler, vendor labeler (of A), anonymous
MATRIX: tuple[Row, ...] = (
    Row(
        "vendor labeler's scorecard",
        "GET",
        SCORECARD,
        "/api/v1/labelers/{vendor_labeler}/scorecard/",
        (200, 200, 404, 404, 200, 401),
    ),
    Row(
        "internal labeler's scorecard",
        "GET",
        SCORECARD,
        "/api/v1/labelers/{internal_labeler}/scorecard/",
        (200, 404, 404, 200, 404, 401),
    ),
    Row(
        "vendor B labeler's scorecard",
        "GET",
        SCORECARD,
        "/api/v1/labelers/{b_labeler}/scorecard/",
        (200, 404, 200, 404, 404, 401),
    ),
    Row(
        "scorecard of a labeler that does not exist",
        "GET",
        SCORECARD,
        "/api/v1/labelers/{missing}/scorecard/",
        (404, 404, 404, 404, 404, 401),
    ),
    Row(
        "vendor labeler's scorecard on a project",
        "GET",
        SCORECARD,
        "/api/v1/labelers/{vendor_labeler}/scorecard/?project={project}",
        (200, 200, 404, 404, 200, 401),
    ),
    Row(
        "vendor labeler's scorecard on a draft project",
        "GET",
        SCORECARD,
        "/api/v1/labelers/{vendor_labeler}/scorecard/?project={draft_project}",
        (200, 404, 404, 404, 404, 401),
    ),
    Row(
        "vendor labeler's scorecard, project not a number",
        "GET",
        SCORECARD,
        "/api/v1/labelers/{vendor_labeler}/scorecard/?project=x",
        (400, 400, 404, 404, 400, 401),
    ),
    Row(
        "my scorecard",
        "GET",
        V1 + "me/scorecard/",
        "/api/v1/me/scorecard/",
        (403, 403, 403, 200, 200, 401),
    ),
    Row(
        "my scorecard on a project",
        "GET",
        V1 + "me/scorecard/",
        "/api/v1/me/scorecard/?project={project}",
        (403, 403, 403, 200, 200, 401),
    ),
    Row(
        "my scorecard on a project that does not exist",
        "GET",
        V1 + "me/scorecard/",
        "/api/v1/me/scorecard/?project={missing}",
        (403, 403, 403, 404, 404, 401),
    ),
    Row(
        "project quality",
        "GET",
        QUALITY,
        "/api/v1/projects/{project}/quality/",
        (200, 200, 200, 403, 403, 401),
    ),
    Row(
        "quality of a draft project",
        "GET",
        QUALITY,
        "/api/v1/projects/{draft_project}/quality/",
        (200, 404, 404, 404, 404, 401),
    ),
    Row(
        "quality of a project that does not exist",
        "GET",
        QUALITY,
        "/api/v1/projects/{missing}/quality/",
        (404, 404, 404, 404, 404, 401),
    ),
    Row(
        "vendor comparison",
        "GET",
        V1 + "vendor-comparison/",
        "/api/v1/vendor-comparison/",
        (200, 200, 200, 200, 200, 401),
    ),
    Row(
        "vendor comparison, project not a number",
        "GET",
        V1 + "vendor-comparison/",
        "/api/v1/vendor-comparison/?project=x",
        (400, 400, 400, 400, 400, 401),
    ),
    # -- quality rules and their firings (tests/qc/test_rules*.py) --
    Row(
        "rule firings",
        "GET",
        V1 + "rule-firings/",
        "/api/v1/rule-firings/",
        (200, 200, 200, 200, 200, 401),
    ),
    Row(
        "vendor labeler's rule firing",
        "GET",
        RULE_FIRING,
        "/api/v1/rule-firings/{vendor_firing}/",
        (200, 200, 404, 404, 200, 401),
    ),
    Row(
        "internal labeler's rule firing",
        "GET",
        RULE_FIRING,
        "/api/v1/rule-firings/{internal_firing}/",
        (200, 404, 404, 200, 404, 401),
    ),
    Row(
        "vendor B labeler's rule firing",
        "GET",
        RULE_FIRING,
        "/api/v1/rule-firings/{b_firing}/",
        (200, 404, 200, 404, 404, 401),
    ),
    Row(
        "rule firing that does not exist",
        "GET",
        RULE_FIRING,
        "/api/v1/rule-firings/{missing}/",
        (404, 404, 404, 404, 404, 401),
    ),
    Row(
        "reverse vendor labeler's rule firing",
        "POST",
        RULE_FIRING + "reverse/",
        "/api/v1/rule-firings/{vendor_firing}/reverse/",
        (200, 403, 404, 404, 403, 401),
        {"reason": "the gold item was wrong"},
    ),
    Row(
        "reverse internal labeler's rule firing",
        "POST",
        RULE_FIRING + "reverse/",
        "/api/v1/rule-firings/{internal_firing}/reverse/",
        (200, 404, 404, 403, 404, 401),
        {"reason": "the gold item was wrong"},
    ),
    Row(
        "reverse vendor B labeler's rule firing",
        "POST",
        RULE_FIRING + "reverse/",
        "/api/v1/rule-firings/{b_firing}/reverse/",
        (200, 404, 403, 404, 404, 401),
        {"reason": "the gold item was wrong"},
    ),
    Row(
        "reverse vendor labeler's rule firing without a reason",
        "POST",
        RULE_FIRING + "reverse/",
        "/api/v1/rule-firings/{vendor_firing}/reverse/",
        (400, 403, 404, 404, 403, 401),
        {},
    ),
    Row(
        "reverse a rule firing that does not exist",
        "POST",
        RULE_FIRING + "reverse/",
        "/api/v1/rule-firings/{missing}/reverse/",
        (404, 404, 404, 404, 404, 401),
        {"reason": "x"},
    ),
    Row(
        "quality rules",
        "GET",
        V1 + "quality-rules/",
        "/api/v1/quality-rules/",
        (200, 403, 403, 403, 403, 401),
    ),
    Row(
        "create a quality rule",
        "POST",
        V1 + "quality-rules/",
        "/api/v1/quality-rules/",
        (201, 403, 403, 403, 403, 401),
        {"project": "{project}", "name": "Gold floor", "action": "warn", "threshold": "0.8"},
    ),
    Row(
        "create a quality rule on a project that does not exist",
        "POST",
        V1 + "quality-rules/",
        "/api/v1/quality-rules/",
        (400, 403, 403, 403, 403, 401),
        {"project": "{missing}", "name": "Gold floor", "action": "warn", "threshold": "0.8"},
    ),
    Row(
        "quality rule",
        "GET",
        QUALITY_RULE,
        "/api/v1/quality-rules/{rule}/",
        (200, 403, 403, 403, 403, 401),
    ),
    Row(
        "quality rule that does not exist",
        "GET",
        QUALITY_RULE,
        "/api/v1/quality-rules/{missing}/",
        (404, 403, 403, 403, 403, 401),
    ),
    Row(
        "change a quality rule",
        "PATCH",
        QUALITY_RULE,
        "/api/v1/quality-rules/{rule}/",
        (200, 403, 403, 403, 403, 401),
        {"threshold": "0.7"},
    ),
    Row(
        "change a quality rule, invalid",
        "PATCH",
        QUALITY_RULE,
        "/api/v1/quality-rules/{rule}/",
        (400, 403, 403, 403, 403, 401),
        {"window": 0},
    ),
    # -- gold checks and gold health (tests/qc/test_gold_checks_api.py) --
    Row(
        "my gold checks",
        "GET",
        V1 + "me/gold-checks/",
        "/api/v1/me/gold-checks/",
        (403, 403, 403, 200, 200, 401),
    ),
    Row(
        "contest vendor labeler's gold check",
        "POST",
        CONTEST,
        "/api/v1/me/gold-checks/{vendor_check}/contest/",
        (403, 403, 403, 404, 200, 401),
        {"note": "The gold is wrong."},
    ),
    Row(
        "contest internal labeler's gold check",
        "POST",
        CONTEST,
        "/api/v1/me/gold-checks/{internal_check}/contest/",
        (403, 403, 403, 200, 404, 401),
        {"note": "The gold is wrong."},
    ),
    Row(
        "contest vendor B labeler's gold check",
        "POST",
        CONTEST,
        "/api/v1/me/gold-checks/{b_check}/contest/",
        (403, 403, 403, 404, 404, 401),
        {"note": "The gold is wrong."},
    ),
    Row(
        "contest a gold check without a note",
        "POST",
        CONTEST,
        "/api/v1/me/gold-checks/{vendor_check}/contest/",
        (403, 403, 403, 404, 400, 401),
        {},
    ),
    Row(
        "contest a gold check that does not exist",
        "POST",
        CONTEST,
        "/api/v1/me/gold-checks/{missing}/contest/",
        (403, 403, 403, 404, 404, 401),
        {"note": "x"},
    ),
    Row(
        "gold checks",
        "GET",
        V1 + "gold-checks/",
        "/api/v1/gold-checks/",
        (200, 200, 200, 403, 403, 401),
    ),
    Row(
        "gold checks of vendor labeler",
        "GET",
        V1 + "gold-checks/",
        "/api/v1/gold-checks/?labeler={vendor_labeler}",
        (200, 200, 200, 403, 403, 401),
    ),
    Row(
        "gold set health",
        "GET",
        V1 + "gold-sets/<id:pk>/health/",
        "/api/v1/gold-sets/{gold_set}/health/",
        (200, 403, 403, 403, 403, 401),
    ),
    Row(
        "health of a gold set that does not exist",
        "GET",
        V1 + "gold-sets/<id:pk>/health/",
        "/api/v1/gold-sets/{missing}/health/",
        (404, 403, 403, 403, 403, 401),
    ),
)


def _check(labeler, item, project, *, correct: bool, days_ago: int = 3) -> GoldCheck:
    at = timezone.now() - timedelta(days=days_ago)
    return GoldCheck.objects.create(
        labeler=labeler,
        gold_item=item,
        project_id=project.pk,
        assignment_id=GoldCheck.objects.count() + 10_000 + labeler.pk * 100,
        answer="crack" if correct else "rust",
        correct=correct,
        expected_class="crack",
        answer_class="crack" if correct else "rust",
        checked_at=at,
    )


@pytest.fixture
def world(cast):
    project = make_project(tasks=2, overlap=2)
    draft = make_project(tasks=0, slug="draft-poles", status=Project.Status.DRAFT)
    gold_set = GoldSet.objects.create(
        slug="perm-gold", name="Gold", answer_type="single_choice", classes=project.classes
    )
    item = GoldItem.objects.create(
        gold_set=gold_set,
        external_id="g1",
        payload={"image_url": "https://img.example.test/g1.jpg"},
        accepted_answers=["crack"],
    )
    gold_checks = {
        f"{name}_check": _check(labeler, item, project, correct=True).pk
        for name, labeler in (
            ("vendor", cast.vendor_labeler),
            ("internal", cast.internal_labeler),
            ("b", cast.vendor_b_labeler),
        )
    }
    users = cast.users
    ids = {
        "project": project.pk,
        "draft_project": draft.pk,
        **cast.ids,
        "gold_item": item.pk,
        "gold_set": gold_set.pk,
        **gold_checks,
        "missing": 987654321,
        **_rules_world(project, cast.vendor_labeler, cast.internal_labeler, cast.vendor_b_labeler),
    }
    return SimpleNamespace(users=users, ids=ids, project=project, item=item)


# The deprecated alias ``rule-actions/`` (for one release) answers every role as ``rule-firings/``.
MATRIX += tuple(
    replace(
        row,
        name=f"{row.name} (alias rule-actions/)",
        route=row.route.replace("rule-firings/", "rule-actions/"),
        path=row.path.replace("rule-firings/", "rule-actions/"),
    )
    for row in MATRIX
    if "rule-firings/" in row.route
)

test_matrix = matrix_test(MATRIX)
test_matrix_rows_resolve_to_their_route = route_test(MATRIX)


# -- what each role sees ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("ops", {"vendor_a", "vendor_b", None}),
        ("manager_a", {"vendor_a"}),
        ("manager_b", {"vendor_b"}),
        ("internal_labeler", set()),
        ("vendor_labeler", set()),
    ],
)
def test_vendor_comparison_per_role(client_for, world, role, expected):
    response = client_for(world.users[role]).get("/api/v1/vendor-comparison/")
    assert response.status_code == 200
    want = {world.ids[name] if name else None for name in expected}
    assert {row["vendor_id"] for row in response.json()} == want


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("ops", {"vendor_labeler", "internal_labeler", "b_labeler"}),
        ("manager_a", {"vendor_labeler"}),
        ("manager_b", {"b_labeler"}),
    ],
)
def test_project_quality_lists_only_the_callers_labelers(client_for, world, role, expected):
    response = client_for(world.users[role]).get(f"/api/v1/projects/{world.project.pk}/quality/")
    assert response.status_code == 200
    assert {row["labeler"] for row in response.json()["labelers"]} == {
        world.ids[name] for name in expected
    }


# -- quality rules: a rule that fires on each labeler's one right check ---------------------------


def _rules_world(project, vendor_labeler, internal_labeler, vendor_b_labeler) -> dict[str, int]:
    """A warn rule on ``project`` (the lower bound of gold accuracy is above 0) and its firing on
    each labeler, made by the real evaluation."""
    from qc.services import rules as rules_services

    rule = make_rule(
        "warn",
        project_id=project.pk,
        name="Any gold",
        window=5,
        min_n=1,
        bound="lower",
        comparison="above",
        threshold="0",
    )

    def fire(labeler) -> int:
        (firing,) = rules_services.rules_evaluate(labeler_id=labeler.pk, project_id=project.pk)
        return firing.pk

    return {
        "rule": rule.pk,
        "vendor_firing": fire(vendor_labeler),
        "internal_firing": fire(internal_labeler),
        "b_firing": fire(vendor_b_labeler),
    }
