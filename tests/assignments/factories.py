"""assignments factories: projects and their tasks, task imports, control sets, submitted work
and the facts quality reads, for the tests of every app that needs work to exist.

Projects and tasks are written with the ORM (a project in any status, without the service's
validation), control tasks and imports go through the services like production; submitted work
and gold checks are written directly (bulk), as facts to read."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from assignments import services
from assignments.models import (
    Assignment,
    DriftEvent,
    Project,
    ProjectRefit,
    ProjectStatusChange,
    Task,
)
from assignments.services import review as review_services
from assignments.services.refits import project_refit_run
from assignments.services.review import assignment_flag
from qc.models import GoldCheck, GoldItem, GoldSet, QualityRule
from qc.services import gold_health
from tests.factories import make_labeler
from tests.qc.factories import make_rule
from workforce.models import Labeler, User

# A string planted as a gold answer: a response that carries it leaks the answer.
CANARY = "canary-7f3c-answer"


# -- projects and tasks -------------------------------------------------------------------------


def make_project(*, tasks: int = 10, overlap: int = 2, lease_seconds: int = 600, **extra):
    """A project (by default active, single choice, labels ok, crack, rust; any other field in
    ``extra``) with ``tasks`` tasks of priorities 0, 1, 2, 0, ... each wanting ``overlap``
    answers; ``max_overlap`` is at least ``overlap + 1``."""
    project = Project.objects.create(
        slug=extra.pop("slug", "poles"),
        name=extra.pop("name", "Pole inspection"),
        status=extra.pop("status", Project.Status.ACTIVE),
        answer_type=extra.pop("answer_type", "single_choice"),
        classes=extra.pop("classes", ["ok", "crack", "rust"]),
        overlap=overlap,
        max_overlap=max(overlap + 1, extra.pop("max_overlap", overlap + 1)),
        lease_seconds=lease_seconds,
        **extra,
    )
    Task.objects.bulk_create(
        Task(
            project=project,
            payload={"image_url": f"https://img.example.test/{i}.jpg"},
            priority=float(i % 3),
            target=overlap,
        )
        for i in range(tasks)
    )
    return project


def empty_project(*, answer_type: str = "single_choice", **extra) -> Project:
    """An active project without tasks (labels ok, crack, rust)."""
    project = make_project(tasks=0, **extra)
    if answer_type != project.answer_type:
        Project.objects.filter(pk=project.pk).update(answer_type=answer_type)
        project.answer_type = answer_type
    return project


# -- task import --------------------------------------------------------------------------------


def task_row(i: int, **extra) -> dict:
    return {
        "external_id": f"img-{i:06d}",
        "payload": {"image_url": f"https://img.example.test/{i}.jpg", "metadata": {"n": i}},
        "priority": float(i % 7),
        **extra,
    }


def jsonl(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def csv_file(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def do_import(project, data, file_format="jsonl", **extra):
    return services.tasks_import(
        actor=None, project=project, data=data, file_format=file_format, **extra
    )


# -- control tasks ------------------------------------------------------------------------------


class AlwaysControl(random.Random):
    """Draws 0.0, so every claim asks for a control task while the labeler's rate is > 0."""

    def random(self) -> float:
        return 0.0


class NeverControl(AlwaysControl):
    """Draws 0.99, so no claim asks for a control task (at any rate below 0.99)."""

    def random(self) -> float:
        return 0.99


def with_gold(
    project: Project,
    *,
    n: int = 8,
    ratio: str = "0.5",
    answer: str = "ok",
    explanation: str = "",
    slug: str = "poles-gold",
    name: str = "Poles gold",
) -> GoldSet:
    """Give ``project`` a control set of ``n`` single-choice items whose gold answer is
    ``answer``, at control ratio ``ratio``, and make its control tasks."""
    gold_set = GoldSet.objects.create(
        slug=slug, name=name, answer_type="single_choice", classes=project.classes
    )
    GoldItem.objects.bulk_create(
        GoldItem(
            gold_set=gold_set,
            external_id=f"g{i}",
            payload={"image_url": f"https://img.example.test/g{i}.jpg"},
            accepted_answers=[answer],
            explanation=explanation,
            stratum="ok",
        )
        for i in range(n)
    )
    project.control_gold_set = gold_set
    project.control_ratio = ratio
    project.save()
    services.project_sync_control_tasks(actor=None, project=project)
    return gold_set


def with_controls(project, n: int = 5) -> GoldSet:
    """A control set whose gold answer and explanation carry ``CANARY`` (a leak is visible)."""
    return with_gold(
        project,
        n=n,
        answer=CANARY,
        explanation=f"{CANARY} explained",
        slug="pole-gold",
        name="Pole gold",
    )


def answer_controls(labeler, project, answers, capture):
    """Claim a control task and submit each answer; after-commit work (rules) runs."""
    for answer in answers:
        with capture(execute=True):
            claim = services.assignment_claim_next(
                labeler=labeler, project_id=project.pk, rng=AlwaysControl()
            )
            assert claim.assignment.is_control
            services.assignment_submit(
                labeler=labeler, assignment_id=claim.assignment.pk, answer=answer
            )


def pause_rule(project: Project, *, actor: User | None) -> QualityRule:
    """A rule that pauses a labeler on ``project`` when the upper bound of their gold accuracy
    over the last 50 checks (at least 3) is below 0.8."""
    return make_rule(
        QualityRule.Action.PAUSE_ON_PROJECT,
        project_id=project.pk,
        actor=actor,
        name="Gold below 80%",
        threshold="0.8",
        window=50,
        min_n=3,
    )


def resolve_gold_review(item: GoldItem, reviewer: Labeler, *, answer, note: str) -> None:
    """Quarantine ``item``, open its gold review (the beat job) and have ``reviewer`` claim it
    and resolve it with ``answer``: the gold is corrected, or reinstated when ``answer`` is the
    gold answer."""
    gold_health.gold_item_quarantine(actor=None, item=item, reason="doubt")
    review_services.gold_reviews_open()
    claim = review_services.review_claim_next(reviewer=reviewer)
    review_services.review_resolve(
        reviewer=reviewer, review_id=claim.review.pk, answer=answer, note=note
    )


def make_control_world(capture):
    """A project whose control tasks draw from a one-item gold set (gold "crack"); two
    labelers answered its control task: one "crack", one "rust" (graded after commit, with
    ``capture``, pytest-django's ``django_capture_on_commit_callbacks``); and a senior labeler
    who is also staff. Returns (project, item, {answer: labeler}, the senior)."""
    project = make_project(tasks=3, overlap=1)
    gold_set = GoldSet.objects.create(
        slug="control-gold",
        name="control-gold",
        answer_type="single_choice",
        classes=["crack", "rust", "ok"],
    )
    item = GoldItem.objects.create(
        gold_set=gold_set,
        external_id="ctl",
        payload={"image_url": "https://img.example.test/ctl.jpg"},
        accepted_answers=["crack"],
        explanation="Look at the base.",
    )
    project.control_gold_set = gold_set
    project.control_ratio = "0.5"
    project.save()
    services.project_sync_control_tasks(actor=None, project=project)
    answers = {}
    for answer in ("crack", "rust"):
        labeler = make_labeler()
        claim = services.assignment_claim_next(
            labeler=labeler, project_id=project.pk, rng=AlwaysControl()
        )
        assert claim.assignment.is_control
        with capture(execute=True):
            services.assignment_submit(
                labeler=labeler, assignment_id=claim.assignment.pk, answer=answer
            )
        answers[answer] = labeler
    ops_senior = make_labeler(seniority="senior")
    ops_senior.user.is_staff = True
    ops_senior.user.save(update_fields=["is_staff"])
    return project, item, answers, ops_senior


# -- submitted work and the facts quality reads -------------------------------------------------

NOW = timezone.now().replace(microsecond=0)


def submissions(project, rows, *, batch=None, days=1.0):
    """Tasks of ``project`` answered as ``rows``: one list of (labeler, answer) per task; returns
    the tasks. Written directly (bulk), as facts to read."""
    tasks = Task.objects.bulk_create(
        Task(
            project=project,
            batch=batch,
            payload={},
            target=len(r),
            submitted=len(r),
            is_open=False,
            state="complete",
        )
        for r in rows
    )
    at = NOW - timedelta(days=days)
    Assignment.objects.bulk_create(
        Assignment(
            task=task,
            project=project,
            labeler=labeler,
            status=Assignment.Status.SUBMITTED,
            leased_at=at - timedelta(minutes=5),
            expires_at=at + timedelta(minutes=10),
            submitted_at=at,
            answer=answer,
            active_seconds=seconds,
        )
        for task, r in zip(tasks, rows, strict=True)
        for seconds, (labeler, answer) in enumerate(r, start=10)
    )
    return tasks


def gold_item(slug="q-gold", accepted="crack"):
    gold_set = GoldSet.objects.get_or_create(
        slug=slug, defaults={"name": slug, "answer_type": "single_choice"}
    )[0]
    return GoldItem.objects.create(
        gold_set=gold_set,
        external_id=f"zq-canary-item-{GoldItem.objects.count()}",
        payload={"image_url": "https://img.example.test/g.jpg"},
        accepted_answers=[accepted],
        explanation="zq-canary-explanation",
    )


def gold_check(labeler, item, project, answer, *, days=2.0, n=[0]):  # noqa: B006 (a counter)
    n[0] += 1
    GoldCheck.objects.create(
        labeler=labeler,
        gold_item=item,
        project_id=project.pk,
        assignment_id=900_000 + n[0],
        answer=answer,
        correct=answer == item.accepted_answers[0],
        expected_class=item.accepted_answers[0],
        answer_class=answer,
        checked_at=NOW - timedelta(days=days),
    )


# -- admin pages --------------------------------------------------------------------------------


def scorecard_url(labeler, **query) -> str:
    url = reverse("admin:assignments_quality_scorecard", args=[labeler.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def content(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def main(html: str) -> str:
    """The page's own part: between the admin's header and navigation and its footer (whose
    icon sprite names the SVG namespace, an address that loads nothing)."""
    return html.split('<div id="content-main">', 1)[1].split("<!-- END Content -->", 1)[0]


def project_form(**overrides) -> dict[str, Any]:
    """The admin's add form of a project, filled in (single choice, labels rust and crack)."""
    return {
        "slug": "towers",
        "name": "Towers",
        "answer_type": "single_choice",
        "classes": '["rust", "crack"]',
        "iou_threshold": "0.5",
        "overlap": "2",
        "max_overlap": "3",
        "control_ratio": "0",
        "lease_seconds": "300",
        "priority": "0",
        "audit_percent": "0",
        **overrides,
    }


def assignments_admin_samples(*, actor: User, labeler: Labeler) -> dict[str, Any]:
    """At least one row of every assignments model with an admin or an admin inline (for the
    admin smoke test in tests/config/test_admin_smoke.py): a project paused and resumed (its
    status history), with an imported batch, a lease of ``labeler`` (who must be active) and
    that labeler's flag on it (a review), refitted once (its refit bookkeeping)."""
    S = Project.Status
    project = make_project(tasks=0, slug="sample-project")
    services.project_set_status(actor=actor, project=project, status=S.PAUSED, reason="sample")
    services.project_set_status(
        actor=actor, project=project, status=S.ACTIVE, from_statuses={S.PAUSED}
    )
    result = services.tasks_import(
        actor=actor,
        project=project,
        data=jsonl(task_row(i) for i in range(3)),
        file_format="jsonl",
        source="sample",
    )
    claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
    flag = assignment_flag(
        labeler=labeler, assignment_id=claim.assignment.pk, question="Is a stain a crack?"
    )
    project_refit_run(project_id=project.pk)
    return {
        "project": project,
        "refit": ProjectRefit.objects.get(pk=project.pk),
        "status_change": ProjectStatusChange.objects.filter(project=project).first(),
        "batch": result.batch,
        "task": claim.assignment.task,
        "assignment": claim.assignment,
        "review": flag.review,
        # A drift event as assignments.services.drift records it (tests/assignments/test_drift.py
        # makes real ones from decided batches).
        "drift_event": DriftEvent.objects.create(
            project=project,
            batch=result.batch,
            statistic=12.5,
            dof=1,
            p_value=0.0004,
            n=40,
            baseline_n=60,
            observed={"a": 30, "b": 10},
            expected={"a": 0.4, "b": 0.6},
            detected_at=timezone.now(),
        ),
    }
