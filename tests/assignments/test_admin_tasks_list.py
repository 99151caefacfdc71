"""The work lists of the operations admin (issue 14, "People by name, records linked"): the tasks
list shows the final answer (short), who decided it and the agreement of the submitted answers
with it, computed in the page's own query; its batch filter lists only the chosen project's
batches. The assignments list filters by labeler and project through autocompletes (no list
of every labeler) and names the labeler. qc's rule and firing lists name projects, through the
resolver the assignments admin hands down, in one lookup per page."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assignments.models import Assignment, Batch, Task
from qc.models import QualityRule, RuleFiring
from qc.services import rules as rule_services
from tests.assignments.factories import make_project, submissions
from tests.factories import admin_url, make_labeler
from tests.qc.factories import make_rule, record_checks, rule_form
from workforce import services

pytestmark = pytest.mark.django_db


def named(username: str, first: str, last: str):
    labeler = make_labeler(username=username)
    return services.labeler_update(
        actor=None, labeler=labeler, data={"first_name": first, "last_name": last}
    )


def decide(task: Task, answer, by: str = "consensus") -> None:
    Task.objects.filter(pk=task.pk).update(
        final_answer=answer, decided_by=by, decided_at=timezone.now(), state="resolved"
    )


def row_of(html: str, task: Task) -> str:
    m = re.search(
        rf"<tr>(?:(?!</tr>).)*?/admin/assignments/task/{task.pk}/change/(?:(?!</tr>).)*</tr>",
        html,
        re.S,
    )
    assert m, f"no row for task {task.pk}"
    return m.group(0)


def cell(row: str, column: str) -> str:
    m = re.search(rf'<td class="field-{column}[^"]*">(.*?)</td>', row, re.S)
    assert m, f"no {column} cell"
    return m.group(1).strip()


@pytest.fixture
def trio():
    return [make_labeler(username=f"trio{i}") for i in range(3)]


# -- tasks --------------------------------------------------------------------------------------


def test_tasks_list_shows_final_answer_decider_and_agreement(ops_client, trio):
    a, b, c = trio
    project = make_project(tasks=0, slug="tasks-list")
    agreed, split, undecided = submissions(
        project,
        [[(a, "ok"), (b, "ok"), (c, "crack")], [(a, "ok"), (b, "rust")], [(a, "ok")]],
    )
    decide(agreed, "ok")
    decide(split, "rust", by="review")  # a senior chose the minority answer
    html = ops_client.get(admin_url(Task, "changelist")).content.decode()

    row = row_of(html, agreed)
    assert cell(row, "final") == "&quot;ok&quot;"
    assert cell(row, "decided_by") == "Consensus"
    assert cell(row, "agreement_share") == "2/3 (67%)"
    row = row_of(html, split)
    assert cell(row, "decided_by") == "Review"
    assert cell(row, "agreement_share") == "1/2 (50%)"
    row = row_of(html, undecided)
    assert cell(row, "final") == "—"
    assert cell(row, "agreement_share") == "—"


def test_a_long_final_answer_is_shortened_in_the_list_and_whole_on_the_page(ops_client, trio):
    project = make_project(tasks=0, slug="boxes-list")
    answer = [{"x": i, "y": i, "w": 10, "h": 10, "label": "crack"} for i in range(5)]
    (task,) = submissions(project, [[(trio[0], answer)]])
    decide(task, answer)
    html = ops_client.get(admin_url(Task, "changelist")).content.decode()
    shown = cell(row_of(html, task), "final")
    assert shown.endswith("…") and len(shown.replace("&quot;", '"')) == 40
    page = ops_client.get(admin_url(Task, "change", task.pk)).content.decode()
    assert "&quot;label&quot;: &quot;crack&quot;}]" in page  # the whole answer


def test_tasks_list_queries_do_not_grow_with_rows(ops_client, trio):
    project = make_project(tasks=0, slug="tasks-count")
    counts = []
    for n in (2, 30):
        for task in submissions(project, [[(trio[0], "ok"), (trio[1], "crack")]] * n):
            decide(task, "ok")
        ops_client.get(admin_url(Task, "changelist"))
        with CaptureQueriesContext(connection) as ctx:
            response = ops_client.get(admin_url(Task, "changelist"))
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_batch_filter_lists_only_the_chosen_projects_batches(ops_client, ops_user):
    mine = make_project(tasks=0, slug="mine")
    other = make_project(tasks=0, slug="other")
    b1 = Batch.objects.create(project=mine, source="mine-batch", created_by=ops_user)
    b2 = Batch.objects.create(project=other, source="other-batch", created_by=ops_user)
    html = ops_client.get(
        admin_url(Task, "changelist"), {"project__id__exact": mine.pk}
    ).content.decode()
    assert f"#{b1.pk} mine-batch" in html and "other-batch" not in html
    assert b2.pk  # the other batch exists; it is just not offered


# -- assignments --------------------------------------------------------------------------------


def test_assignments_list_names_labelers_and_filters_by_autocomplete(ops_client, trio):
    ana = named("ana", "Ana", "Silva")
    project = make_project(tasks=0, slug="assign-list", name="Pole inspection")
    other = make_project(tasks=0, slug="assign-other", name="Street signs")
    submissions(project, [[(ana, "ok"), (trio[0], "ok")]])
    submissions(other, [[(trio[1], "ok")]])

    html = ops_client.get(admin_url(Assignment, "changelist")).content.decode()
    assert f"Ana Silva ({ana.public_code})" in html
    # The filters are autocompletes: no option per labeler (or project) up front.
    labeler_url = reverse("admin:workforce_labeler_autocomplete")
    assert f'data-ajax--url="{labeler_url}"' in html
    assert 'name="labeler__id__exact"' in html and 'name="project__id__exact"' in html
    assert f'<option value="{trio[1].pk}"' not in html
    assert "admin/js/autocomplete.js" in html  # the scripts come from Django's own files

    chosen = ops_client.get(
        admin_url(Assignment, "changelist"), {"labeler__id__exact": ana.pk}
    ).content.decode()
    ids = set(map(int, re.findall(r"/admin/assignments/assignment/(\d+)/change/", chosen)))
    assert ids == set(Assignment.objects.filter(labeler=ana).values_list("pk", flat=True))
    # The chosen labeler is shown selected, by name.
    assert re.search(
        rf'<option value="{ana.pk}" selected>Ana Silva \({ana.public_code}\)</option>', chosen
    )

    by_project = ops_client.get(
        admin_url(Assignment, "changelist"),
        {"project__id__exact": other.pk, "status__exact": "submitted"},
    ).content.decode()
    ids = set(map(int, re.findall(r"/admin/assignments/assignment/(\d+)/change/", by_project)))
    assert ids == set(Assignment.objects.filter(project=other).values_list("pk", flat=True))
    # The other filters are kept when a labeler or project is picked.
    assert '<input type="hidden" name="status__exact" value="submitted">' in by_project


def test_large_lists_offer_no_counts_per_filter_choice(ops_client, trio):
    # Counting every filter choice is a scan per choice on tables of millions of rows.
    submissions(make_project(tasks=0, slug="facets"), [[(trio[0], "ok")]])
    for model in (Task, Assignment):
        html = ops_client.get(admin_url(model, "changelist"), {"_facets": "True"}).content
        assert b"Show counts" not in html and b"Hide counts" not in html


def test_the_filters_autocompletes_answer(ops_client, trio):
    ana = named("ana", "Ana", "Silva")
    make_project(tasks=0, slug="auto-a", name="Pole inspection")
    make_project(tasks=0, slug="auto-b", name="Street signs")
    query = {"app_label": "assignments", "model_name": "assignment"}
    labelers = ops_client.get(
        reverse("admin:workforce_labeler_autocomplete"),
        {**query, "field_name": "labeler", "term": "Ana"},
    ).json()["results"]
    assert labelers == [{"id": str(ana.pk), "text": f"Ana Silva ({ana.public_code})"}]
    projects = ops_client.get(
        reverse("admin:autocomplete"), {**query, "field_name": "project", "term": "street"}
    ).json()["results"]
    assert [p["text"] for p in projects] == ["Street signs"]


# -- qc lists name projects -----------------------------------------------------------------------


def test_rules_and_firings_name_their_projects(ops_client):
    project = make_project(tasks=0, slug="named-rules", name="Pole inspection")
    rule = make_rule(QualityRule.Action.WARN, name="Floor", project_id=project.pk)
    make_rule(QualityRule.Action.WARN, name="Stray", project_id=987654)
    labeler = named("ana", "Ana", "Silva")
    record_checks(labeler, "0" * 10, project_id=project.pk)
    (firing,) = rule_services.rules_evaluate(labeler_id=labeler.pk, project_id=project.pk)

    rules = ops_client.get(admin_url(QualityRule, "changelist")).content.decode()
    assert '<td class="field-project">Pole inspection</td>' in rules
    assert '<td class="field-project">project 987654</td>' in rules  # no such project
    assert f"?project={project.pk}" in rules and ">Pole inspection</a>" in rules  # the filter
    page = ops_client.get(admin_url(QualityRule, "change", rule.pk)).content.decode()
    assert "Pole inspection" in page

    firings = ops_client.get(admin_url(RuleFiring, "changelist")).content.decode()
    assert '<td class="field-project">Pole inspection</td>' in firings
    assert f"Ana Silva ({labeler.public_code})" in firings
    filtered = ops_client.get(
        admin_url(RuleFiring, "changelist"), {"project": project.pk}
    ).content.decode()
    assert f"/admin/qc/rulefiring/{firing.pk}/change/" in filtered


def test_a_new_rules_project_is_picked_by_name(ops_client, ops_user):
    project = make_project(tasks=0, slug="pick-me", name="Pole inspection")
    make_project(tasks=0, slug="not-me", name="Street signs")
    page = ops_client.get(admin_url(QualityRule, "add")).content.decode()
    assert f'<option value="{project.pk}">Pole inspection</option>' in page
    assert "Street signs</option>" in page
    response = ops_client.post(admin_url(QualityRule, "add"), rule_form(project_id=project.pk))
    assert response.status_code == 302
    assert QualityRule.objects.get().project_id == project.pk


def test_project_names_cost_one_lookup_per_page(ops_client):
    counts = []
    for n in (1, 8):
        for i in range(n):
            project = make_project(tasks=0, slug=f"p{n}-{i}", name=f"Project {n}-{i}")
            make_rule(QualityRule.Action.WARN, name=f"Rule {n}-{i}", project_id=project.pk)
        with CaptureQueriesContext(connection) as ctx:
            html = ops_client.get(admin_url(QualityRule, "changelist")).content.decode()
        assert f"Project {n}-{n - 1}" in html
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
