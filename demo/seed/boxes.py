"""The demo's box project: "Pole hardware boxes", bounding boxes on close-ups of pole hardware.

New this week, so nothing is labeled yet: twenty photos (``demo.seed.images``, with a model's
rough boxes shown as pre-labels) at overlap 2, waiting for the box-qualified labelers. The project
has its own guide: 1.0, read by those labelers, and 2.0, a major version published since that
nobody has acknowledged yet — so the demo labeler (``DEMO_LABELER``) reads what changed and
acknowledges it before the project serves them a task, as a labeler does on the labeler pages.
It requires the "pole-hardware-boxes" qualification, granted by ops by hand to the labelers who
took the box-drawing course (no quiz grants it).

Idempotent like every part: looked up by slug, number, and the grants' source.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

from assignments.models import Project
from assignments.services import imports as import_services
from assignments.services import projects as project_services
from demo.seed.images import HARDWARE_CLASSES, HARDWARE_PHOTOS, hardware_boxes
from demo.seed.qualification import (
    QUALIFICATION_QUIZ,
    TRAINING_QUIZ,
    DemoGuideVersion,
    acknowledge,
    ensure_guide_version,
)
from demo.seed.survey import DEMO_IMAGES
from demo.seed.work import DEMO_PROJECT
from demo.seed.workforce import DEMO_LABELER, DEMO_PASSWORD, story_labelers
from qc.models import Guide, GuideVersion
from qc.services import guides as guide_services
from workforce import services
from workforce.models import Qualification, QualificationType

if TYPE_CHECKING:
    from demo.seed import DemoSeed

BOX_PROJECT = "pole-hardware"
BOX_PROJECT_NAME = "Pole hardware boxes"
BOX_IMAGE_URL = DEMO_IMAGES + "/hardware/{n:04d}.svg"

BOX_GUIDE_SLUG = "pole-hardware-boxes"
BOX_GUIDE_NAME = "Pole hardware boxes"

BOX_QUALIFICATION = ("pole-hardware-boxes", "Pole hardware boxes")
BOX_QUALIFICATION_DAYS = 365
# Who may draw the boxes: granted by ops, each having read guide 1.0. The demo labeler is first.
BOX_LABELERS = {
    "labeler": "Completed the internal box-drawing course (pole hardware, 40 photos checked).",
    "ines.costa": "Completed Northwind's box-drawing course; checked by operations.",
    "arjun.nair": "Completed Kestrel's box-drawing course; checked by operations.",
}

_BOX_BODY_1_0 = """\
# Pole hardware boxes

Each task is one close-up photo of the top of a utility pole. Draw one box around **every**
piece of hardware of these kinds, and give each box its label:

- `insulator`: the stack of discs a wire rests on;
- `crossarm`: the horizontal beam carrying the insulators (not its diagonal braces);
- `transformer`: the grey tank hanging on the pole.

Boxes are tight: the edge of the box touches the edge of the object. Hardware cut by the edge of
the photo is boxed up to the edge. A photo may have no transformer.
"""

_BOX_BODY_2_0 = (
    _BOX_BODY_1_0
    + """
## What changed in 2.0

- **One box per insulator**, never one box around a row of insulators.
- A transformer's box **includes its bushings** (the two white stubs on its lid), so it starts
  at the top of the bushings.
"""
)


def _box_definitions() -> list[dict[str, object]]:
    return [
        {
            "label": "insulator",
            "definition": "One stack of discs a wire rests on; one box each.",
            "examples": [BOX_IMAGE_URL.format(n=2)],
        },
        {
            "label": "crossarm",
            "definition": "The horizontal beam carrying the insulators, without its braces.",
            "examples": [BOX_IMAGE_URL.format(n=3)],
        },
        {
            "label": "transformer",
            "definition": "The tank on the pole, with its bushings on top.",
            "examples": [BOX_IMAGE_URL.format(n=2)],
        },
    ]


GV = GuideVersion.Bump
BOX_GUIDE_VERSIONS = (
    DemoGuideVersion(
        "1.0", GV.MAJOR, _BOX_BODY_1_0, _box_definitions(), "First edition.", publish=True
    ),
    DemoGuideVersion(
        "2.0",
        GV.MAJOR,
        _BOX_BODY_2_0,
        _box_definitions(),
        "One box per insulator (never a row), and a transformer's box includes its bushings. "
        "Acknowledge again before drawing.",
        publish=True,
    ),
)


def box_payload(n: int) -> dict[str, object]:
    """Hardware photo ``n`` as a task shows it."""
    return {
        "image_url": BOX_IMAGE_URL.format(n=n),
        "metadata": {"pole_id": f"H-{3100 + n}", "flight": f"F{5 + (n - 1) // 10}"},
    }


def box_prelabel(n: int) -> list[dict[str, object]]:
    """A model's rough boxes for photo ``n``: every crossarm and transformer, a little off, and
    about half of the insulators — the labeler corrects them and adds the rest."""
    rng = random.Random(f"hardware/{n}/model")
    boxes = []
    for box in hardware_boxes(n):
        if box["label"] == "insulator" and rng.random() < 0.5:
            continue
        boxes.append(
            {
                "label": box["label"],
                "x": round(float(box["x"]) + rng.uniform(-6, 6), 1),
                "y": round(float(box["y"]) + rng.uniform(-4, 4), 1),
                "w": round(float(box["w"]) * rng.uniform(0.9, 1.1), 1),
                "h": round(float(box["h"]) * rng.uniform(0.9, 1.1), 1),
            }
        )
    return boxes


def _task_rows() -> str:
    return "".join(
        json.dumps(
            {
                "external_id": f"HW-{n:04d}",
                **box_payload(n),
                "prelabel": box_prelabel(n),
                "prelabel_confidence": round(0.55 + (n * 7 % 40) / 100, 2),
            }
        )
        + "\n"
        for n in range(1, HARDWARE_PHOTOS + 1)
    )


def _create_project(seed: DemoSeed, guide: Guide) -> Project:
    project = project_services.project_create(
        actor=seed.ops,
        slug=BOX_PROJECT,
        name=BOX_PROJECT_NAME,
        objective="Box every insulator, crossarm and transformer in close-ups of pole tops.",
        answer_type="boxes",
        classes=list(HARDWARE_CLASSES),
        iou_threshold=Decimal("0.5"),
        overlap=2,
        max_overlap=3,
        required_qualifications=[BOX_QUALIFICATION[0]],
        guide=guide,
        priority=5,
        show_prelabels=True,
        consensus_method="majority",
    )
    import_services.tasks_import(
        actor=seed.ops,
        project=project,
        data=_task_rows(),
        file_format="jsonl",
        source="drone flights F5-F6 (close-ups)",
        note="Hardware inventory, northern feeder lines",
    )
    return project_services.project_set_status(
        actor=seed.ops, project=project, status=Project.Status.ACTIVE
    )


def seed_box_project(seed: DemoSeed) -> None:
    """The box project's guide (1.0 read by the box labelers, then 2.0 published), its
    qualification granted by hand, and the project with its twenty tasks, activated."""
    guide = seed.ensure(
        "guides",
        Guide.objects.filter(slug=BOX_GUIDE_SLUG).first(),
        partial(
            guide_services.guide_create,
            actor=seed.ops,
            slug=BOX_GUIDE_SLUG,
            name=BOX_GUIDE_NAME,
            project_family="Pole hardware inventory",
            description="Box the insulators, crossarms and transformers in close-up photos.",
        ),
    )
    labelers = story_labelers(BOX_LABELERS)
    v1_0, v2_0 = BOX_GUIDE_VERSIONS
    ensure_guide_version(seed, v1_0, guide=guide)
    acknowledge(seed, [labelers[u] for u in BOX_LABELERS], v1_0.number, guide=guide)
    ensure_guide_version(seed, v2_0, guide=guide)

    slug, name = BOX_QUALIFICATION
    qtype = seed.ensure(
        "qualification types",
        QualificationType.objects.filter(slug=slug).first(),
        partial(
            services.qualification_type_create,
            actor=seed.ops,
            slug=slug,
            name=name,
            description="Draws boxes on pole hardware (pole-hardware-boxes guide).",
        ),
    )
    for username, reason in BOX_LABELERS.items():
        if Qualification.objects.filter(
            labeler=labelers[username],
            qualification_type=qtype,
            source=Qualification.Source.MANUAL,
        ).exists():
            seed.existing["manual qualification grants"] += 1
            continue
        services.qualification_grant(
            actor=seed.ops,
            labeler=labelers[username],
            qualification_type=qtype,
            source=Qualification.Source.MANUAL,
            valid_days=BOX_QUALIFICATION_DAYS,
            reason=reason,
        )
        seed.created["manual qualification grants"] += 1

    seed.ensure(
        "projects",
        Project.objects.filter(slug=BOX_PROJECT).first(),
        partial(_create_project, seed, guide),
    )


# -- the report ----------------------------------------------------------------------------------


def report(seed: DemoSeed, base: str) -> list[str]:
    """What the demo labeler can do on the labeler pages, in the order the home page lists it."""
    projects = dict(
        Project.objects.filter(slug__in=[DEMO_PROJECT, BOX_PROJECT]).values_list("slug", "name")
    )
    if len(projects) < 2:
        return []
    return [
        "",
        f"Labeler pages: {base}/labeler/ as {DEMO_LABELER} (password {DEMO_PASSWORD}):",
        f"  1. the guide {BOX_GUIDE_NAME!r}: 2.0 awaits acknowledgement (what changed since 1.0 "
        "is shown)",
        f"  2. the training quiz {TRAINING_QUIZ} (the answer and why after each photo), then the "
        f"qualification test {QUALIFICATION_QUIZ} (sequential: it may end early)",
        f"  3. label {projects[BOX_PROJECT]!r} (bounding boxes, {HARDWARE_PHOTOS} tasks; granted "
        f"by ops) once the guide is acknowledged, and {projects[DEMO_PROJECT]!r} (one label per "
        "photo) once the qualification test is passed",
        "  4. my quality: their scorecard, and their control answers once graded",
    ]
