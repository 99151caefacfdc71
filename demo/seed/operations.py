"""The demo's operations loops, run on the demo data through the services, so the operations
landing page (``/admin/``) has something real in every panel:

- **drift**: flight F5 (``demo.seed.survey.F5_PHOTOS``: forty photos, most of a woodpecker's
  holes) is imported into the demo project as its third batch, labeled through claim and submit
  (``demo.seed.work.label_next``) nine to eleven days ago and decided (a disagreement resolved
  by the senior labeler), then the drift sweep runs as its beat job would have after the last
  decision: it records the batch's ``DriftEvent`` and fires the project's ``label_drift`` warn
  rule. The baseline is what batches 1 and 2 left decided (about fifty tasks: more than the
  thirty the test needs), so nothing else of the half-done project is touched.
- **flags**: a Northwind labeler (the one whose flag ``pay`` tells of) flags a label of his
  with a question; the senior answers it from the review queue, proposing a guide change, and
  ops link the answer to guide 1.1 (the published version whose rust-and-stains section
  answers it); a second flag is left open, so the review backlog shows one.
- **webhooks**: Northwind's endpoint, pointing at the demo's own receiver
  (``demo.views.webhook_receiver``, at the seed's ``--base-url``), made before the events below,
  so their deliveries are in the delivery log (failed and waiting for their retry while the
  server is not running yet: redeliver them from the admin once it is).
- **expiring qualification**: a Northwind labeler's qualification on trial, granted by ops 25
  days ago for 30 days: on the landing page's 14-day panel, and the 7-day notice (mail and
  webhook) is sent by the daily job's service.

Vendor control is not shown with a suspended vendor: both demo vendors' labelers carry the rest
of the story, and the demo has no third vendor (the admin's vendor page shows the buttons).

The drift batch runs before ``pay`` (its labels lie in weeks pay settles); the rest after it
(pay's senior works the review queue, which would answer the open flag). Idempotent: the batch
is found by its source, the rule by its name, the flags by their question, the endpoint by its
vendor and description, the trial grant by its reason; the sweep and the expiry notice record
nothing twice.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils import timezone

from assignments.models import Batch, DriftEvent, Project, Review, Task
from assignments.services import drift
from assignments.services import imports as import_services
from assignments.services import review as reviews
from demo.seed.survey import F5_PHOTOS, f5_truth, north_external_id, north_payload
from demo.seed.work import DEMO_PROJECT, Labeling, label_next
from notifications import services as notify
from notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from qc.models import GuideVersion, QualityRule
from qc.services import rules
from workforce import services as workforce_services
from workforce.models import Labeler, Qualification, Vendor

if TYPE_CHECKING:
    from demo.seed import DemoSeed

log = logging.getLogger(__name__)

SENIOR = "senior"

# -- drift -------------------------------------------------------------------------------------

F5_SOURCE = "drone flight F5"
F5_NOTE = "Coastal feeder line through the pine woods (flown after the spring survey)"
F5_PRIORITY = 20  # above the survey's tasks (0-9): the team labels the new flight first
F5_DAYS_AGO = (11, 9)  # the batch was labeled between these days before now
DRIFT_RULE = {
    "name": "Batch label drift (p below 0.001): warn",
    "action": "warn",
    "metric": "label_drift",
    "threshold": "0.001",
}


def _f5_rows() -> str:
    return "\n".join(
        json.dumps({"external_id": north_external_id(p), **north_payload(p), "priority": 20})
        for p in F5_PHOTOS
    )


def _truth(photo: int, classes: list[str]) -> str:
    return f5_truth(photo)


def _senior() -> Labeler | None:
    return Labeler.objects.filter(user__username=SENIOR, status=Labeler.Status.ACTIVE).first()


def _resolve_batch_reviews(seed: DemoSeed, batch: Batch, senior: Labeler, now) -> None:
    """The senior answers the batch's disagreements (the photo's true class: they are right)."""
    project_id = batch.project_id
    while (
        claim := reviews.review_claim_next(reviewer=senior, project_id=project_id, now=now)
    ) is not None:
        task = claim.review.task
        if task.batch_id != batch.pk:
            break  # not ours: left for the queue
        photo = int(str(task.payload["image_url"]).rsplit("/", 1)[1].split(".")[0])
        reviews.review_resolve(
            reviewer=senior,
            review_id=claim.review.pk,
            answer=f5_truth(photo),
            note="Holes in a row at head height, fresh chips at the foot: a woodpecker."
            if f5_truth(photo) == "woodpecker"
            else "Compared with the guide's examples; the majority missed it.",
            now=now + timedelta(minutes=2),
        )
        seed.created["resolved reviews"] += 1


def seed_drift(seed: DemoSeed) -> None:
    """Flight F5 imported as the demo project's third batch, labeled and decided nine to eleven
    days ago, the project's ``label_drift`` warn rule, and the drift sweep run as it would have
    been after the batch's last decision."""
    project = Project.objects.get(slug=DEMO_PROJECT)
    if not QualityRule.objects.filter(project_id=project.pk, name=DRIFT_RULE["name"]).exists():
        rules.rule_create(actor=seed.ops, project_id=project.pk, **DRIFT_RULE)
        seed.created["quality rules"] += 1
    else:
        seed.existing["quality rules"] += 1
    batch = seed.ensure(
        "batches",
        Batch.objects.filter(project=project, source=F5_SOURCE).first(),
        lambda: Batch.objects.get(
            pk=import_services.tasks_import(
                actor=seed.ops,
                project=project,
                data=_f5_rows(),
                file_format="jsonl",
                source=F5_SOURCE,
                note=F5_NOTE,
                priority=F5_PRIORITY,
            ).batch.pk
        ),
    )
    undecided = Task.objects.filter(batch=batch, decided_at__isnull=True)
    now = timezone.now()
    start, end = (now - timedelta(days=d) for d in F5_DAYS_AGO)
    senior = _senior()
    if undecided.exists() and senior is not None:
        workers = list(
            Labeler.objects.select_related("user")
            .filter(status=Labeler.Status.ACTIVE)
            .order_by("id")
        )
        labeling = Labeling.of(seed, project, rng=random.Random(20261204), truth=_truth)
        open_slots = Task.objects.filter(batch=batch, state=Task.State.OPEN)
        # About 80 labels and 25 control labels over two days; a resumed run starts afresh.
        clock, step = start, (end - start) / 120
        while undecided.exists() and clock < end:
            progressed = False
            for labeler in workers:
                if not open_slots.exists():
                    break  # the rest of the round would label the older batches
                if label_next(seed, labeling, labeler, now=clock) is not None:
                    progressed = True
                    clock = min(clock + step, end)
            _resolve_batch_reviews(seed, batch, senior, clock)
            if not progressed:
                break
    if not DriftEvent.objects.filter(batch=batch).exists():
        last = (
            Task.objects.filter(batch=batch, decided_at__isnull=False)
            .order_by("-decided_at")
            .values_list("decided_at", flat=True)
            .first()
        )
        if last is not None:
            # The beat job's run after the batch's last decision (every 15 minutes).
            seed.created["drift events"] += drift.drift_sweep(now=last + timedelta(minutes=15))
    else:
        seed.existing["drift events"] += 1


# -- flags, the webhook endpoint, the expiring qualification -------------------------------------

FLAGGER = "pedro.almeida"  # Northwind; his flags at /labeler/flags/ (pay's flag is his too)
ANSWERED_QUESTION = (
    "Orange streaks run down the wood from under the crossarm bolt, but the bolt itself looks "
    "sound. Is this rust, or a stain (ok)?"
)
ANSWER_NOTE = (
    "A stain: run-off under a sound bolt is ok; rust is rough and flaking on the metal itself. "
    "The guide should show this case next to its rust examples."
)
OPEN_QUESTION = (
    "Two holes near the top of the pole, but they are round and evenly spaced like bolt holes. "
    "Woodpecker or ok?"
)

WEBHOOK_PATH = "/demo/webhook-receiver/"
WEBHOOK_DESCRIPTION = "Demo receiver (this server's /demo/webhook-receiver/)"

TRIAL_LABELER = "sofia.pereira"  # Northwind
TRIAL_REASON = "Trial on the hardware boxes for 30 days; ops decide on a full grant."
TRIAL_DAYS, TRIAL_AGO = 30, 25  # expires in 5 days


def _flag_target(labeler: Labeler, project: Project, senior: Labeler, decided: str) -> int | None:
    """Her oldest submitted real label on a task decided ``decided`` that no review touched and
    the senior did not label (a reviewer never reviews their own task): the flag's answer
    agrees with the decision, so it overturns nothing."""
    return (
        labeler.assignments.filter(
            project=project,
            is_control=False,
            status="submitted",
            task__final_answer=decided,
            task__reviews__isnull=True,
        )
        .exclude(task__assignments__labeler=senior)
        .order_by("submitted_at", "id")
        .values_list("pk", flat=True)
        .first()
    )


def seed_flags(seed: DemoSeed) -> None:
    """A flag answered by the senior from the review queue (proposing a guide change) and
    linked by ops to the latest published version of the project's guide (1.1, whose rust and
    stains section answers it); a second flag left open in the review queue."""
    project = Project.objects.get(slug=DEMO_PROJECT)
    flagger = Labeler.objects.filter(user__username=FLAGGER).first()
    senior = _senior()
    if flagger is None or senior is None:
        return
    answered = Review.objects.filter(kind=Review.Kind.FLAG, question=ANSWERED_QUESTION).first()
    target = _flag_target(flagger, project, senior, "ok") if answered is None else None
    if answered is not None:
        seed.existing["flags"] += 1
    elif target is not None:
        flag = reviews.assignment_flag(
            labeler=flagger, assignment_id=target, question=ANSWERED_QUESTION
        ).review
        seed.created["flags"] += 1
        answered = flag
    if answered is not None and answered.status != Review.Status.RESOLVED:
        claim = reviews.review_claim_next(reviewer=senior, project_id=project.pk)
        if claim is not None and claim.review.pk == answered.pk:
            reviews.review_resolve(
                reviewer=senior,
                review_id=answered.pk,
                answer="ok",
                note=ANSWER_NOTE,
                proposes_guide_change=True,
            )
            seed.created["resolved reviews"] += 1
        answered = Review.objects.get(pk=answered.pk)
    if answered is not None and answered.status == Review.Status.RESOLVED:
        version = (
            GuideVersion.objects.filter(
                guide_id=project.guide_id, status=GuideVersion.Status.PUBLISHED
            )
            .order_by("-major", "-minor")
            .first()
        )
        if version is not None and answered.guide_version_id != version.pk:
            reviews.flag_link_guide_version(
                actor=seed.ops, review_id=answered.pk, guide_version_id=version.pk
            )
            seed.created["flags linked to a guide version"] += 1
    if Review.objects.filter(kind=Review.Kind.FLAG, question=OPEN_QUESTION).exists():
        seed.existing["flags"] += 1
    elif (target := _flag_target(flagger, project, senior, "woodpecker")) is not None:
        reviews.assignment_flag(labeler=flagger, assignment_id=target, question=OPEN_QUESTION)
        seed.created["flags"] += 1


def seed_webhook(seed: DemoSeed) -> None:
    """Northwind's webhook endpoint, pointing at the demo receiver at the seed's base URL."""
    vendor = Vendor.objects.get(slug="northwind")
    found = WebhookEndpoint.objects.filter(vendor=vendor, description=WEBHOOK_DESCRIPTION).first()
    if found is not None:
        seed.existing["webhook endpoints"] += 1
        return
    try:
        notify.webhook_endpoint_create(
            actor=seed.managers.get("northwind") or seed.ops,
            vendor=vendor,
            url=seed.base_url.rstrip("/") + WEBHOOK_PATH,
            description=WEBHOOK_DESCRIPTION,
        )
    except ValidationError as exc:
        # WEBHOOK_ALLOW_PRIVATE off (a forced run without DEBUG): no endpoint on localhost.
        log.warning("demo webhook endpoint not created: %s", exc)
        return
    seed.created["webhook endpoints"] += 1


def seed_expiring(seed: DemoSeed) -> None:
    """A Northwind labeler's trial grant of the box qualification, 25 days ago for 30 days,
    and the daily expiry notice (its mail and Northwind's webhook delivery)."""
    labeler = Labeler.objects.filter(user__username=TRIAL_LABELER).first()
    qtype = Project.objects.get(slug="pole-hardware").required_qualifications.first()
    if labeler is None or qtype is None:
        return
    seed.ensure(
        "trial qualification grants",
        Qualification.objects.filter(labeler=labeler, reason=TRIAL_REASON).first(),
        partial(
            workforce_services.qualification_grant,
            actor=seed.ops,
            labeler=labeler,
            qualification_type=qtype,
            source=Qualification.Source.MANUAL,
            valid_days=TRIAL_DAYS,
            reason=TRIAL_REASON,
            now=timezone.now() - timedelta(days=TRIAL_AGO),
        ),
    )
    sent = notify.qualification_expiry_notify()
    if sent:
        seed.created["expiry notices"] += sent


def report(seed: DemoSeed, base: str) -> list[str]:
    """Where the operations loops show: the landing page, the drift event, the flags, the
    webhook delivery log."""
    event = DriftEvent.objects.select_related("batch").order_by("id").first()
    answered = Review.objects.filter(kind=Review.Kind.FLAG, question=ANSWERED_QUESTION).first()
    open_flag = Review.objects.filter(kind=Review.Kind.FLAG, question=OPEN_QUESTION).first()
    deliveries = WebhookDelivery.objects.filter(vendor__slug="northwind").count()
    lines = [
        "",
        "Operations (as ops):",
        f"  what needs attention today: {base}/admin/ (projects, review backlog, rule firings, "
        "gold, drift, expiring qualifications, failed work)",
    ]
    if event is not None:
        lines.append(
            f"  label drift in batch {event.batch_id} ({F5_SOURCE}, mostly woodpecker): "
            f"p = {event.p_value:.2g}, {event.action or 'recorded'}: "
            f"{base}/admin/assignments/driftevent/{event.pk}/change/ (acknowledge it with the "
            f"list's action, {base}/admin/assignments/driftevent/)"
        )
    if answered is not None:
        lines.append(
            f"  a flag answered by {SENIOR} proposing a guide change, linked to guide "
            f"{answered.guide_version.number if answered.guide_version else '(none)'}: "
            f"{base}/admin/assignments/review/{answered.pk}/change/; as {FLAGGER} (same "
            f"password) {base}/labeler/flags/ or GET {base}/api/v1/me/flags/"
        )
    if open_flag is not None:
        lines.append(
            f"  an open flag in the review queue: {base}/admin/assignments/review/"
            "?kind=flag&status=open"
        )
    lines.append(
        f"  {TRIAL_LABELER}'s trial qualification expires within {TRIAL_DAYS - TRIAL_AGO} days "
        f"(the 7-day notice went out); mails sent: {base}/admin/notifications/notification/ "
        f"({Notification.objects.count()} logged; the console shows them)"
    )
    if WebhookEndpoint.objects.filter(description=WEBHOOK_DESCRIPTION).exists():
        waiting = WebhookDelivery.objects.filter(
            vendor__slug="northwind", status=WebhookDelivery.Status.PENDING
        ).count()
        lines.append(
            f"  Northwind's webhooks go to {base}{WEBHOOK_PATH} (the demo receiver checks the "
            f"signature): {deliveries} in the delivery log {base}/admin/notifications/"
            "webhookdelivery/"
            + (
                f", {waiting} waiting for a retry (no server was listening while seeding): once "
                "it runs, select them there and choose 'Redeliver selected deliveries'"
                if waiting
                else ""
            )
        )
    else:
        lines.append(
            "  no demo webhook endpoint: WEBHOOK_ALLOW_PRIVATE is off (docs/notifications.md)"
        )
    return lines
