"""``manage.py seed_demo``: a small, deterministic demo operation, written through the services.

The story: LabelForce's operations manager (``ops``) runs an in-house labeling team and works
with two vendors, Northwind Annotation (Portugal, default currency EUR) and Kestrel Data
Services (India, INR). Each vendor has a manager who onboards their own people. Most labelers
are active; a few are still invited or onboarding; two vendor labelers were suspended by hand by
their manager (one after the vendor's own spot checks, one for a policy breach); one left at
their own request; one internal labeler was suspended and reactivated. One internal labeler is
the senior labeler who resolves reviews. On the demo project, quality rules evaluated through
the services pause and warn the most careless labeler; the suspensions and the revocation are
by hand, and their reasons cite no rule.

Idempotent: every object is looked up by its natural key (username, vendor slug, skill slug,
guide and gold-set slugs, version number, gold external id, quiz slug, attempt number) and left
alone when it exists, so a second run creates nothing and writes no history. Each step is a
function taking the shared ``DemoSeed``; later parts of the demo (guides, quizzes, projects, pay)
add a step to ``STEPS``.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

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
from workforce import roles, services
from workforce.models import Labeler, Qualification, QualificationType, User, Vendor
from workforce.roles_setup import ensure_role_groups

DEMO_PASSWORD = "labelforce-demo"  # noqa: S105 — printed on purpose; refused unless DEBUG
DEFAULT_BASE_URL = "http://127.0.0.1:8000"

S = Labeler.Status

# -- the story, as data --------------------------------------------------------------------------

SKILLS = (
    ("bounding-boxes", "Bounding boxes"),
    ("medical-imaging", "Medical imaging"),
    ("utility-poles", "Utility-pole inspection"),
    ("text-classification", "Text classification"),
    ("named-entities", "Named-entity tagging"),
)


class DemoLogin(NamedTuple):
    username: str
    first_name: str
    last_name: str
    email: str


OPS = DemoLogin("ops", "Morgan", "Hale", "morgan.hale@labelforce.example")


class DemoVendor(NamedTuple):
    slug: str
    name: str
    country: str
    currency: str
    manager: DemoLogin


VENDORS = (
    DemoVendor(
        "northwind",
        "Northwind Annotation",
        "PT",
        "EUR",
        DemoLogin("northwind_manager", "Rita", "Moreira", "rita.moreira@northwind.example"),
    ),
    DemoVendor(
        "kestrel",
        "Kestrel Data Services",
        "IN",
        "INR",
        DemoLogin("kestrel_manager", "Sunil", "Kapoor", "sunil.kapoor@kestrel.example"),
    ),
)

# A labeler's story after the invitation: (status reached, reason), walked in order.
Step = tuple[str, str]
ONBOARD: Step = (S.ONBOARDING, "Contract signed; reading the labeling guide.")
ACTIVATE: Step = (S.ACTIVE, "Passed the qualification test.")
ACTIVE_STORY: tuple[Step, ...] = (ONBOARD, ACTIVATE)

# Everyone not named here is active; these are the exceptions the demo is about.
STORIES: dict[str, tuple[Step, ...]] = {
    "li.wen": (
        *ACTIVE_STORY,
        (S.SUSPENDED, "Guide v2 was not acknowledged within the two-week deadline."),
        (S.ACTIVE, "Acknowledged guide v2."),
    ),
    "sam.okafor": (ONBOARD,),
    "miguel.carvalho": (
        *ACTIVE_STORY,
        (
            S.SUSPENDED,
            "Suspended by hand: Northwind's own spot check of 50 of his bounding-box tasks found "
            "32 right (64%; Northwind expects 80%). Retrain and requalify before returning.",
        ),
    ),
    "ana.ribeiro": (ONBOARD,),
    "diogo.gomes": (),
    "lucia.marques": (
        *ACTIVE_STORY,
        (S.OFFBOARDED, "Contract ended at the labeler's request (moved to another team)."),
    ),
    "rahul.verma": (
        *ACTIVE_STORY,
        (
            S.SUSPENDED,
            "Login used by a second person (policy breach); on hold while Kestrel investigates.",
        ),
    ),
    "neha.gupta": (),
}
SENIORS = frozenset({"senior"})


class DemoLabeler(NamedTuple):
    username: str
    first_name: str
    last_name: str
    vendor: str | None  # a vendor slug, or None for internal staff
    external_id: str
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    timezone: str
    story: tuple[Step, ...]
    seniority: str


def _team(
    vendor: str | None, id_prefix: str, timezone: str, rows: tuple[tuple[str, str, str, str], ...]
) -> tuple[DemoLabeler, ...]:
    """Rows of (username, full name, skill slugs, language codes); a vendor's people get
    external ids numbered in row order (``NW-0001`` …)."""
    return tuple(
        DemoLabeler(
            username=username,
            first_name=name.split()[0],
            last_name=name.split()[-1],
            vendor=vendor,
            external_id=f"{id_prefix}-{n:04d}" if vendor else "",
            skills=tuple(skills.split()),
            languages=tuple(languages.split()),
            timezone=timezone,
            story=STORIES.get(username, ACTIVE_STORY),
            seniority=(
                Labeler.Seniority.SENIOR if username in SENIORS else Labeler.Seniority.LABELER
            ),
        )
        for n, (username, name, skills, languages) in enumerate(rows, start=1)
    )


_ALL_SKILLS = " ".join(slug for slug, _ in SKILLS)

LABELERS = (
    *_team(
        None,
        "",
        "Europe/Berlin",
        (
            ("senior", "Helena Brandt", _ALL_SKILLS, "en de"),
            ("labeler", "Jonas Weber", "bounding-boxes utility-poles", "en de"),
            ("amara.nwosu", "Amara Nwosu", "text-classification named-entities", "en fr"),
            ("li.wen", "Li Wen", "medical-imaging", "en zh"),
            ("sam.okafor", "Sam Okafor", "text-classification", "en"),
        ),
    ),
    *_team(
        "northwind",
        "NW",
        "Europe/Lisbon",
        (
            ("ines.costa", "Inês Costa", "bounding-boxes utility-poles", "pt-PT en"),
            ("joao.ferreira", "João Ferreira", "bounding-boxes", "pt-PT en"),
            ("mariana.santos", "Mariana Santos", "medical-imaging", "pt-PT en es"),
            ("pedro.almeida", "Pedro Almeida", "utility-poles", "pt-PT"),
            ("beatriz.rocha", "Beatriz Rocha", "text-classification named-entities", "pt-PT en"),
            ("tiago.sousa", "Tiago Sousa", "bounding-boxes utility-poles", "pt-PT es"),
            ("catarina.lopes", "Catarina Lopes", "medical-imaging bounding-boxes", "pt-PT en"),
            ("rui.martins", "Rui Martins", "text-classification", "pt-PT en"),
            ("sofia.pereira", "Sofia Pereira", "named-entities text-classification", "pt-PT fr"),
            ("miguel.carvalho", "Miguel Carvalho", "bounding-boxes", "pt-PT"),
            ("ana.ribeiro", "Ana Ribeiro", "utility-poles", "pt-PT en"),
            ("diogo.gomes", "Diogo Gomes", "", "pt-PT"),
            ("lucia.marques", "Lúcia Marques", "text-classification", "pt-PT en"),
        ),
    ),
    *_team(
        "kestrel",
        "KDS",
        "Asia/Kolkata",
        (
            ("priya.sharma", "Priya Sharma", "medical-imaging bounding-boxes", "hi en"),
            ("arjun.nair", "Arjun Nair", "bounding-boxes utility-poles", "ml en"),
            ("kavya.reddy", "Kavya Reddy", "text-classification named-entities", "te en"),
            ("rohan.mehta", "Rohan Mehta", "utility-poles", "hi gu en"),
            ("ananya.iyer", "Ananya Iyer", "medical-imaging", "ta en"),
            ("vikram.singh", "Vikram Singh", "bounding-boxes", "hi pa en"),
            ("deepa.krishnan", "Deepa Krishnan", "text-classification", "ta en"),
            ("sanjay.patel", "Sanjay Patel", "bounding-boxes utility-poles", "gu hi en"),
            ("meera.joshi", "Meera Joshi", "named-entities", "mr hi en"),
            ("aditya.rao", "Aditya Rao", "medical-imaging text-classification", "kn en"),
            ("rahul.verma", "Rahul Verma", "bounding-boxes", "hi en"),
            ("neha.gupta", "Neha Gupta", "", "hi en"),
        ),
    ),
)

# The rows of the closing login table: (role, username, what to try).
LOGIN_TABLE = (
    ("Operations manager", "ops", "the admin at {base}/admin/; the API sees every vendor"),
    ("Vendor manager", "northwind_manager", "GET /api/v1/labelers/ lists Northwind's only"),
    ("Vendor manager", "kestrel_manager", "a Northwind labeler's URL is a 404 here"),
    ("Senior labeler", "senior", "GET /api/v1/me/ (internal, senior)"),
    ("Labeler (internal)", "labeler", "GET /api/v1/me/; other labelers are 404"),
    ("Labeler (Northwind)", "ines.costa", "GET /api/v1/me/ (vendor labeler NW-0001)"),
    ("Labeler (offboarded)", "lucia.marques", "the token request is refused: login disabled"),
)


# -- the quality story, as data ------------------------------------------------------------------
#
# Utility-pole inspection from drone photos: one guide (1.0, then 1.1 clarifying rust against
# stains, and a 2.0 drafted but not published), a gold set of forty photos, a training quiz and
# a sequential qualification quiz that grants "pole-defects". Every labeler named below is
# active (a test checks it).

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
            "examples": ["https://demo.labelforce.invalid/poles/019.jpg"],
        },
        {
            "label": "rust",
            "definition": rust,
            "examples": ["https://demo.labelforce.invalid/poles/027.jpg"],
        },
        {
            "label": "woodpecker",
            "definition": "Holes or cavities dug by birds in a wooden pole.",
            "examples": ["https://demo.labelforce.invalid/poles/030.jpg"],
        },
        {
            "label": "missing-crossarm",
            "definition": "A crossarm, or one of two, is missing or lies on the ground.",
            "examples": ["https://demo.labelforce.invalid/poles/005.jpg"],
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

# The quiz set: what the training and qualification quizzes draw from. Training shows each
# answer and why, so no project uses this set for control tasks (see CONTROL_SLUG below).
GOLD_SLUG = "pole-gold"
GOLD_NAME = "Pole defects (quiz gold)"
GOLD_CLASSES = ["ok", "crack", "rust", "woodpecker", "missing-crossarm"]
GOLD_IMAGE_URL = "https://demo.labelforce.invalid/poles/{n:03d}.jpg"
_REGIONS = ("Alentejo", "Beira Interior", "Kerala", "Gujarat")
_VIEWS = ("north", "east", "south", "west")

E, M, H = GoldItem.Difficulty.EASY, GoldItem.Difficulty.MEDIUM, GoldItem.Difficulty.HARD

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
    (
        ("crack", "rust"),
        H,
        "concrete",
        "1.1",
        "Rust bleeds out of a crack: the reinforcement corrodes inside. The crack is the more "
        "serious defect; rust is accepted too.",
    ),
    (("ok",), H, "concrete", "1.1", "Orange lichen on concrete: organic, no metal there."),
    (
        ("rust",),
        H,
        "wood",
        "1.1",
        "The crossarm through-bolt is rusting; the streak below is run-off.",
    ),
    (("woodpecker",), H, "wood", "1.0", "Shallow, partly healed holes: any cavity counts."),
    (("rust",), H, "wood", "1.1", "Brown patch under the transformer bracket: rust run-off."),
    (("ok",), E, "wood", "1.0", "A new treated wooden pole without defects."),
    (("crack",), E, "wood", "1.0", "The pole top is split, clearly visible."),
    (("missing-crossarm",), E, "steel", "1.0", "Both crossarm brackets of the steel pole empty."),
    (("ok",), M, "concrete", "1.0", "A bird's nest on the crossarm is not a defect here."),
    (("rust",), M, "steel", "1.0", "Rust along the welded seam halfway up."),
    (("woodpecker",), M, "wood", "1.0", "A row of three small holes under the cap."),
    (("crack",), H, "concrete", "1.0", "Fine ring crack at the ground line, half in the grass."),
    (
        ("missing-crossarm", "crack"),
        H,
        "wood",
        "1.0",
        "The crossarm snapped off at the bolt and the stub is cracked: the missing crossarm is "
        "more serious; crack is accepted too.",
    ),
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


# The control set of the demo project: forty photos of the project's own survey (the northern
# flights) with the same forty cases as the quiz set, answered by senior labelers. A control task
# carries its gold item's payload as it is, so these payloads are made exactly as the project's
# real tasks are (``north_payload``: same host and path, a four-digit photo number, the same two
# metadata keys of the same types), and their photo numbers are drawn from the survey's,
# interleaved with the real tasks'. No quiz uses this set: a labeler never sees a control item,
# let alone its answer, before it is served to them as a task.
CONTROL_SLUG = "pole-control"
CONTROL_NAME = "Pole defects (control tasks, northern survey)"
SURVEY_PHOTOS = 160  # the northern survey: 120 photos to label and 40 control photos
CONTROL_PHOTOS = tuple(
    sorted(random.Random("north-survey/control").sample(range(1, SURVEY_PHOTOS + 1), 40))
)
TASK_PHOTOS = tuple(p for p in range(1, SURVEY_PHOTOS + 1) if p not in CONTROL_PHOTOS)


def north_external_id(photo: int) -> str:
    return f"NORTH-{photo:04d}"


def north_payload(photo: int) -> dict[str, object]:
    """Photo ``photo`` of the northern survey as a task shows it: real and control alike."""
    return {
        "image_url": f"https://demo.labelforce.invalid/north/{photo:04d}.jpg",
        "metadata": {"pole_id": f"N-{7000 + photo}", "flight": f"F{1 + (photo - 1) // 40}"},
    }


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


@dataclass
class DemoSeed:
    """What the steps share: the actors they act as, and tallies for the summary."""

    ops: User | None = None
    vendors: dict[str, Vendor] = field(default_factory=dict)
    managers: dict[str, User] = field(default_factory=dict)
    guide: Guide | None = None
    gold_set: GoldSet | None = None  # the quizzes'
    control_set: GoldSet | None = None  # the demo project's control tasks
    qualification_type: QualificationType | None = None
    quizzes: dict[str, Quiz] = field(default_factory=dict)
    created: Counter[str] = field(default_factory=Counter)
    existing: Counter[str] = field(default_factory=Counter)
    _password_hash: str = ""

    def password_hash(self) -> str:
        # Hashing is slow by design (~0.5 s); the demo password is public, so one hash serves
        # every demo login and seeding stays quick.
        if not self._password_hash:
            self._password_hash = make_password(DEMO_PASSWORD)
        return self._password_hash


def _ensure_login(seed: DemoSeed, login: DemoLogin, *, is_staff: bool = False) -> User:
    """A plain login (operations or vendor manager), created once with the demo password."""
    user = User.objects.filter(username=login.username).first()
    if user is not None:
        seed.existing["logins"] += 1
        return user
    user = User(
        username=login.username,
        first_name=login.first_name,
        last_name=login.last_name,
        email=login.email,
        is_staff=is_staff,
        password=seed.password_hash(),
    )
    user.save()
    seed.created["logins"] += 1
    return user


def _seed_roles(seed: DemoSeed) -> None:
    """The role groups (migrate creates them too; this keeps the command safe to run alone)."""
    ensure_role_groups()


def _seed_skills(seed: DemoSeed) -> None:
    for slug, name in SKILLS:
        services.skill_get_or_create(slug=slug, name=name)


def _seed_people(seed: DemoSeed) -> None:
    """The operations manager, the vendors and their managers, and the labelers."""
    seed.ops = _ensure_login(seed, OPS, is_staff=True)
    seed.ops.groups.add(Group.objects.get(name=roles.OPS_MANAGERS))

    for spec in VENDORS:
        vendor = Vendor.objects.filter(slug=spec.slug).first()
        if vendor is None:
            vendor = services.vendor_create(
                actor=seed.ops,
                name=spec.name,
                slug=spec.slug,
                contact_name=f"{spec.manager.first_name} {spec.manager.last_name}",
                contact_email=spec.manager.email,
                country=spec.country,
                default_currency=spec.currency,
            )
            seed.created["vendors"] += 1
        else:
            seed.existing["vendors"] += 1
        manager = _ensure_login(seed, spec.manager)
        services.vendor_manager_add(actor=seed.ops, vendor=vendor, user=manager)  # idempotent
        seed.vendors[spec.slug] = vendor
        seed.managers[spec.slug] = manager

    for spec in LABELERS:
        if User.objects.filter(username=spec.username).exists():
            seed.existing["labelers"] += 1
            continue
        _create_labeler(seed, spec)
        seed.created["labelers"] += 1


def _create_labeler(seed: DemoSeed, spec: DemoLabeler) -> Labeler:
    """Invite the labeler and walk their story, acting as whoever would: the vendor's manager
    for a vendor labeler, the operations manager for internal staff. All or nothing."""
    vendor = seed.vendors[spec.vendor] if spec.vendor else None
    actor = seed.managers[spec.vendor] if spec.vendor else seed.ops
    domain = f"{spec.vendor}.example" if spec.vendor else "labelforce.example"
    with transaction.atomic():
        labeler = services.labeler_create(
            actor=actor,
            username=spec.username,
            email=f"{spec.username}@{domain}",
            first_name=spec.first_name,
            last_name=spec.last_name,
            kind=Labeler.Kind.VENDOR if vendor else Labeler.Kind.INTERNAL,
            vendor=vendor,
            external_id=spec.external_id,
            seniority=spec.seniority,
            skills=spec.skills,
            languages=list(spec.languages),
            timezone_name=spec.timezone,
            reason=f"Invited by {vendor.name if vendor else 'operations'}.",
        )
        # See DemoSeed.password_hash: the shared hash replaces the unusable password.
        User.objects.filter(pk=labeler.user_id).update(password=seed.password_hash())
        for to_status, reason in spec.story:
            labeler = services.labeler_move_to_status(
                actor=actor, labeler=labeler, to_status=to_status, reason=reason
            )
    return labeler


# -- the quality steps ---------------------------------------------------------------------------
#
# Publishing, importing and every quiz entry point run their own durable transaction, so these
# steps never open an outer one: each service call commits on its own, and each step finds what
# an earlier (possibly interrupted) run left by its natural key and carries on from there.


def _story_labelers(usernames: Iterable[str]) -> dict[str, Labeler]:
    """The named demo labelers, by username; CommandError if one is missing (the people step
    creates them all)."""
    wanted = set(usernames)
    found = {
        labeler.user.username: labeler
        for labeler in Labeler.objects.select_related("user").filter(user__username__in=wanted)
    }
    missing = sorted(wanted - set(found))
    if missing:
        raise CommandError(f"The demo labelers {', '.join(missing)} are missing.")
    return found


def _ensure_guide_version(seed: DemoSeed, spec: DemoGuideVersion) -> GuideVersion:
    """The version ``spec`` describes: found published by number, or as a draft by its change
    summary, or written now; published when the story says so."""
    guide = seed.guide
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
    if version is None:
        version = guide_services.guide_version_create(
            actor=seed.ops,
            guide=guide,
            body=spec.body,
            bump=spec.bump,
            label_definitions=spec.label_definitions,
            change_summary=spec.change_summary,
        )
        seed.created["guide versions"] += 1
    else:
        seed.existing["guide versions"] += 1
    if not spec.publish or version.status == GuideVersion.Status.PUBLISHED:
        return version
    version = guide_services.guide_version_publish(actor=seed.ops, version=version)
    if version.number != spec.number:
        raise CommandError(
            f"Publishing the {spec.number} draft of {guide.slug} gave {version.number}: the guide "
            "has versions the demo does not know."
        )
    return version


def _acknowledge(seed: DemoSeed, labelers: list[Labeler], number: str) -> None:
    """Each labeler acknowledges the guide's current version, if that is still ``number`` (a
    later run after someone published more must not acknowledge the newer one for them)."""
    current = guide_selectors.guide_current_version(guide=seed.guide)
    if current is None or current.number != number:
        if current is not None:  # moved on: this part was done before
            seed.existing["guide acknowledgements"] += GuideAcknowledgement.objects.filter(
                version=guide_selectors.guide_version_published_by_number(
                    guide=seed.guide, number=number
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
        guide_services.guide_acknowledge(actor=labeler.user, labeler=labeler, guide=seed.guide)
        seed.created["guide acknowledgements"] += 1


def _seed_guides(seed: DemoSeed) -> None:
    """The pole guide: 1.0 (read by the early labelers), 1.1 (read by most active labelers), a
    2.0 draft. Two active labelers read nothing; three stopped at 1.0."""
    guide = Guide.objects.filter(slug=GUIDE_SLUG).first()
    if guide is None:
        guide = guide_services.guide_create(
            actor=seed.ops,
            slug=GUIDE_SLUG,
            name=GUIDE_NAME,
            project_family=GUIDE_FAMILY,
            description=GUIDE_DESCRIPTION,
        )
        seed.created["guides"] += 1
    else:
        seed.existing["guides"] += 1
    seed.guide = guide

    active = list(
        Labeler.objects.select_related("user")
        .filter(status=S.ACTIVE, user__username__in=[spec.username for spec in LABELERS])
        .order_by("user__username")
    )
    early = set(GUIDE_ACKS_1_0_THEN_1_1) | set(GUIDE_ACKS_1_0_ONLY)
    skip_1_1 = set(GUIDE_ACKS_1_0_ONLY) | set(GUIDE_NOT_ACKNOWLEDGED)
    v1_0, v1_1, v2_0 = GUIDE_VERSIONS
    _ensure_guide_version(seed, v1_0)
    _acknowledge(seed, [lab for lab in active if lab.user.username in early], v1_0.number)
    _ensure_guide_version(seed, v1_1)
    _acknowledge(seed, [lab for lab in active if lab.user.username not in skip_1_1], v1_1.number)
    _ensure_guide_version(seed, v2_0)


def _ensure_gold_set(
    seed: DemoSeed, *, slug: str, name: str, description: str, rows: list[dict[str, object]]
) -> GoldSet:
    """The gold set ``slug`` with the items of ``rows`` (one import of those not there yet)."""
    gold_set = GoldSet.objects.filter(slug=slug).first()
    if gold_set is None:
        gold_set = gold_services.gold_set_create(
            actor=seed.ops,
            slug=slug,
            name=name,
            answer_type=AnswerType.SINGLE_CHOICE,
            classes=GOLD_CLASSES,
            guide=seed.guide,
            description=description,
        )
        seed.created["gold sets"] += 1
    else:
        seed.existing["gold sets"] += 1
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


def _seed_gold(seed: DemoSeed) -> None:
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


def _seed_quizzes(seed: DemoSeed) -> None:
    """The qualification type, a training quiz and the sequential qualification quiz that
    grants it (qc.sequential.recommended_params for the fixed test of 20 questions at 0.8)."""
    slug, name = QUALIFICATION_TYPE
    qtype = QualificationType.objects.filter(slug=slug).first()
    if qtype is None:
        qtype = services.qualification_type_create(
            actor=seed.ops,
            slug=slug,
            name=name,
            description="Classifies pole defects from drone photos (pole-inspection guide).",
        )
        seed.created["qualification types"] += 1
    else:
        seed.existing["qualification types"] += 1
    seed.qualification_type = qtype

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
        quiz = Quiz.objects.filter(slug=quiz_slug).first()
        if quiz is None:
            quiz = quiz_services.quiz_create(
                actor=seed.ops, slug=quiz_slug, gold_set=seed.gold_set, guide=seed.guide, **fields
            )
            seed.created["quizzes"] += 1
        else:
            seed.existing["quizzes"] += 1
        seed.quizzes[quiz_slug] = quiz


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


def _seed_attempts(seed: DemoSeed) -> None:
    """The labelers' attempts (backdated, so retry delays and expiries read true), the
    revocation and the manual grant. A labeler's attempts already there are left alone: a
    quiz's story runs only from the first attempt number not taken yet."""
    now = timezone.now()
    named = {u for story in ATTEMPTS.values() for u in story}
    labelers = _story_labelers(named | set(QUALIFICATION_REVOKED) | set(QUALIFICATION_MANUAL))
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


# -- a project half done -----------------------------------------------------------------------

DEMO_PROJECT = "poles-north"
DEMO_PROJECT_TASKS = len(TASK_PHOTOS)  # 120
DEMO_PROJECT_SUBMISSIONS = 120  # half of 120 tasks x overlap 2
DEMO_LABELER_ACCURACY = 0.85  # the crowd's mean; each labeler has their own (below)
DEMO_WORK_SPAN = timedelta(days=27)  # the project's labels: within the four weeks before now


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


def _demo_truth(n: int, classes: list[str]) -> str:
    """The true class of real task ``n`` (1-based). The second batch (coastal flights) has far
    more rust, so the project quality page's drift test has something to find."""
    if n > DEMO_PROJECT_TASKS // 2 and n % 3 != 0:
        return "rust" if "rust" in classes else classes[0]
    return classes[(n * 3) % len(classes)]


def _seed_project(seed: DemoSeed) -> None:
    """A project half done: 120 pole photos in two batches at overlap 2, with control tasks
    from its own control set (``CONTROL_SLUG``); about half of the slots labeled by the
    qualified labelers through the real claim and submit services (so consensus, extra slots
    and reviews happen as in production)."""
    from assignments import services as work_services
    from assignments.models import Assignment, Project, Task
    from assignments.services import imports as import_services
    from assignments.services import projects as project_services
    from config.errors import ApplicationError

    project = Project.objects.filter(slug=DEMO_PROJECT).first()
    if project is None:
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
        project = project_services.project_set_status(
            actor=seed.ops, project=project, status=Project.Status.ACTIVE
        )
        seed.created["projects"] += 1
    else:
        seed.existing["projects"] += 1

    done = Assignment.objects.filter(
        project=project, status=Assignment.Status.SUBMITTED, is_control=False
    ).count()
    if done >= DEMO_PROJECT_SUBMISSIONS:
        return
    workers = list(
        Labeler.objects.select_related("user").filter(status=Labeler.Status.ACTIVE).order_by("id")
    )
    rng = random.Random(20261127)
    classes = list(seed.gold_set.classes)
    gold_answers = dict(
        Task.objects.filter(project=project, gold_item__isnull=False).values_list(
            "pk", "gold_item__accepted_answers"
        )
    )
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
    controls_met: Counter[int] = Counter()
    progressed = True
    while done < DEMO_PROJECT_SUBMISSIONS and progressed:
        progressed = False
        for labeler in turns:
            if done >= DEMO_PROJECT_SUBMISSIONS:
                break
            try:
                claim = work_services.assignment_claim_next(
                    labeler=labeler, project_id=project.pk, rng=rng, now=clock
                )
            except ApplicationError:
                continue  # not qualified, paused, or the guide is not acknowledged
            if claim is None:
                continue
            task_id = claim.assignment.task_id
            if task_id in gold_answers:
                right = gold_answers[task_id][0]
            else:
                image = str(claim.assignment.task.payload.get("image_url", ""))
                photo = int(image.rsplit("/", 1)[1].split(".")[0])
                right = _demo_truth(TASK_PHOTOS.index(photo) + 1, classes)
            wrong = [c for c in classes if c != right]
            answer = right if rng.random() < _accuracy_of(labeler) else rng.choice(wrong)
            if task_id in gold_answers and labeler.user.username == DEMO_CARELESS:
                # Counted, not drawn: one control task in five right, so the pause rule fires
                # on however few of his checks lie before the day of seeding (drawn at his
                # accuracy, a run in two left it short of certain and he was not paused).
                controls_met[labeler.pk] += 1
                answer = right if controls_met[labeler.pk] % 5 == 0 else rng.choice(wrong)
            work_services.assignment_submit(
                labeler=labeler,
                assignment_id=claim.assignment.pk,
                answer=answer,
                now=clock + timedelta(seconds=rng.randint(20, 90)),
            )
            if not claim.assignment.is_control:
                done += 1
            seed.created["submissions"] += 1
            progressed = True
            clock = min(clock + step, end)


# Each labeler's own accuracy on the demo project, so scores differ as they would: most near the
# crowd's mean, one careless labeler (the pause rule below catches them), one excellent.
DEMO_CARELESS = "rohan.mehta"
DEMO_ACCURACY = {DEMO_CARELESS: 0.45, "kavya.reddy": 0.97}


def _accuracy_of(labeler: Labeler) -> float:
    name = labeler.user.username
    if name in DEMO_ACCURACY:
        return DEMO_ACCURACY[name]
    spread = (sum(map(ord, name)) % 21 - 10) / 100  # -0.10 .. +0.10, stable per name
    return DEMO_LABELER_ACCURACY + spread


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


def _seed_quality(seed: DemoSeed) -> None:
    """Quality on the half-done project: its rules (evaluated for every labeler, so a careless
    labeler is paused and others warned), a Dawid-Skene refit (estimates without gold), and one
    contested gold verdict — all through the services."""
    from assignments.models import Project
    from assignments.services import consensus as consensus_services
    from config.errors import ApplicationError
    from qc.models import GoldCheck, LabelerEstimate, QualityRule, Quiz
    from qc.services import gold_health, rules

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
        consensus_services.project_refit(project_id=project.pk)
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


# Run in order; each step is idempotent on its own.
STEPS: tuple[Callable[[DemoSeed], None], ...] = (
    _seed_roles,
    _seed_skills,
    _seed_people,
    _seed_guides,
    _seed_gold,
    _seed_quizzes,
    _seed_attempts,
    _seed_project,
    _seed_quality,
)


# -- the command ---------------------------------------------------------------------------------


class Command(BaseCommand):
    help = (
        "Create (or complete) the demo operation: an operations manager, two vendors with their "
        f"managers and about thirty labelers, all with the password {DEMO_PASSWORD!r}; a "
        "labeling guide, a gold set, quizzes, attempts and qualifications. "
        "Idempotent. Refuses to run unless DEBUG is on or --force is given."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even though DEBUG is off. Never on a production database.",
        )
        parser.add_argument(
            "--base-url",
            default=DEFAULT_BASE_URL,
            help=f"Where the server listens, for the printed hints (default {DEFAULT_BASE_URL}).",
        )

    def handle(self, *args, force: bool, base_url: str, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates logins that share the published password "
                f"{DEMO_PASSWORD!r}, so it refuses to run with DEBUG off (production settings). "
                "Run it with DJANGO_DEBUG=1, as `make demo` does, or pass --force on a database "
                "that is certainly not production."
            )
        seed = DemoSeed()
        for step in STEPS:
            step(seed)
        self._report(seed, base_url.rstrip("/"))

    def _report(self, seed: DemoSeed, base: str) -> None:
        write = self.stdout.write
        created = ", ".join(f"{n} {what}" for what, n in sorted(seed.created.items())) or "nothing"
        existing = ", ".join(f"{n} {what}" for what, n in sorted(seed.existing.items()))
        write(self.style.SUCCESS(f"Demo data: created {created}."))
        if existing:
            write(f"Already there and left as they were: {existing}.")

        rows = [("ROLE", "USERNAME", "PASSWORD", "WHAT TO TRY")]
        rows += [(r, u, DEMO_PASSWORD, t.format(base=base)) for r, u, t in LOGIN_TABLE]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        write("")
        write("Demo logins (every demo labeler also logs in with the same password):")
        for row in rows:
            write(
                "  "
                + "  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True))
                + "  "
                + row[3]
            )
        write("")
        write(f"Admin:     {base}/admin/  (log in as ops)")
        write(f"API docs:  {base}/api/docs/  (schema: {base}/api/schema/)")
        write(f"Health:    {base}/healthz")
        write("Get a token, then call the API with it:")
        write(
            f"  curl -s -X POST {base}/api/v1/auth/token/ "
            f"-d username=northwind_manager -d password={DEMO_PASSWORD}"
        )
        write(f'  curl -s -H "Authorization: Token <token>" {base}/api/v1/labelers/')
        self._report_quality(seed, base)

    def _report_quality(self, seed: DemoSeed, base: str) -> None:
        """The quality story in a few lines: who stands where, and what to call to see it."""
        write = self.stdout.write
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
        write("")
        write("Quality story (utility-pole inspection):")
        for line in lines:
            write(f"  {line}")
        write("Try, as a labeler (same password):")
        write(
            f"  GET {base}/api/v1/quizzes/ as {GUIDE_NOT_ACKNOWLEDGED[0]} "
            "(blocked: guide_not_acknowledged), "
            f"{cooldown[0]} (retry_delay) or {exhausted[0]} (attempts_exhausted)"
        )
        write(
            f"  GET {base}/api/v1/guides/{guide_id}/ as {GUIDE_ACKS_1_0_ONLY[0]} "
            "(what changed since 1.0), or as ops (every version, the 2.0 draft too)"
        )
        write(
            f"  POST {base}/api/v1/quizzes/{quiz_id}/attempts/ as labeler "
            "(trained, not yet qualified): take the qualification quiz yourself"
        )
        self._report_project(base)

    def _report_project(self, base: str) -> None:
        """Where the half-done project's quality shows: the admin pages and the API."""
        from assignments.models import Project
        from qc.models import RuleFiring

        project = Project.objects.filter(slug=DEMO_PROJECT).first()
        if project is None:
            return
        write = self.stdout.write
        paused = sorted(
            RuleFiring.objects.filter(
                project_id=project.pk, action="pause_on_project", status="open"
            ).values_list("labeler__user__username", flat=True)
        )
        write("")
        write(f"Project {project.name!r} (id {project.pk}), half done over four weeks:")
        write(f"  quality page: {base}/admin/assignments/project/{project.pk}/quality/ (as ops)")
        write(f"  vendor comparison: {base}/admin/assignments/project/quality/vendors/")
        if paused:
            write(
                f"  paused by a quality rule: {', '.join(paused)} (next-task answers 403 "
                "paused_on_project; reverse it in the admin's rule firings)"
            )
        write(
            f"  GET {base}/api/v1/projects/{project.pk}/quality/ as ops or a vendor manager; "
            f"GET {base}/api/v1/me/scorecard/ as a labeler"
        )
