"""The demo's work: a project half done.

The project "poles-north" classifies the northern survey's photos (demo.seed.survey): 120 tasks
in two batches at overlap 2, with control tasks from its own control set (demo.seed.qualification,
``CONTROL_SLUG``); about half of the slots are labeled by the qualified labelers through the real
claim and submit services over the four weeks before now, so consensus, extra slots, gold checks
and reviews happen as in production.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

from django.utils import timezone

from assignments import services as work_services
from assignments.models import Assignment, Project, Task
from assignments.services import imports as import_services
from assignments.services import projects as project_services
from config.errors import ApplicationError
from demo.seed.survey import TASK_PHOTOS, north_external_id, north_payload
from workforce.models import Labeler

if TYPE_CHECKING:
    from demo.seed import DemoSeed

DEMO_PROJECT = "poles-north"
DEMO_PROJECT_TASKS = len(TASK_PHOTOS)  # 120
DEMO_PROJECT_SUBMISSIONS = 120  # half of 120 tasks x overlap 2
DEMO_LABELER_ACCURACY = 0.85  # the crowd's mean; each labeler has their own (below)
DEMO_WORK_SPAN = timedelta(days=27)  # the project's labels: within the four weeks before now

# Each labeler's own accuracy on the demo project, so scores differ as they would: most near the
# crowd's mean, one careless labeler (demo.seed.quality's pause rule catches them), one excellent.
DEMO_CARELESS = "rohan.mehta"
DEMO_ACCURACY = {DEMO_CARELESS: 0.45, "kavya.reddy": 0.97}


def _accuracy_of(labeler: Labeler) -> float:
    name = labeler.user.username
    if name in DEMO_ACCURACY:
        return DEMO_ACCURACY[name]
    spread = (sum(map(ord, name)) % 21 - 10) / 100  # -0.10 .. +0.10, stable per name
    return DEMO_LABELER_ACCURACY + spread


def _demo_task_rows(first: int, last: int) -> str:
    """Import rows for real tasks ``first`` to ``last`` (1-based): task n is survey photo
    ``TASK_PHOTOS[n - 1]``."""
    classes = ["ok", "crack", "rust", "woodpecker", "missing-crossarm"]
    rows = []
    for n in range(first, last + 1):
        photo = TASK_PHOTOS[n - 1]
        rows.append(
            json.dumps(
                {
                    "external_id": north_external_id(photo),
                    **north_payload(photo),
                    "priority": float((n * 37) % 10),
                    "prelabel": classes[(n * 7) % len(classes)],
                    "prelabel_confidence": round(0.5 + ((n * 13) % 50) / 100, 2),
                }
            )
        )
    return "\n".join(rows)


def demo_truth(n: int, classes: list[str]) -> str:
    """The true class of real task ``n`` (1-based). The second batch (coastal flights) has far
    more rust, so the project quality page's drift test has something to find."""
    if n > DEMO_PROJECT_TASKS // 2 and n % 3 != 0:
        return "rust" if "rust" in classes else classes[0]
    return classes[(n * 3) % len(classes)]


def photo_truth(photo: int, classes: list[str]) -> str:
    """The true class of the northern survey's real photo ``photo`` (batches 1 and 2)."""
    return demo_truth(TASK_PHOTOS.index(photo) + 1, classes)


@dataclass
class Labeling:
    """What a run of labels made through claim and submit shares: the project, the random
    source (claims, answers and label times are drawn from it, so a run is deterministic), the
    project's classes, its control tasks' accepted answers (a labeler answers a control task
    as the gold says, at their accuracy), the true class of a real task's photo, and how many
    control tasks the careless labeler met."""

    project: Project
    rng: random.Random
    classes: list[str]
    gold_answers: dict[int, list[object]]
    truth: Callable[[int, list[str]], str] = photo_truth
    controls_met: Counter[int] = field(default_factory=Counter)

    @classmethod
    def of(
        cls,
        seed: DemoSeed,
        project: Project,
        *,
        rng: random.Random,
        truth: Callable[[int, list[str]], str] = photo_truth,
    ) -> Labeling:
        gold_answers = dict(
            Task.objects.filter(project=project, gold_item__isnull=False).values_list(
                "pk", "gold_item__accepted_answers"
            )
        )
        return cls(project, rng, list(seed.gold_set.classes), gold_answers, truth)


def label_next(
    seed: DemoSeed, labeling: Labeling, labeler: Labeler, *, now: datetime
) -> Assignment | None:
    """``labeler`` claims their next task of the project at ``now`` and submits an answer
    (right at their accuracy) 20 to 90 seconds later, through the real claim and submit
    services; the submitted assignment, or None when the claim is refused or finds nothing."""
    rng = labeling.rng
    try:
        claim = work_services.assignment_claim_next(
            labeler=labeler, project_id=labeling.project.pk, rng=rng, now=now
        )
    except ApplicationError:
        return None  # not qualified, paused, or the guide is not acknowledged
    if claim is None:
        return None
    task_id = claim.assignment.task_id
    classes = labeling.classes
    if task_id in labeling.gold_answers:
        right = labeling.gold_answers[task_id][0]
    else:
        image = str(claim.assignment.task.payload.get("image_url", ""))
        right = labeling.truth(int(image.rsplit("/", 1)[1].split(".")[0]), classes)
    wrong = [c for c in classes if c != right]
    answer = right if rng.random() < _accuracy_of(labeler) else rng.choice(wrong)
    if task_id in labeling.gold_answers and labeler.user.username == DEMO_CARELESS:
        # Counted, not drawn: one control task in ten right, so the pause rule fires on however
        # few of his checks lie before the day of seeding (drawn at his accuracy, a run in two
        # left it short of certain; one in five left the sequential test's score within a few
        # percent of its boundary after 15 checks, and a run with fewer checks before the day
        # of seeding did not pause him).
        labeling.controls_met[labeler.pk] += 1
        answer = right if labeling.controls_met[labeler.pk] % 10 == 0 else rng.choice(wrong)
    work_services.assignment_submit(
        labeler=labeler,
        assignment_id=claim.assignment.pk,
        answer=answer,
        now=now + timedelta(seconds=rng.randint(20, 90)),
    )
    seed.created["submissions"] += 1
    return claim.assignment


def _create_project(seed: DemoSeed) -> Project:
    """The project with its two batches of tasks, activated."""
    project = project_services.project_create(
        actor=seed.ops,
        slug=DEMO_PROJECT,
        name="Pole inspection, northern region",
        objective="Classify the main defect on each pole photo from the spring flights.",
        answer_type="single_choice",
        classes=list(seed.gold_set.classes),
        overlap=2,
        max_overlap=3,
        control_ratio=Decimal("0.25"),
        control_gold_set=seed.control_set,
        required_qualifications=[seed.qualification_type.slug],
        guide=seed.guide,
        priority=10,
    )
    half = DEMO_PROJECT_TASKS // 2
    import_services.tasks_import(
        actor=seed.ops,
        project=project,
        data=_demo_task_rows(1, half),
        file_format="jsonl",
        source="drone flights F1-F2",
        note="Spring survey, northern feeder lines",
    )
    import_services.tasks_import(
        actor=seed.ops,
        project=project,
        data=_demo_task_rows(half + 1, DEMO_PROJECT_TASKS),
        file_format="jsonl",
        source="drone flights F3-F4",
        note="Spring survey, coastal feeder lines",
    )
    return project_services.project_set_status(
        actor=seed.ops, project=project, status=Project.Status.ACTIVE
    )


def seed_project(seed: DemoSeed) -> None:
    """A project half done: 120 pole photos in two batches at overlap 2, with control tasks
    from its own control set (``CONTROL_SLUG``); about half of the slots labeled by the
    qualified labelers through the real claim and submit services (so consensus, extra slots
    and reviews happen as in production)."""
    project = seed.ensure(
        "projects",
        Project.objects.filter(slug=DEMO_PROJECT).first(),
        partial(_create_project, seed),
    )

    done = Assignment.objects.filter(
        project=project, status=Assignment.Status.SUBMITTED, is_control=False
    ).count()
    if done >= DEMO_PROJECT_SUBMISSIONS:
        return
    workers = list(
        Labeler.objects.select_related("user").filter(status=Labeler.Status.ACTIVE).order_by("id")
    )
    labeling = Labeling.of(seed, project, rng=random.Random(20261127))
    # The work is spread over the four weeks before now (the services take the time as an
    # argument), so scores have a history; each label takes the labeler 20 to 90 seconds. The
    # clock moves only when a label is made: most active labelers are not qualified for the
    # project, and moving it on their refused claims once put most of the work in the future.
    # The last lease expires before now, so no timestamp of the demo lies after it. A resumed
    # run carries on after the labels already there.
    now = timezone.now()
    end = now - timedelta(seconds=project.lease_seconds) - timedelta(minutes=5)
    last = (
        Assignment.objects.filter(project=project, submitted_at__isnull=False)
        .order_by("-submitted_at")
        .values_list("submitted_at", flat=True)
        .first()
    )
    clock = now - DEMO_WORK_SPAN if last is None else max(now - DEMO_WORK_SPAN, last)
    # Control tasks come on top of the real ones: about control_ratio of the claims, more
    # while a labeler's adaptive rate is raised; the margin keeps the labels off the end.
    expected = (DEMO_PROJECT_SUBMISSIONS - done) / (1 - float(project.control_ratio)) * 1.2
    step = (end - clock) / max(expected, 1)
    # The careless labeler is also fast: two claims in each round.
    turns = workers + [w for w in workers if w.user.username == DEMO_CARELESS]
    progressed = True
    while done < DEMO_PROJECT_SUBMISSIONS and progressed:
        progressed = False
        for labeler in turns:
            if done >= DEMO_PROJECT_SUBMISSIONS:
                break
            labeled = label_next(seed, labeling, labeler, now=clock)
            if labeled is None:
                continue  # not qualified, paused, the guide not acknowledged, or nothing left
            if not labeled.is_control:
                done += 1
            progressed = True
            clock = min(clock + step, end)
