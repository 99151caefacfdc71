"""The demo operation, seeded through the services: a small, deterministic story.

LabelForce's operations manager (``ops``) runs an in-house labeling team and works with two
vendors, Northwind Annotation (Portugal, default currency EUR) and Kestrel Data Services (India,
INR). Each vendor has a manager who onboards their own people. The labelers are qualified to
inspect utility poles from drone photos, and label a project that is half done; quality rules
evaluated through the services pause and warn the most careless labeler.

The seed is split by area, each part holding its story data, its steps and its lines of the
closing report, and importing only the parts before it:

    workforce  ←  qualification  ←  work  ←  quality  ←  pay        (survey: the photos)
                                       ↖  images  ←  boxes
                                       ↖  operations  (its drift step before pay, the rest after)

- ``workforce``: role groups, skills, the operations manager, vendors, managers, labelers.
- ``qualification``: the guide, the gold sets, the quizzes, attempts and qualifications.
- ``survey``: the northern survey's photos, real tasks and control tasks alike.
- ``work``: the project, its tasks, and the labels made through claim and submit.
- ``images``: every photo the demo shows, drawn as SVG files under demo/static/demo/ (committed;
  ``manage.py demo_images`` redraws them), served at ``/static/demo/`` so the pages work offline.
- ``boxes``: a bounding-box project new this week, its own guide (2.0 not yet acknowledged) and
  its qualification granted by hand: what the demo labeler draws boxes on.
- ``quality``: the project's quality rules, the refit, a contested gold check.
- ``pay``: the project's rates, policy, bonus tier, the vendors' contracts, exchange rates;
  weekly pay periods, the past ones closed with the vendors' invoices, a gold correction that
  adjusts a closed week, and the current week calculated, not approved.
- ``operations``: the operations loops on the demo data: a third batch whose labels drift (the
  drift sweep records it and fires a warn rule), a flag answered and linked to a guide version
  and one left open, Northwind's webhook endpoint at the demo receiver (``--base-url``), and a
  qualification expiring in five days with its notice.

Every part writes through the services only, but for the logins no service makes: the
operations and vendor managers' plain logins, and every demo login's shared password hash (see
``DemoSeed.password_hash``).

Idempotent: every object is looked up by its natural key (username, vendor slug, skill slug,
guide and gold-set slugs, version number, gold external id, quiz slug, attempt number, project
slug, a pay rate's scope and unit, a pay period's start) and left alone when it exists, so a
second run creates nothing and writes no history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from django.contrib.auth.hashers import make_password

from demo.seed import boxes, operations, pay, qualification, quality, work, workforce
from qc.models import GoldSet, Guide, Quiz
from workforce.models import QualificationType, User, Vendor

T = TypeVar("T")


@dataclass
class DemoSeed:
    """What the steps share: the actors they act as, what earlier steps made, and tallies for
    the summary."""

    base_url: str = "http://127.0.0.1:8000"  # where the server listens (the demo webhook)
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
            self._password_hash = make_password(workforce.DEMO_PASSWORD)
        return self._password_hash

    def ensure(self, what: str, found: T | None, create: Callable[[], T]) -> T:
        """``found``, the object an earlier run made (tallied as already there), or when it is
        None what ``create`` makes now (tallied as created): how each step stays idempotent."""
        if found is not None:
            self.existing[what] += 1
            return found
        made = create()
        self.created[what] += 1
        return made


# Run in order; each step is idempotent on its own.
STEPS: tuple[Callable[[DemoSeed], None], ...] = (
    workforce.seed_roles,
    workforce.seed_skills,
    workforce.seed_people,
    qualification.seed_guides,
    qualification.seed_gold,
    qualification.seed_quizzes,
    qualification.seed_attempts,
    work.seed_project,
    boxes.seed_box_project,
    quality.seed_quality,
    operations.seed_drift,
    pay.seed_rates,
    pay.seed_periods,
    operations.seed_flags,
    operations.seed_webhook,
    operations.seed_expiring,
)

# The closing report, in order: each part's lines, given the seed and the server's base URL.
REPORTS: tuple[Callable[[DemoSeed, str], list[str]], ...] = (
    workforce.report,
    qualification.report,
    quality.report,
    pay.report,
    boxes.report,
    operations.report,
)


def run(base_url: str | None = None) -> DemoSeed:
    """Every step, in order; the shared state, for the report. ``base_url``: where the server
    will listen (the demo's webhook endpoint points at its receiver there)."""
    seed = DemoSeed() if base_url is None else DemoSeed(base_url=base_url.rstrip("/"))
    for step in STEPS:
        step(seed)
    return seed
