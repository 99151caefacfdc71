"""The rules API: ``rule-firings/`` (scoped lists, what each role reads of a firing, filters,
reversal) and ``quality-rules/`` (ops define and change rules; the project is checked). Who may
call what is pinned in tests/qc/test_permissions_quality.py."""

from __future__ import annotations

import pytest

from qc.models import QualityRule, RuleFiring
from qc.selectors.rules import PUBLIC_INPUT_KEYS
from qc.services import rules as services
from tests.assignments.factories import make_project
from tests.factories import make_labeler
from tests.qc.factories import PROJECT, make_rule, record_checks
from tests.qc.quiz_factories import make_qualification_type

pytestmark = pytest.mark.django_db

A = QualityRule.Action
URL = "/api/v1/rule-firings/"
RULES_URL = "/api/v1/quality-rules/"


@pytest.fixture
def firings(vendor_labeler, internal_labeler, vendor_b_labeler):
    """A warn and a lower-control-rate rule on PROJECT, both firing on all three labelers."""
    make_rule(A.WARN, name="Gold floor")
    make_rule(
        A.LOWER_CONTROL_RATE,
        name="Reliable",
        bound="rate",
        comparison="above",
        threshold="0.4",
        control_rate=0.1,
    )
    out = {}
    for name, labeler in (
        ("vendor", vendor_labeler),
        ("internal", internal_labeler),
        ("b", vendor_b_labeler),
    ):
        record_checks(labeler, "1010101010")  # 5/10: upper 0.763 < 0.8, rate 0.5 > 0.4
        out[name] = {
            f.action: f for f in services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)
        }
    return out


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content[:300]
    return {row["id"] for row in response.json()["results"]}


def test_each_role_lists_the_firings_it_may_see(client_for, firings, ops_user, manager_a):
    def of(*names):
        return {f.pk for n in names for f in firings[n].values()}

    assert _ids(client_for(ops_user).get(URL)) == of("vendor", "internal", "b")
    assert _ids(client_for(manager_a).get(URL)) == of("vendor")
    labeler = firings["internal"][A.WARN].labeler
    assert _ids(client_for(labeler.user).get(URL)) == of("internal")


def test_a_labeler_reads_the_interval_but_not_the_bookkeeping(client_for, firings, ops_user):
    firing = firings["vendor"][A.LOWER_CONTROL_RATE]
    own = client_for(firing.labeler.user).get(f"{URL}{firing.pk}/")
    assert own.status_code == 200
    body = own.json()
    assert set(body["inputs"]) == set(PUBLIC_INPUT_KEYS)
    assert (body["inputs"]["n"], body["inputs"]["successes"]) == (10, 5)
    assert body["inputs"]["lower"] == pytest.approx(0.2366, abs=1e-4)
    assert body["inputs"]["upper"] == pytest.approx(0.7634, abs=1e-4)
    assert body["details"] is None
    assert (body["rule_name"], body["project"], body["status"]) == ("Reliable", PROJECT, "open")
    # No gold answer (nor the labeler's answers) anywhere in what they read.
    assert "crack" not in own.content.decode() and "rust" not in own.content.decode()

    ops = client_for(ops_user).get(f"{URL}{firing.pk}/").json()
    assert ops["inputs"] == body["inputs"]
    assert ops["details"]["control_rate"] == 0.1
    assert "control_rate_previous" in ops["details"]


def test_filters(client_for, firings, ops_user, vendor_labeler):
    client = client_for(ops_user)
    vendor = {f.pk for f in firings["vendor"].values()}
    warns = {fs[A.WARN].pk for fs in firings.values()}
    assert _ids(client.get(URL, {"labeler": vendor_labeler.pk})) == vendor
    assert _ids(client.get(URL, {"action": "warn"})) == warns
    assert _ids(client.get(URL, {"project": PROJECT + 1})) == set()
    assert _ids(client.get(URL, {"status": "reversed"})) == set()
    assert client.get(URL, {"status": "bogus"}).status_code == 400


def test_list_query_count_does_not_grow_with_rows(
    client_for, ops_user, vendor_a, django_assert_max_num_queries
):
    make_rule(A.WARN)
    for _ in range(12):
        labeler = make_labeler(vendor=vendor_a)
        record_checks(labeler, "0" * 10)
        services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)
    client = client_for(ops_user)
    with django_assert_max_num_queries(2):
        response = client.get(URL, {"page_size": 50})
    assert len(response.json()["results"]) == 12


def test_reverse_then_reverse_again_is_a_conflict(client_for, firings, ops_user):
    firing = firings["b"][A.LOWER_CONTROL_RATE]
    client = client_for(ops_user)
    response = client.post(f"{URL}{firing.pk}/reverse/", {"reason": "Too early."}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["reversed_by"], body["reverse_reason"]) == (
        "reversed",
        "ops",
        "Too early.",
    )
    assert body["details"]["reversal"] == {"done": "control rate removed"}

    again = client.post(f"{URL}{firing.pk}/reverse/", {"reason": "Again."}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_reversed"


def test_reverse_rejects_unknown_fields(client_for, firings, ops_user):
    firing = firings["b"][A.WARN]
    response = client_for(ops_user).post(
        f"{URL}{firing.pk}/reverse/", {"reason": "x", "status": "open"}, format="json"
    )
    assert response.status_code == 400 and "status" in response.json()["fields"]
    assert RuleFiring.objects.get(pk=firing.pk).status == "open"


# -- quality-rules ------------------------------------------------------------------------------


def test_ops_create_a_rule_and_unknown_projects_or_bad_values_are_field_errors(
    client_for, ops_user
):
    project = make_project(tasks=0)
    client = client_for(ops_user)
    body = {
        "project": project.pk,
        "name": "Requalify",
        "action": "revoke_qualification",
        "threshold": "0.8",
        "window": 50,
        "min_n": 20,
    }

    response = client.post(RULES_URL, {**body, "project": project.pk + 1000}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"project", "qualification_type"}
    response = client.post(RULES_URL, {**body, "threshold": "1.5"}, format="json")
    assert {"threshold"} <= set(response.json()["fields"])
    assert not QualityRule.objects.exists()

    make_qualification_type("poles")
    response = client.post(RULES_URL, {**body, "qualification_type": "poles"}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["project"] == project.pk
    assert (created["qualification_type"], created["created_by"]) == ("poles", "ops")
    assert (created["window"], created["min_n"], created["threshold"]) == (50, 20, "0.800")

    listed = client.get(RULES_URL, {"project": project.pk}).json()["results"]
    assert [r["id"] for r in listed] == [created["id"]]


def test_patch_changes_a_rule_and_turning_it_off_clears_its_warnings(client_for, ops_user, firings):
    rule = QualityRule.objects.get(name="Gold floor")
    client = client_for(ops_user)
    response = client.patch(f"{RULES_URL}{rule.pk}/", {"min_n": 30}, format="json")
    assert response.status_code == 400 and set(response.json()["fields"]) == {"min_n"}
    response = client.patch(f"{RULES_URL}{rule.pk}/", {"project": 5}, format="json")
    assert response.status_code == 400 and set(response.json()["fields"]) == {"project"}

    response = client.patch(f"{RULES_URL}{rule.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert set(rule.firings.values_list("status", flat=True)) == {"cleared"}


def test_the_earlier_rule_actions_route_is_a_deprecated_alias_of_rule_firings(
    ops_user, client_for, firings
):
    """``rule-actions/`` answers as ``rule-firings/`` for one more release, and says it is
    deprecated and where to go."""
    firing = firings["b"][A.LOWER_CONTROL_RATE]
    client = client_for(ops_user)
    for path in ("", f"{firing.pk}/"):
        new = client.get(f"/api/v1/rule-firings/{path}")
        old = client.get(f"/api/v1/rule-actions/{path}")
        assert old.status_code == new.status_code == 200
        assert old.json() == new.json()
        assert "Deprecation" not in new
        assert old["Deprecation"] == "true"
        assert old["Link"] == f'</api/v1/rule-firings/{path}>; rel="successor-version"'
    reversed_ = client.post(
        f"/api/v1/rule-actions/{firing.pk}/reverse/", {"reason": "Gold was wrong."}, format="json"
    )
    assert reversed_.status_code == 200 and reversed_.json()["status"] == "reversed"
