"""The admin of quality rules (added and changed through the services, errors on the form) and
of rule firings (read-only; "reverse" asks for a reason on the shared confirmation page)."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from qc.models import QualityRule, RuleFiring
from qc.services import rules as services
from tests.assignments.factories import make_project
from tests.factories import make_labeler
from tests.qc.factories import PROJECT, make_rule, record_checks, rule_form, rules_admin_samples
from tests.qc.quiz_factories import make_qualification_type

pytestmark = pytest.mark.django_db

A = QualityRule.Action


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_add_rule_goes_through_the_service(ops_client, ops_user):
    project = make_project(tasks=0)
    response = ops_client.post(
        reverse("admin:qc_qualityrule_add"), rule_form(project_id=project.pk)
    )
    assert response.status_code == 302, response.content[:2000]
    rule = QualityRule.objects.get()
    assert (rule.project_id, rule.created_by, rule.is_active) == (project.pk, ops_user, True)


def test_a_new_rule_needs_a_project_that_exists(ops_client):
    response = ops_client.post(reverse("admin:qc_qualityrule_add"), rule_form(project_id=987654))
    assert response.status_code == 200
    assert "Choose one of the projects listed." in response.content.decode()
    assert not QualityRule.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"action": "revoke_qualification"}, "The revoke action needs a qualification type."),
        ({"min_n": 60}, "cannot exceed the window"),
        ({"action": "lower_control_rate", "control_rate": "0.7"}, "between 0 and 0.5"),
    ],
)
def test_add_rule_shows_service_errors_on_the_form(ops_client, overrides, text):
    project = make_project(tasks=0)
    response = ops_client.post(
        reverse("admin:qc_qualityrule_add"), rule_form(project_id=project.pk, **overrides)
    )
    assert response.status_code == 200
    assert text in response.content.decode()
    assert not QualityRule.objects.exists()


def test_change_rule_through_update_and_turning_it_off_clears_warnings(ops_client, vendor_a):
    qtype = make_qualification_type("poles")
    rule = make_rule(A.WARN)
    labeler = make_labeler(vendor=vendor_a)
    record_checks(labeler, "0" * 10)
    (firing,) = services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)

    data = rule_form(name="Renamed", window=20, qualification_type=qtype.pk)
    del data["is_active"]
    response = ops_client.post(reverse("admin:qc_qualityrule_change", args=[rule.pk]), data)

    assert response.status_code == 302, response.content[:2000]
    rule.refresh_from_db()
    assert (rule.name, rule.window, rule.is_active) == ("Renamed", 20, False)
    assert rule.qualification_type is None  # a warning does not use it
    firing.refresh_from_db()
    assert firing.status == RuleFiring.Status.CLEARED


def _reverse_action(client, firings, **extra):
    data = {"action": "reverse", "_selected_action": [f.pk for f in firings], **extra}
    return client.post(reverse("admin:qc_rulefiring_changelist"), data)


def test_reverse_asks_for_a_reason_then_reverses_and_reports_refusals(
    ops_client, ops_user, vendor_labeler
):
    make_rule(A.PAUSE_ON_PROJECT)
    record_checks(vendor_labeler, "0" * 10)
    (firing,) = services.rules_evaluate(labeler_id=vendor_labeler.pk, project_id=PROJECT)

    page = _reverse_action(ops_client, [firing])
    assert page.status_code == 200
    assert "Reverse rule firings" in page.content.decode()
    blank = _reverse_action(ops_client, [firing], post="yes", reason="")
    assert blank.status_code == 200
    firing.refresh_from_db()
    assert firing.status == RuleFiring.Status.OPEN

    done = _reverse_action(ops_client, [firing], post="yes", reason="Gold was wrong.")
    assert done.status_code == 302
    assert "Reversed 1 rule firing(s)." in _messages(done)
    firing.refresh_from_db()
    assert (firing.status, firing.reversed_by, firing.reverse_reason) == (
        RuleFiring.Status.REVERSED,
        ops_user,
        "Gold was wrong.",
    )

    again = _reverse_action(ops_client, [firing], post="yes", reason="Again.")
    assert any("already reversed" in m for m in _messages(again))


def test_rule_action_changelist_is_read_only_and_shows_the_interval(
    ops_client, ops_user, vendor_labeler
):
    samples = rules_admin_samples(actor=ops_user, labeler=vendor_labeler)
    url = reverse("admin:qc_rulefiring_changelist")
    response = ops_client.get(url)
    assert response.status_code == 200
    assert "0/10 = 0.000, Wilson 95% [0.000, 0.278]" in response.content.decode()
    change = ops_client.get(reverse("admin:qc_rulefiring_change", args=[samples["rule_firing"].pk]))
    assert change.status_code == 200
    assert 'name="reverse_reason"' not in change.content.decode()
    assert ops_client.get(reverse("admin:qc_rulefiring_add")).status_code == 403

    def changelist_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert ops_client.get(url).status_code == 200
        return len(ctx.captured_queries)

    one = changelist_queries()
    for _ in range(5):
        other = make_labeler(vendor=vendor_labeler.vendor)
        record_checks(other, "0" * 10)
        services.rules_evaluate(labeler_id=other.pk, project_id=PROJECT)
    assert RuleFiring.objects.count() == 6
    assert changelist_queries() == one
