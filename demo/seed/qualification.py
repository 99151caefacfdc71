"""The demo's qualification story: utility-pole inspection from drone photos.

One guide (1.0, then 1.1 clarifying rust against stains, and a 2.0 drafted but not published),
read by most active labelers; two gold sets (the quizzes' forty photos, and the demo project's
forty control photos, which no quiz uses); a training quiz and a sequential qualification quiz
that grants "pole-defects"; the labelers' attempts, backdated so retry delays and expiries read
true; one qualification revoked and one granted by hand. Every labeler named here is active (a
test checks it).

Publishing, importing and every quiz entry point run their own durable transaction, so these
steps never open an outer one: each service call commits on its own, and each step finds what an
earlier (possibly interrupted) run left by its natural key and carries on from there.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from django.core.management.base import CommandError
from django.utils import timezone

from demo.seed.survey import CONTROL_PHOTOS, DEMO_IMAGES, north_external_id, north_payload
from demo.seed.workforce import LABELERS, story_labelers
from qc.models import (
    AnswerType,
    GoldItem,
    GoldSet,
    Guide,
    GuideAcknowledgement,
    GuideVersion,
    Quiz,
    QuizAttempt,
)
from qc.selectors import guides as guide_selectors
from qc.selectors import quizzes as quiz_selectors
from qc.sequential import recommended_params
from qc.services import gold as gold_services
from qc.services import guides as guide_services
from qc.services import quizzes as quiz_services
from workforce import services
from workforce.models import Labeler, Qualification, QualificationType

if TYPE_CHECKING:
    from demo.seed import DemoSeed

S = Labeler.Status

# -- the guide -----------------------------------------------------------------------------------

# The quiz photos (the gold set below), drawn by demo.seed.images; the guide shows four of them.
GOLD_IMAGE_URL = DEMO_IMAGES + "/poles/{n:03d}.svg"

GUIDE_SLUG = "pole-inspection"
GUIDE_NAME = "Utility pole inspection"
GUIDE_FAMILY = "Utility-pole inspection"
GUIDE_DESCRIPTION = "Classify the most serious defect of a utility pole in one drone photo."

_GUIDE_BODY_1_0 = """\
# Utility pole inspection

Each task is one drone photo of one utility pole. Choose the **single** label for the most
serious defect you can see; choose `ok` when there is none.

## Severity, most serious first

1. `missing-crossarm`: a crossarm (the horizontal beam carrying the insulators) is gone.
2. `crack`: a crack or split in the pole itself, or spalled concrete.
3. `woodpecker`: holes or cavities dug by birds (wooden poles only).
4. `rust`: corrosion of steel: the pole, brackets, bolts, anchor plates.
5. `ok`: nothing of the above.

## Photos you cannot judge

Blurred, too dark or of the wrong pole: answer what you can see and flag the task.
"""

_GUIDE_BODY_1_1 = (
    _GUIDE_BODY_1_0
    + """
## Rust or stain? (new in 1.1)

Rust is on **metal**: orange to dark brown, rough or flaking, often pitted, and it starts at a
bolt, a seam or a bracket. A **stain** is a smooth discolouration of wood or concrete that
follows the grain or the path of run-off water, with no texture of its own; tannin stains below
the cap of a wooden pole are the usual case. A stain is `ok`. Orange lichen on concrete and the
orange light of a low sun are `ok` too. Rust running down from a bolt is `rust`: the defect is
the bolt.
"""
)

_GUIDE_BODY_2_0 = """\
# Utility pole inspection (2.0, draft)

From 2.0 every defect is marked with a bounding box and its label, instead of choosing one label
per photo; a photo without defects gets no box. The labels and their definitions are those of
1.1; the severity order no longer applies.
"""


def _definitions(rust: str) -> list[dict[str, object]]:
    return [
        {"label": "ok", "definition": "No defect of the kinds below is visible."},
        {
            "label": "crack",
            "definition": "A crack or split across or along the pole, or spalled concrete.",
            "examples": [GOLD_IMAGE_URL.format(n=19)],
        },
        {
            "label": "rust",
            "definition": rust,
            "examples": [GOLD_IMAGE_URL.format(n=27)],
        },
        {
            "label": "woodpecker",
            "definition": "Holes or cavities dug by birds in a wooden pole.",
            "examples": [GOLD_IMAGE_URL.format(n=30)],
        },
        {
            "label": "missing-crossarm",
            "definition": "A crossarm, or one of two, is missing or lies on the ground.",
            "examples": [GOLD_IMAGE_URL.format(n=5)],
        },
    ]


class DemoGuideVersion(NamedTuple):
    number: str  # what publishing it must yield; the draft's intended number otherwise
    bump: str
    body: str
    label_definitions: list[dict[str, object]]
    change_summary: str  # also how a draft of it is found again
    publish: bool


GV = GuideVersion.Bump
GUIDE_VERSIONS = (
    DemoGuideVersion(
        "1.0",
        GV.MAJOR,
        _GUIDE_BODY_1_0,
        _definitions("Corrosion of steel: the pole, brackets, bolts or anchor plates."),
        "First edition.",
        publish=True,
    ),
    DemoGuideVersion(
        "1.1",
        GV.MINOR,
        _GUIDE_BODY_1_1,
        _definitions(
            "Corrosion of metal: rough, flaking, orange to dark brown, starting at a bolt, seam "
            "or bracket. A smooth discolouration following the grain or run-off is a stain: ok."
        ),
        "Clarified rust against stains, lichen and low sunlight (new section).",
        publish=True,
    ),
    DemoGuideVersion(
        "2.0",
        GV.MAJOR,
        _GUIDE_BODY_2_0,
        _definitions("As in 1.1."),
        "Every defect is boxed instead of one label per photo. Everyone must acknowledge again.",
        publish=False,
    ),
)

# Who read what. Active labelers not named here and not in GUIDE_NOT_ACKNOWLEDGED read 1.1 only.
GUIDE_ACKS_1_0_THEN_1_1 = (
    "senior",
    "labeler",
    "ines.costa",
    "pedro.almeida",
    "tiago.sousa",
    "arjun.nair",
    "rohan.mehta",
    "sanjay.patel",
    "priya.sharma",
)
GUIDE_ACKS_1_0_ONLY = ("rui.martins", "deepa.krishnan", "meera.joshi")  # same major: fine
GUIDE_NOT_ACKNOWLEDGED = ("joao.ferreira", "vikram.singh")  # quizzes blocked on the guide

# -- the gold sets -------------------------------------------------------------------------------

# The quiz set: what the training and qualification quizzes draw from. Training shows each
# answer and why, so no project uses this set for control tasks (see CONTROL_SLUG below).
GOLD_SLUG = "pole-gold"
GOLD_NAME = "Pole defects (quiz gold)"
GOLD_CLASSES = ["ok", "crack", "rust", "woodpecker", "missing-crossarm"]
_REGIONS = ("Alentejo", "Beira Interior", "Kerala", "Gujarat")
_VIEWS = ("north", "east", "south", "west")

E, M, H = GoldItem.Difficulty.EASY, GoldItem.Difficulty.MEDIUM, GoldItem.Difficulty.HARD

# The explanations too long for a row of the table below.
_RUST_FROM_A_CRACK = (
    "Rust bleeds out of a crack: the reinforcement corrodes inside. The crack is the more serious "
    "defect; rust is accepted too."
)
_RUSTING_BOLT = "The crossarm through-bolt is rusting; the streak below is run-off."
_SNAPPED_CROSSARM = (
    "The crossarm snapped off at the bolt and the stub is cracked: the missing crossarm is more "
    "serious; crack is accepted too."
)

# (accepted answers, difficulty, pole material, guide version it was written for, explanation);
# item n is POLE-{n:03d}. Two items accept two answers.
GOLD_ITEMS: tuple[tuple[tuple[str, ...], str, str, str, str], ...] = (
    (("ok",), E, "concrete", "1.0", "Sound concrete pole; crossarm and insulators intact."),
    (("crack",), M, "concrete", "1.0", "Vertical hairline crack from the base up, ~40 cm."),
    (("rust",), E, "steel", "1.0", "Orange, flaking corrosion on the crossarm bracket."),
    (("woodpecker",), E, "wood", "1.0", "Two round cavities (~5 cm) below the crossarm."),
    (("missing-crossarm",), E, "wood", "1.0", "Bolt holes but no crossarm; wires on a clamp."),
    (("ok",), M, "wood", "1.1", "Dark streaks follow the grain from the cap: a stain, not rust."),
    (("crack",), H, "wood", "1.0", "A crack across the grain at the ground line (not a check)."),
    (("rust",), M, "steel", "1.0", "Rust around the base-plate bolts; blistered paint."),
    (("woodpecker",), M, "wood", "1.0", "One fresh cavity, pale wood chips at the foot."),
    (("ok",), E, "steel", "1.0", "Galvanised steel in good order; grey zinc patina is normal."),
    (("missing-crossarm",), M, "concrete", "1.0", "North crossarm gone; only a pin remains."),
    (("crack",), M, "concrete", "1.0", "Spalling at the top exposes the reinforcement."),
    (("crack", "rust"), H, "concrete", "1.1", _RUST_FROM_A_CRACK),
    (("ok",), H, "concrete", "1.1", "Orange lichen on concrete: organic, no metal there."),
    (("rust",), H, "wood", "1.1", _RUSTING_BOLT),
    (("woodpecker",), H, "wood", "1.0", "Shallow, partly healed holes: any cavity counts."),
    (("rust",), H, "wood", "1.1", "Brown patch under the transformer bracket: rust run-off."),
    (("ok",), E, "wood", "1.0", "A new treated wooden pole without defects."),
    (("crack",), E, "wood", "1.0", "The pole top is split, clearly visible."),
    (("missing-crossarm",), E, "steel", "1.0", "Both crossarm brackets of the steel pole empty."),
    (("ok",), M, "concrete", "1.0", "A bird's nest on the crossarm is not a defect here."),
    (("rust",), M, "steel", "1.0", "Rust along the welded seam halfway up."),
    (("woodpecker",), M, "wood", "1.0", "A row of three small holes under the cap."),
    (("crack",), H, "concrete", "1.0", "Fine ring crack at the ground line, half in the grass."),
    (("missing-crossarm", "crack"), H, "wood", "1.0", _SNAPPED_CROSSARM),
    (("ok",), H, "steel", "1.1", "Low sun makes the steel look orange; no corrosion texture."),
    (("rust",), E, "steel", "1.0", "Heavy rust; the paint is gone on one side."),
    (("ok",), E, "concrete", "1.0", "Intact pole; the dark lines are conductor shadows."),
    (("crack",), M, "wood", "1.0", "Diagonal crack from a vehicle impact near the base."),
    (("woodpecker",), E, "wood", "1.0", "A large excavated cavity; the pole is hollow."),
    (("missing-crossarm",), M, "wood", "1.0", "The crossarm lies at the foot of the pole."),
    (("rust",), M, "wood", "1.1", "Rusted guy-wire anchor plate: hardware counts."),
    (("ok",), M, "wood", "1.0", "Treated wooden pole without defects."),
    (("crack",), E, "concrete", "1.0", "Wide crack with displacement at mid height."),
    (("ok",), M, "steel", "1.0", "Graffiti on the pole: cosmetic only."),
    (("rust",), H, "concrete", "1.0", "Rust on the crossarm bracket; the concrete is sound."),
    (("woodpecker",), M, "wood", "1.0", "A new hole beside a cavity plugged by an old repair."),
    (("crack",), M, "wood", "1.0", "Longitudinal split widened by a bolt."),
    (("ok",), M, "wood", "1.1", "Smooth tannin stain below the cap, along the grain: ok."),
    (("missing-crossarm",), H, "concrete", "1.0", "One of two crossarms missing."),
)
# (external id, status, reason): the items ops took out of circulation, after the import.
GOLD_STATUS_CHANGES = (
    (
        "POLE-017",
        GoldItem.Status.QUARANTINED,
        "Two senior labelers disagree: rust run-off or a tannin stain (guide 1.1)? Held out of "
        "quizzes until the gold answer is settled.",
    ),
    (
        "POLE-033",
        GoldItem.Status.RETIRED,
        "Duplicate of POLE-018: the same pole photographed on another flight.",
    ),
)


def gold_external_id(n: int) -> str:
    return f"POLE-{n:03d}"


def gold_payload(n: int, material: str) -> dict[str, object]:
    """The photo of item n and what the drone recorded with it: deterministic in n."""
    flight = (n - 1) // 8
    return {
        "image_url": GOLD_IMAGE_URL.format(n=n),
        "metadata": {
            "pole_id": f"PL-{4100 + n}",
            "material": material,
            "region": _REGIONS[n % len(_REGIONS)],
            "flight": f"F-2024-{flight + 1:02d}",
            "captured_at": f"2024-06-{3 * flight + 3:02d}T{8 + n % 9:02d}:{7 * n % 60:02d}:00Z",
            "altitude_m": 6 + n % 5,
            "view": _VIEWS[n % len(_VIEWS)],
        },
    }


# The control set of the demo project: forty photos of the project's own survey (demo.seed.survey)
# with the same forty cases as the quiz set, answered by senior labelers. No quiz uses this set: a
# labeler never sees a control item, let alone its answer, before it is served to them as a task.
CONTROL_SLUG = "pole-control"
CONTROL_NAME = "Pole defects (control tasks, northern survey)"


def _gold_rows(items: Iterable[tuple[str, dict[str, object], tuple]]) -> list[dict[str, object]]:
    """Import rows for (external id, payload, GOLD_ITEMS entry) triples."""
    return [
        {
            "external_id": external_id,
            "image_url": payload["image_url"],
            "metadata": payload["metadata"],
            "accepted_answers": list(answers),
            "explanation": explanation,
            "difficulty": difficulty,
            "guide_version": version,
        }
        for external_id, payload, (answers, difficulty, _material, version, explanation) in items
    ]


# -- the quizzes and who took them ---------------------------------------------------------------

QUALIFICATION_TYPE = ("pole-defects", "Pole defect classification")
TRAINING_QUIZ = "pole-defects-training"
QUALIFICATION_QUIZ = "pole-defects-qualification"
QUALIFICATION_PASS_MARK = 0.8
QUALIFICATION_FIXED_EQUIVALENT = 20  # the fixed-length test the sequential one replaces


class DemoAttempt(NamedTuple):
    """One attempt: started ``hours_ago`` before seeding, answered by a labeler right with
    probability ``accuracy`` (simulated with a generator seeded by labeler, quiz and attempt
    number), and meant to end ``passed`` — seeding stops if it does not."""

    hours_ago: float
    accuracy: float
    passed: bool


def _tries(*attempts: tuple[float, float, bool]) -> tuple[DemoAttempt, ...]:
    return tuple(DemoAttempt(*a) for a in attempts)


# Quiz slug → labeler → their attempts, oldest first.
ATTEMPTS: dict[str, dict[str, tuple[DemoAttempt, ...]]] = {
    TRAINING_QUIZ: {
        "labeler": _tries((50, 0.9, True)),
        "ines.costa": _tries((100, 0.9, True)),
        "tiago.sousa": _tries((30, 0.5, False)),
        "sanjay.patel": _tries((28, 0.9, True)),
        "catarina.lopes": _tries((240, 0.35, False)),
        "beatriz.rocha": _tries((5, 0.9, True)),
    },
    QUALIFICATION_QUIZ: {
        "senior": _tries((150, 0.97, True)),
        "ines.costa": _tries((72, 0.95, True)),
        "pedro.almeida": _tries((48, 0.95, True)),
        "arjun.nair": _tries((96, 0.95, True)),
        "deepa.krishnan": _tries((20, 0.95, True)),  # read 1.0 only: a minor version is enough
        "rohan.mehta": _tries((144, 0.55, False), (48, 0.95, True)),
        "priya.sharma": _tries((480, 0.95, True)),  # revoked below
        "tiago.sousa": _tries((3, 0.5, False)),  # in the 24 h cooldown
        "sanjay.patel": _tries((5, 0.55, False)),  # in the 24 h cooldown
        "catarina.lopes": _tries((216, 0.5, False), (144, 0.55, False), (72, 0.6, False)),
    },
}
QUALIFICATION_REVOKED = {
    "priya.sharma": "Revoked by hand: Kestrel's pilot with the utility found her rust and stain "
    "calls wrong on 13 of 40 re-checked photos. Re-read guide 1.1 on rust and stains, then "
    "requalify.",
}
QUALIFICATION_MANUAL = {
    "kavya.reddy": "Passed the equivalent pole-defect test in Kestrel's pilot with the utility "
    "(92%, results checked by operations).",
}

# -- the steps -----------------------------------------------------------------------------------


def ensure_guide_version(
    seed: DemoSeed, spec: DemoGuideVersion, *, guide: Guide | None = None
) -> GuideVersion:
    """The version ``spec`` describes of ``guide`` (the pole guide by default): found published
    by number, or as a draft by its change summary, or written now; published when the story
    says so."""
    guide = guide or seed.guide
    version = None
    if spec.publish:
        version = guide_selectors.guide_version_published_by_number(guide=guide, number=spec.number)
    if version is None:
        # A draft of an earlier run (or, for the unpublished one, the version ops published
        # from it meanwhile) is found again by its change summary.
        version = (
            GuideVersion.objects.filter(guide=guide, change_summary=spec.change_summary)
            .order_by("pk")
            .first()
        )
    version = seed.ensure(
        "guide versions",
        version,
        partial(
            guide_services.guide_version_create,
            actor=seed.ops,
            guide=guide,
            body=spec.body,
            bump=spec.bump,
            label_definitions=spec.label_definitions,
            change_summary=spec.change_summary,
        ),
    )
    if not spec.publish or version.status == GuideVersion.Status.PUBLISHED:
        return version
    version = guide_services.guide_version_publish(actor=seed.ops, version=version)
    if version.number != spec.number:
        raise CommandError(
            f"Publishing the {spec.number} draft of {guide.slug} gave {version.number}: the guide "
            "has versions the demo does not know."
        )
    return version


def acknowledge(
    seed: DemoSeed, labelers: list[Labeler], number: str, *, guide: Guide | None = None
) -> None:
    """Each labeler acknowledges the current version of ``guide`` (the pole guide by default),
    if that is still ``number`` (a later run after someone published more must not acknowledge
    the newer one for them)."""
    guide = guide or seed.guide
    current = guide_selectors.guide_current_version(guide=guide)
    if current is None or current.number != number:
        if current is not None:  # moved on: this part was done before
            seed.existing["guide acknowledgements"] += GuideAcknowledgement.objects.filter(
                version=guide_selectors.guide_version_published_by_number(
                    guide=guide, number=number
                ),
                labeler__in=labelers,
            ).count()
        return
    done = set(
        GuideAcknowledgement.objects.filter(version=current, labeler__in=labelers).values_list(
            "labeler_id", flat=True
        )
    )
    for labeler in labelers:
        if labeler.pk in done:
            seed.existing["guide acknowledgements"] += 1
            continue
        guide_services.guide_acknowledge(actor=labeler.user, labeler=labeler, guide=guide)
        seed.created["guide acknowledgements"] += 1


def seed_guides(seed: DemoSeed) -> None:
    """The pole guide: 1.0 (read by the early labelers), 1.1 (read by most active labelers), a
    2.0 draft. Two active labelers read nothing; three stopped at 1.0."""
    seed.guide = seed.ensure(
        "guides",
        Guide.objects.filter(slug=GUIDE_SLUG).first(),
        partial(
            guide_services.guide_create,
            actor=seed.ops,
            slug=GUIDE_SLUG,
            name=GUIDE_NAME,
            project_family=GUIDE_FAMILY,
            description=GUIDE_DESCRIPTION,
        ),
    )

    active = list(
        Labeler.objects.select_related("user")
        .filter(status=S.ACTIVE, user__username__in=[spec.username for spec in LABELERS])
        .order_by("user__username")
    )
    early = set(GUIDE_ACKS_1_0_THEN_1_1) | set(GUIDE_ACKS_1_0_ONLY)
    skip_1_1 = set(GUIDE_ACKS_1_0_ONLY) | set(GUIDE_NOT_ACKNOWLEDGED)
    v1_0, v1_1, v2_0 = GUIDE_VERSIONS
    ensure_guide_version(seed, v1_0)
    acknowledge(seed, [lab for lab in active if lab.user.username in early], v1_0.number)
    ensure_guide_version(seed, v1_1)
    acknowledge(seed, [lab for lab in active if lab.user.username not in skip_1_1], v1_1.number)
    ensure_guide_version(seed, v2_0)


def _ensure_gold_set(
    seed: DemoSeed, *, slug: str, name: str, description: str, rows: list[dict[str, object]]
) -> GoldSet:
    """The gold set ``slug`` with the items of ``rows`` (one import of those not there yet)."""
    gold_set = seed.ensure(
        "gold sets",
        GoldSet.objects.filter(slug=slug).first(),
        partial(
            gold_services.gold_set_create,
            actor=seed.ops,
            slug=slug,
            name=name,
            answer_type=AnswerType.SINGLE_CHOICE,
            classes=GOLD_CLASSES,
            guide=seed.guide,
            description=description,
        ),
    )
    there = set(GoldItem.objects.filter(gold_set=gold_set).values_list("external_id", flat=True))
    missing = [row for row in rows if row["external_id"] not in there]
    if len(missing) < len(rows):
        seed.existing["gold items"] += len(rows) - len(missing)
    if missing:
        result = gold_services.gold_import(
            actor=seed.ops,
            gold_set=gold_set,
            data="".join(json.dumps(row) + "\n" for row in missing),
            file_format="jsonl",
            file_name=f"{slug}-demo.jsonl",
        )
        seed.created["gold items"] += result.created
    return gold_set


def seed_gold(seed: DemoSeed) -> None:
    """The two gold sets — the quizzes' forty items and the project's forty control items —
    and the two quiz items ops took out of circulation."""
    seed.gold_set = gold_set = _ensure_gold_set(
        seed,
        slug=GOLD_SLUG,
        name=GOLD_NAME,
        description="Drone photos of poles with the defect the guide calls for, and why: the "
        "training and qualification quizzes draw from these. Not for control tasks: training "
        "shows the answers.",
        rows=_gold_rows(
            (gold_external_id(n), gold_payload(n, item[2]), item)
            for n, item in enumerate(GOLD_ITEMS, 1)
        ),
    )
    seed.control_set = _ensure_gold_set(
        seed,
        slug=CONTROL_SLUG,
        name=CONTROL_NAME,
        description="Photos of the northern survey with known answers, served as control tasks "
        "of the northern project; shaped exactly like its tasks. No quiz uses them.",
        rows=_gold_rows(
            (north_external_id(photo), north_payload(photo), item)
            for photo, item in zip(CONTROL_PHOTOS, GOLD_ITEMS, strict=True)
        ),
    )

    for external_id, status, reason in GOLD_STATUS_CHANGES:
        item = GoldItem.objects.get(gold_set=gold_set, external_id=external_id)
        # Moved once by the demo: left wherever it is now (ops may have restored it).
        if item.status_changes.filter(to_status=status).exists():
            seed.existing["gold status changes"] += 1
            continue
        gold_services.gold_item_set_status(actor=seed.ops, item=item, status=status, reason=reason)
        seed.created["gold status changes"] += 1


def seed_quizzes(seed: DemoSeed) -> None:
    """The qualification type, a training quiz and the sequential qualification quiz that
    grants it (qc.sequential.recommended_params for the fixed test of 20 questions at 0.8)."""
    slug, name = QUALIFICATION_TYPE
    seed.qualification_type = qtype = seed.ensure(
        "qualification types",
        QualificationType.objects.filter(slug=slug).first(),
        partial(
            services.qualification_type_create,
            actor=seed.ops,
            slug=slug,
            name=name,
            description="Classifies pole defects from drone photos (pole-inspection guide).",
        ),
    )

    rule = recommended_params(QUALIFICATION_PASS_MARK, QUALIFICATION_FIXED_EQUIVALENT)
    specs = {
        TRAINING_QUIZ: {
            "title": "Pole defects: training",
            "description": "Ten photos, with the right answer and why after each one. Take it "
            "as often as you like.",
            "kind": Quiz.Kind.TRAINING,
            "num_questions": 10,
            "pass_mark": Decimal("0.7"),
        },
        QUALIFICATION_QUIZ: {
            "title": "Pole defects: qualification",
            "description": f"Up to {rule.n_max} photos; the test stops as soon as the result is "
            "clear. Pass at 80% to hold Pole defect classification for 180 days. Three "
            "attempts, a day apart; 30 minutes each.",
            "kind": Quiz.Kind.QUALIFICATION,
            "num_questions": rule.n_max,
            "pass_mark": Decimal(str(QUALIFICATION_PASS_MARK)),
            "time_limit_seconds": 30 * 60,
            "max_attempts": 3,
            "retry_delay_seconds": 24 * 60 * 60,
            "qualification_type": qtype,
            "validity_days": 180,
            "sequential": True,
            "seq_p0": Decimal(str(rule.p0)),
            "seq_alpha": Decimal(str(rule.alpha)),
            "seq_beta": Decimal(str(rule.beta)),
            "seq_min_questions": rule.n_min,
        },
    }
    for quiz_slug, fields in specs.items():
        seed.quizzes[quiz_slug] = seed.ensure(
            "quizzes",
            Quiz.objects.filter(slug=quiz_slug).first(),
            partial(
                quiz_services.quiz_create,
                actor=seed.ops,
                slug=quiz_slug,
                gold_set=seed.gold_set,
                guide=seed.guide,
                **fields,
            ),
        )


def _simulated_answer(
    right: random.Random, wrong: random.Random, accuracy: float, accepted: list, classes: list
) -> str:
    """Right (the first accepted answer) with probability ``accuracy``, else another class.
    Whether an answer is right comes from ``right`` alone, so an attempt's outcome depends on
    its seed only, not on which photos were drawn."""
    if right.random() < accuracy:
        return accepted[0]
    return wrong.choice([c for c in classes if c not in accepted])


def _take_attempt(
    seed: DemoSeed, quiz: Quiz, labeler: Labeler, number: int, plan: DemoAttempt, now: datetime
) -> QuizAttempt:
    """Attempt ``number`` of ``plan``: started (or, left open by an interrupted run, resumed)
    at its time, answered question by question 40 s apart until it ends."""
    seed_text = f"{labeler.user.username}/{quiz.slug}/{number}"
    started = now - timedelta(hours=plan.hours_ago)
    attempt = (
        QuizAttempt.objects.select_related("quiz__gold_set")
        .filter(quiz=quiz, labeler=labeler, number=number)
        .first()
    )
    if attempt is None:
        attempt, _ = quiz_services.quiz_attempt_start(
            actor=labeler.user,
            quiz=quiz,
            labeler=labeler,
            now=started,
            rng=random.Random(f"{seed_text}/draw"),
        )
        seed.created["quiz attempts"] += 1
    right = random.Random(f"{seed_text}/right")
    wrong = random.Random(f"{seed_text}/wrong")
    classes = list(quiz.gold_set.classes)
    for question in quiz_selectors.attempt_questions_for_staff(attempt=attempt):
        # Drawn for every question, answered or not, so a resumed attempt answers the same.
        answer = _simulated_answer(
            right, wrong, plan.accuracy, question.gold_item.accepted_answers, classes
        )
        if question.answered_at is not None:
            continue
        if attempt.status != QuizAttempt.Status.IN_PROGRESS:
            break
        attempt = quiz_services.quiz_attempt_answer(
            actor=labeler.user,
            attempt=attempt,
            question_id=question.pk,
            answer=answer,
            now=started + timedelta(seconds=40 * question.position),
        ).attempt
    attempt = QuizAttempt.objects.get(pk=attempt.pk)
    expected = QuizAttempt.Status.PASSED if plan.passed else QuizAttempt.Status.FAILED
    if attempt.status != expected:
        raise CommandError(
            f"Demo story broken: {labeler.user.username}'s attempt {number} at {quiz.slug} "
            f"ended {attempt.status}, not {expected} ({attempt.correct_count}/"
            f"{attempt.answered_count} correct). Change the accuracy in ATTEMPTS."
        )
    return attempt


def seed_attempts(seed: DemoSeed) -> None:
    """The labelers' attempts (backdated, so retry delays and expiries read true), the
    revocation and the manual grant. A labeler's attempts already there are left alone: a
    quiz's story runs only from the first attempt number not taken yet."""
    now = timezone.now()
    named = {u for story in ATTEMPTS.values() for u in story}
    labelers = story_labelers(named | set(QUALIFICATION_REVOKED) | set(QUALIFICATION_MANUAL))
    for quiz_slug, story in ATTEMPTS.items():
        quiz = seed.quizzes[quiz_slug]
        for username, plans in story.items():
            labeler = labelers[username]
            ended = set(
                QuizAttempt.objects.filter(quiz=quiz, labeler=labeler)
                .exclude(status=QuizAttempt.Status.IN_PROGRESS)
                .values_list("number", flat=True)
            )
            for number, plan in enumerate(plans, start=1):
                if number in ended:
                    seed.existing["quiz attempts"] += 1
                    continue
                _take_attempt(seed, quiz, labeler, number, plan, now)

    qtype = seed.qualification_type
    for username, reason in QUALIFICATION_REVOKED.items():
        grants = Qualification.objects.filter(labeler=labelers[username], qualification_type=qtype)
        if grants.filter(revoked_at__isnull=False).exists():
            seed.existing["qualification revocations"] += 1
            continue
        live = grants.filter(revoked_at__isnull=True, superseded_at__isnull=True).first()
        if live is None:
            raise CommandError(f"Demo story broken: {username} holds no {qtype.slug} to revoke.")
        services.qualification_revoke(actor=seed.ops, qualification=live, reason=reason)
        seed.created["qualification revocations"] += 1

    for username, reason in QUALIFICATION_MANUAL.items():
        labeler = labelers[username]
        if Qualification.objects.filter(
            labeler=labeler, qualification_type=qtype, source=Qualification.Source.MANUAL
        ).exists():
            seed.existing["manual qualification grants"] += 1
            continue
        services.qualification_grant(
            actor=seed.ops,
            labeler=labeler,
            qualification_type=qtype,
            source=Qualification.Source.MANUAL,
            valid_days=seed.quizzes[QUALIFICATION_QUIZ].validity_days,
            reason=reason,
        )
        seed.created["manual qualification grants"] += 1


# -- the report ----------------------------------------------------------------------------------


def report(seed: DemoSeed, base: str) -> list[str]:
    """The quality story in a few lines: who stands where, and what to call to see it."""
    qualification = ATTEMPTS[QUALIFICATION_QUIZ]
    passed = [u for u, plans in qualification.items() if plans[-1].passed]
    failed = [u for u, plans in qualification.items() if not plans[-1].passed]
    max_attempts = seed.quizzes[QUALIFICATION_QUIZ].max_attempts
    exhausted = [u for u in failed if len(qualification[u]) >= max_attempts]
    cooldown = [u for u in failed if u not in exhausted]
    holders = [u for u in passed if u not in QUALIFICATION_REVOKED]
    guide_id = seed.guide.pk
    quiz_id = seed.quizzes[QUALIFICATION_QUIZ].pk
    lines = (
        f"Guide {GUIDE_NAME!r} (id {guide_id}): 1.0 and 1.1 published, 2.0 drafted; "
        f"gold sets {GOLD_SLUG} (the quizzes': {len(GOLD_ITEMS)} photos, one quarantined, "
        f"one retired) and {CONTROL_SLUG} (the project's control tasks, used by no quiz).",
        f"Quizzes: {TRAINING_QUIZ} (training) and {QUALIFICATION_QUIZ} (id {quiz_id}, "
        f"sequential, grants {QUALIFICATION_TYPE[0]} for 180 days).",
        f"Qualified by the quiz: {', '.join(holders)}; granted by ops: "
        f"{', '.join(QUALIFICATION_MANUAL)}; revoked by ops: "
        f"{', '.join(QUALIFICATION_REVOKED)}.",
        f"Failed, waiting out the 24 h retry delay: {', '.join(cooldown)}; out of attempts: "
        f"{', '.join(exhausted)}.",
        f"Read only guide 1.0 (fine, same major): {', '.join(GUIDE_ACKS_1_0_ONLY)}; read "
        f"nothing, so their quizzes are blocked: {', '.join(GUIDE_NOT_ACKNOWLEDGED)}.",
        f"Took the training quiz: {', '.join(ATTEMPTS[TRAINING_QUIZ])}.",
    )
    return [
        "",
        "Quality story (utility-pole inspection):",
        *(f"  {line}" for line in lines),
        "Try, as a labeler (same password):",
        f"  GET {base}/api/v1/quizzes/ as {GUIDE_NOT_ACKNOWLEDGED[0]} "
        "(blocked: guide_not_acknowledged), "
        f"{cooldown[0]} (retry_delay) or {exhausted[0]} (attempts_exhausted)",
        f"  GET {base}/api/v1/guides/{guide_id}/ as {GUIDE_ACKS_1_0_ONLY[0]} "
        "(what changed since 1.0), or as ops (every version, the 2.0 draft too)",
        f"  POST {base}/api/v1/quizzes/{quiz_id}/attempts/ as labeler "
        "(trained, not yet qualified): take the qualification quiz yourself",
    ]
