"""The demo's quality: the half-done project's quality rules, evaluated through the services (so
the most careless labeler is paused on the project and others are warned), a Dawid-Skene refit
(estimates without gold) and one contested gold verdict. The suspensions and the revocation of
the other parts are by hand, and their reasons cite no rule.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.utils import timezone

from assignments.models import Project
from assignments.services import refits
from config.errors import ApplicationError
from demo.seed.qualification import TRAINING_QUIZ
from demo.seed.work import DEMO_PROJECT
from qc.models import GoldCheck, LabelerEstimate, QualityRule, Quiz, RuleFiring
from qc.services import gold_health, rules

if TYPE_CHECKING:
    from demo.seed import DemoSeed

DEMO_RULES = (
    {
        # The sequential test (docs/quality.md, "Rules"): however often the sweep looks, a
        # labeler at 70% is paused at most 5% of the time; one at 50% or under soon is. Passing
        # the training quiz again lifts the pause.
        "name": "Gold accuracy under 70% (sequential test): pause on this project",
        "action": "pause_on_project",
        "threshold": "0.7",
        "bound": "upper",
        "comparison": "below",
        "window": 50,
        "min_n": 5,
        "test": "sequential",
        "alpha": "0.05",
        "beta": "0.1",
        "delta": "0.2",
        "auto_lift": True,
        "lift_quiz": TRAINING_QUIZ,
    },
    {
        "name": "Gold accuracy clearly under 90%: warn",
        "action": "warn",
        "threshold": "0.9",
        "bound": "upper",
        "comparison": "below",
        "window": 50,
        "min_n": 8,
    },
)


def seed_quality(seed: DemoSeed) -> None:
    """Quality on the half-done project: its rules (evaluated for every labeler, so a careless
    labeler is paused and others warned), a Dawid-Skene refit (estimates without gold), and one
    contested gold verdict — all through the services."""
    project = Project.objects.get(slug=DEMO_PROJECT)
    for spec in DEMO_RULES:
        if QualityRule.objects.filter(project_id=project.pk, name=spec["name"]).exists():
            seed.existing["quality rules"] += 1
            continue
        options = dict(spec)
        if "lift_quiz" in options:
            options["lift_quiz"] = Quiz.objects.get(slug=options["lift_quiz"])
        rules.rule_create(actor=seed.ops, project_id=project.pk, **options)
        seed.created["quality rules"] += 1
    fired = rules.rules_sweep(since=timezone.now() - timedelta(days=30))
    if fired:
        seed.created["rule firings"] += fired
    if not LabelerEstimate.objects.filter(project_id=project.pk).exists():
        refits.project_refit(project_id=project.pk)
        seed.created["labeler estimates"] += LabelerEstimate.objects.filter(
            project_id=project.pk
        ).count()
    wrong = (
        GoldCheck.objects.select_related("labeler")
        .filter(project_id=project.pk, correct=False)
        .order_by("id")
        .first()
    )
    if wrong is not None and not wrong.contest:
        try:
            gold_health.gold_check_contest(
                labeler=wrong.labeler,
                check_id=wrong.pk,
                note="The crack is on the crossarm bracket, not the pole; the guide says "
                "bracket damage counts as ok.",
            )
            seed.created["contested gold checks"] += 1
        except ApplicationError:
            pass  # contested already (a rerun): nothing to do


def report(seed: DemoSeed, base: str) -> list[str]:
    """Where the half-done project's quality shows: the admin pages and the API."""
    project = Project.objects.filter(slug=DEMO_PROJECT).first()
    if project is None:
        return []
    paused = sorted(
        RuleFiring.objects.filter(
            project_id=project.pk, action="pause_on_project", status="open"
        ).values_list("labeler__user__username", flat=True)
    )
    return [
        "",
        f"Project {project.name!r} (id {project.pk}), half done over four weeks:",
        f"  quality page: {base}/admin/assignments/project/{project.pk}/quality/ (as ops)",
        f"  vendor comparison: {base}/admin/assignments/project/quality/vendors/",
        *(
            [
                f"  paused by a quality rule: {', '.join(paused)} (next-task answers 403 "
                "paused_on_project; reverse it in the admin's rule firings)"
            ]
            if paused
            else []
        ),
        f"  GET {base}/api/v1/projects/{project.pk}/quality/ as ops or a vendor manager; "
        f"GET {base}/api/v1/me/scorecard/ as a labeler",
    ]
