"""The quality dashboards of the admin (assignments.admin_quality_pages): the labeler scorecard, the
project quality page and the vendor comparison render for operations managers with the figures
of the seeded facts (hand-checked Wilson intervals, kappa, chi-square), render cleanly with no
data, are refused to everyone else, load no script or asset from elsewhere, and cost a
constant number of queries whatever the number of labelers, batches and rule firings.

State comes from the real services: tasks are imported, claimed and submitted (consensus runs
after commit as in production), control answers are graded by ``gold_check_record`` and rules
fire through ``rules_evaluate``; only the Dawid-Skene estimate is written directly (its fit is
tested in tests/qc/test_estimates.py)."""

from __future__ import annotations

import itertools
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assignments import services as work_services
from assignments.models import Batch, Project, Task
from qc.models import LabelerEstimate, QualityRule
from qc.services import rules as rule_services
from qc.services.quality_facts import gold_check_record
from tests.assignments.factories import content, main, make_project, scorecard_url
from tests.factories import UserFactory, make_labeler
from tests.qc.factories import make_gold_item, make_gold_set

pytestmark = pytest.mark.django_db

DASH = "\u2013"
# Wilson 95% intervals, checked by hand (and against published tables):
#   8/10  -> [0.4902, 0.9433];  4/5 -> [0.3755, 0.9638];  10/10 -> [10 / 13.8415, 1] = [0.7225, 1]
EIGHT_OF_TEN = f"80.0% (n = 10, 95% CI 49.0%{DASH}94.3%)"
FOUR_OF_FIVE = f"80.0% (n = 5, 95% CI 37.6%{DASH}96.4%)"
TEN_OF_TEN = f"100.0% (n = 10, 95% CI 72.2%{DASH}100.0%)"
PER_BATCH = 5

_assignment_ids = itertools.count(5_000_000)


# -- building a project's history -----------------------------------------------------------------


def quality_url(project) -> str:
    return reverse("admin:assignments_project_quality", args=[project.pk])


def vendors_url(project=None) -> str:
    url = reverse("admin:assignments_quality_vendors")
    return f"{url}?project={project.pk}" if project else url


def label_round_robin(project, labelers, answer_for_batch, capture) -> None:
    """Each labeler in turn claims their next task and answers by the task's batch, until no
    one gets a task; consensus runs after each submit's commit."""
    batch_of = dict(Task.objects.filter(project=project).values_list("pk", "batch_id"))
    progressed = True
    while progressed:
        progressed = False
        for labeler in labelers:
            claim = work_services.assignment_claim_next(labeler=labeler, project_id=project.pk)
            if claim is None:
                continue
            with capture(execute=True):
                work_services.assignment_submit(
                    labeler=labeler,
                    assignment_id=claim.assignment.pk,
                    answer=answer_for_batch(batch_of[claim.assignment.task_id]),
                )
            progressed = True


def record_gold(labeler, project, results: str, *, at) -> None:
    """Control answers graded by the real service: "1" right (crack), "0" wrong (rust)."""
    item = make_gold_item(make_gold_set(), accepted_answers=["crack"])
    for r in results:
        gold_check_record(
            labeler_id=labeler.pk,
            gold_item=item,
            project_id=project.pk,
            assignment_id=next(_assignment_ids),
            answer_type="single_choice",
            answer="crack" if r == "1" else "rust",
            iou_threshold=0.5,
            now=at,
        )


def build(size: int, *, slug: str, vendors, actor, capture):
    """A project of ``size`` batches (PER_BATCH tasks each, overlap 2) labeled by ``size``
    labelers of the given vendors in turn: the first batch all "ok", later ones all "crack" —
    so every later batch drifts from the first. The first labeler also has 8 of 10 gold checks
    right (4 of 5 two weeks ago, 4 of 5 today), a Dawid-Skene estimate of 0.87 over 120 items,
    and ``size`` warning rules that all fired on them."""
    project = make_project(tasks=0, overlap=2, slug=slug)
    batches = []
    for b in range(size):
        rows = [
            json.dumps({"image_url": f"https://img.example.test/{slug}/{b}/{i}.jpg"})
            for i in range(PER_BATCH)
        ]
        result = work_services.tasks_import(
            actor=actor,
            project=project,
            data="\n".join(rows),
            file_format="jsonl",
            source=f"flight F{b + 1}",
        )
        batches.append(result.batch.pk)
    labelers = [
        make_labeler(vendor=vendors[i % len(vendors)], username=f"{slug}-l{i}") for i in range(size)
    ]
    first = min(batches)
    label_round_robin(
        project, labelers, lambda batch_id: "ok" if batch_id == first else "crack", capture
    )
    target = labelers[0]
    now = timezone.now()
    record_gold(target, project, "11011", at=now - timedelta(days=14))
    record_gold(target, project, "10111", at=now - timedelta(hours=1))
    LabelerEstimate.objects.create(
        project_id=project.pk,
        labeler=target,
        method="one_coin",
        accuracy=0.87,
        n_items=120,
        confusion=[],
        fitted_at=now,
    )
    for r in range(size):
        rule_services.rule_create(
            actor=None,
            project_id=project.pk,
            name=f"Gold floor {r}",
            metric=QualityRule.Metric.GOLD_ACCURACY,
            window=20,
            min_n=10,
            bound="upper",
            comparison="below",
            threshold=Decimal("0.950") - Decimal(r) / 1000,
            action=QualityRule.Action.WARN,
        )
    # Up to now, not to the start of the day: the checks of an hour ago count (ops's pages).
    fired = rule_services.rules_evaluate(labeler_id=target.pk, project_id=project.pk, before=now)
    assert len(fired) == size
    return project, labelers


@pytest.fixture
def small(ops_user, vendor_a, django_capture_on_commit_callbacks):
    return build(
        2,
        slug="small",
        vendors=[vendor_a, None],
        actor=ops_user,
        capture=django_capture_on_commit_callbacks,
    )


def assert_no_foreign_assets(html: str) -> None:
    # The admin's own scripts come from STATIC_URL; nothing is loaded from anywhere else.
    for src in re.findall(r"<script[^>]*\ssrc=\"([^\"]*)\"", html):
        assert src.startswith("/" + settings.STATIC_URL.lstrip("/")), src
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html)
    assert "@import" not in html
    own = main(html)
    assert "<script" not in own
    assert "http://" not in own and "https://" not in own


# -- the scorecard --------------------------------------------------------------------------------


def test_scorecard_shows_the_seeded_figures_with_n_and_interval(ops_client, small):
    _, (target, _) = small
    html = content(ops_client.get(scorecard_url(target)))
    page = main(html)
    assert_no_foreign_assets(html)
    assert f"Gold accuracy, control tasks</th><td>{EIGHT_OF_TEN}" in page
    assert "Gold accuracy, quizzes</th><td>no data (n = 0)" in page
    # Both labelers answered all 10 tasks alike: every pair agrees, every answer is final.
    assert f"Agreement with peers (pairs)</th><td>{TEN_OF_TEN}" in page
    assert f"Agreement with the final label</th><td>{TEN_OF_TEN}" in page
    # Per class and the weekly series (two weeks, 4 of 5 each), with the chart's band.
    assert f"<td>crack</td><td>{EIGHT_OF_TEN}</td>" in page
    assert page.count(f"<td>{FOUR_OF_FIVE}</td>") == 2
    # On a time axis: the two weeks are joined (band and line) only when no week lies between
    # them (14 days apart, their weeks are one or two weeks apart depending on the weekday).
    now = timezone.now()
    weeks = [
        (now - ago).date() - timedelta(days=(now - ago).weekday())
        for ago in (timedelta(days=14), timedelta(hours=1))
    ]
    adjacent = (weeks[1] - weeks[0]).days == 7
    assert ('class="lf-band"' in page) == adjacent
    assert page.count("<circle cx=") >= 2
    assert "Confusion against gold" in page and "Confusion against final labels" in page
    assert "gold crack, answered rust: 2 (20.0% of the row)" in page
    assert "87.0% (one-coin, n = 120 items)" in page
    assert "Labels submitted</th><td>10</td>" in page
    # The rule firings, each with its interval at firing and the way to reverse it.
    assert page.count(f"{EIGHT_OF_TEN}; upper below 0.9") == 2
    assert "Gold floor 0" in page and "Gold floor 1" in page
    assert page.count("Reverse in the admin") == 2
    # The link opens the rule firings admin filtered to that open firing (its reverse action).
    link = re.findall(r'<a href="([^"]*)">Reverse in the admin', page)[0].replace("&amp;", "&")
    assert link.startswith(reverse("admin:qc_rulefiring_changelist") + "?status__exact=open")
    listing = content(ops_client.get(link))
    assert "1 rule firing" in listing and "Gold floor" in listing


def test_scorecard_window_and_project_filters(ops_client, small):
    project, (target, _) = small
    page = main(content(ops_client.get(scorecard_url(target, window="last_7_days"))))
    assert f"Gold accuracy, control tasks</th><td>{FOUR_OF_FIVE}" in page
    assert "last 7 days" in page
    other = make_project(tasks=0, slug="elsewhere")
    page = main(content(ops_client.get(scorecard_url(target, project=other.pk))))
    assert "showing all projects" in page  # not one of this labeler's projects: an error
    assert f"Gold accuracy, control tasks</th><td>{EIGHT_OF_TEN}" in page
    page = main(content(ops_client.get(scorecard_url(target, project=project.pk))))
    assert f"project <strong>{project.name}</strong>" in page
    assert f"Gold accuracy, control tasks</th><td>{EIGHT_OF_TEN}" in page


def test_scorecard_of_a_labeler_with_no_data_renders_cleanly(ops_client):
    labeler = make_labeler(username="newcomer")
    html = content(ops_client.get(scorecard_url(labeler)))
    page = main(html)
    assert_no_foreign_assets(html)
    assert page.count("no data (n = 0)") == 4
    assert page.count("No data yet") == 4  # weekly, two heatmaps, daily labels
    assert "No Dawid-Skene fit includes this labeler yet." in page
    assert "No quality rule has acted on this labeler." in page
    assert "no timed labels" in page


def test_unknown_labeler_is_404(ops_client):
    assert (
        ops_client.get(reverse("admin:assignments_quality_scorecard", args=[999999])).status_code
        == 404
    )


# -- the project quality page -----------------------------------------------------------------


def test_project_quality_shows_agreement_drift_and_the_ranked_labelers(ops_client, small):
    project, (target, peer) = small
    html = content(ops_client.get(quality_url(project)))
    page = main(html)
    assert_no_foreign_assets(html)
    assert 'Decided by consensus</th><td class="num">10</td>' in page
    # Both labelers gave the same answers, "ok" on 5 tasks and "crack" on 5: chance agreement
    # 0.5, observed 1 -> kappa 1; Fleiss and Krippendorff agree.
    assert "<td>1.000 (n = 10 shared tasks)</td>" in page
    assert "Fleiss' κ</th><td>1.000 (n = 10 tasks)" in page
    assert "Krippendorff's \u03b1 (nominal)</th><td>1.000 (n = 10 tasks)" in page
    # Batch 2 (all crack) against batch 1 (all ok): chi-square = N = 10, dof 1, p = 0.00157.
    assert '<td class="num">10.00</td><td class="num">1</td><td class="num">0.00157</td>' in page
    assert "&#9888; drift" in page and "1 batch drifted from the first batch" in page
    assert "Final labels per batch" in page
    # The labelers ranked: the one with gold first, each rate with n and interval.
    # Each by name beside the code: "<full name or username> (<code>)".
    rows = re.findall(r"<tr>\s*<td><a href=\"[^\"]*\">[^<(]+ \((L-\w+)\)</a></td>", page)
    assert rows[-2:] == [target.public_code, peer.public_code]
    assert EIGHT_OF_TEN in page and "87.0% (one-coin, n = 120 items)" in page
    assert page.count(f"<td>{TEN_OF_TEN}</td>") == 4  # both: with peers and with final
    assert scorecard_url(target, project=project.pk) in page


def test_project_quality_without_data_renders_cleanly(ops_client):
    project = make_project(tasks=0, slug="empty")
    html = content(ops_client.get(quality_url(project)))
    page = main(html)
    assert_no_foreign_assets(html)
    assert "No two labelers share a submitted task yet." in page
    assert "No decided tasks in any batch yet" in page
    assert "No labeler has a graded or decided answer on this project yet." in page
    assert page.count("No data yet") == 2
    assert "not defined (n = 0 tasks)" in page


def test_box_project_shows_box_f1_and_no_class_coefficients(ops_client):
    project = make_project(
        tasks=0,
        slug="boxes",
        name="Insulator boxes",
        answer_type="boxes",
        classes=["pole", "insulator"],
        overlap=2,
    )
    page = main(content(ops_client.get(quality_url(project))))
    assert "Box F1 (IoU-matched) of the labeler pairs" in page
    assert "Fleiss" not in page.split("<h3>")[0]
    assert "(box projects have no class distribution)" in page


def test_unknown_project_is_404(ops_client):
    assert (
        ops_client.get(reverse("admin:assignments_project_quality", args=[999999])).status_code
        == 404
    )


# -- the vendor comparison --------------------------------------------------------------------


def test_vendor_comparison_per_vendor_with_n_and_interval(ops_client, small, vendor_a):
    project, _ = small
    html = content(ops_client.get(vendors_url(project)))
    page = main(html)
    assert_no_foreign_assets(html)
    chart, table = page.split("<table", 1)
    acme = table.split(vendor_a.name, 1)[1].split("</tr>", 1)[0]
    internal = table.split("Internal labelers", 1)[1].split("</tr>", 1)[0]
    # The chart above the table: Acme's gold accuracy as a dot with its interval (the tooltip
    # says which), the internal labelers' line says there is no data.
    assert f"{vendor_a.name}: 80.0% (n = 10, 95% CI" in chart
    assert chart.count('class="lf-whisker"') == 1 and "no data" in chart
    # Acme: one labeler, 10 labels, 8/10 gold, 10/10 with final, DS 0.87, 10 labels / 30 days.
    assert '<td class="num">1</td><td class="num">10</td>' in acme
    assert f"<td>{EIGHT_OF_TEN}</td>" in acme
    assert f"<td>{TEN_OF_TEN}</td>" in acme
    assert "87.0% (mean of n = 1 labelers)" in acme
    assert '<td class="num">0.3</td>' in acme
    assert "<td>no data (n = 0)</td>" in internal and "not fitted yet" in internal
    assert f"project <strong>{project.name}</strong>" in page


def test_vendor_comparison_without_data_renders_cleanly(ops_client):
    page = main(content(ops_client.get(vendors_url())))
    assert "No labels submitted yet." in page


# -- links from the other admin pages ---------------------------------------------------------


def test_links_from_the_project_and_labeler_admin(ops_client, small):
    project, (target, _) = small
    page = content(ops_client.get(reverse("admin:assignments_project_change", args=[project.pk])))
    assert quality_url(project) in page
    page = content(ops_client.get(reverse("admin:assignments_project_changelist")))
    assert quality_url(project) in page and vendors_url() in page
    page = content(ops_client.get(reverse("admin:workforce_labeler_change", args=[target.pk])))
    assert scorecard_url(target) in page
    page = content(ops_client.get(reverse("admin:workforce_labeler_changelist")))
    assert scorecard_url(target) in page


# -- who may see them -------------------------------------------------------------------------


def _pages(project, labeler) -> list[str]:
    return [scorecard_url(labeler), quality_url(project), vendors_url()]


@pytest.mark.parametrize("who", ["labeler", "manager", "anonymous"])
def test_refused_to_everyone_but_ops(client, who, vendor_labeler, manager_a):
    project = make_project(tasks=0, slug="closed")
    if who == "labeler":
        client.force_login(vendor_labeler.user)
    elif who == "manager":
        client.force_login(manager_a)
    for url in _pages(project, vendor_labeler):
        response = client.get(url)
        # The admin's usual refusal: to its login page, nothing of the page itself.
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_view_permissions_get_403(client, vendor_labeler):
    project = make_project(tasks=0, slug="closed")
    user = UserFactory(username="staff-no-perms", is_staff=True)
    client.force_login(user)
    for url in _pages(project, vendor_labeler):
        assert client.get(url).status_code == 403, url
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_labeler", "view_project", "view_vendor"],
            content_type__app_label__in=["workforce", "assignments"],
        )
    )
    for url in _pages(project, vendor_labeler):
        assert client.get(url).status_code == 200, url


# -- query counts -----------------------------------------------------------------------------

# Each page: session, user and permissions (4), then its own reads. Scorecard: the labeler, their
# projects, the scorecard selector (10, or 11 when the median needs two middle values) and the
# rule firings. Project: the project, the quality selector (at most 12), the batches' sources
# and the drift events panel.
# Vendors: the projects, the comparison selector (4) and the throughput per vendor.
# vendors: 10 + the three grouped active-time queries (labeling, reviews, quizzes).
MAX_QUERIES = {"scorecard": 18, "project": 18, "vendors": 13}


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_query_counts_do_not_grow_with_labelers_batches_or_rule_actions(
    ops_client,
    ops_user,
    vendor_a,
    vendor_b,
    django_capture_on_commit_callbacks,
    django_assert_max_num_queries,
):
    counts = {}
    for size in (2, 6):
        project, labelers = build(
            size,
            slug=f"size{size}",
            vendors=[vendor_a, vendor_b, None],
            actor=ops_user,
            capture=django_capture_on_commit_callbacks,
        )
        assert Batch.objects.filter(project=project).count() == size
        urls = {
            "scorecard": scorecard_url(labelers[0]),
            "project": quality_url(project),
            "vendors": vendors_url(project),
        }
        for page, url in urls.items():
            with django_assert_max_num_queries(MAX_QUERIES[page]):
                counts[page, size] = _count(ops_client, url)
    for page in MAX_QUERIES:
        assert counts[page, 2] == counts[page, 6], (page, counts)
    assert Project.objects.count() == 2
