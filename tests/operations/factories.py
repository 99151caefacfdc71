"""A world for the landing page's tests: ``scale`` copies of a project in mid-flight with its
reviews, rule firings, gold, drift, qualifications and failed tasks, each with known figures
(``Expected``), written directly with the ORM as facts to read (the services that make them are
tested in their own apps). ``scale`` multiplies every list, so the query pin can compare a small
page with a larger one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from assignments.models import Assignment, Batch, DriftEvent, Project, Review, Task
from health.models import FailedTask
from qc.models import GoldCheck, GoldItem, QualityRule, RuleFiring
from tests.assignments.factories import make_project
from tests.factories import make_labeler
from tests.qc.factories import make_gold_item, make_gold_set, make_rule
from workforce.models import Labeler, Qualification, QualificationType

TASKS = 20
DONE_RECENT = 3  # done within the last 24 hours
DONE_EARLIER = 3  # done three days ago
IN_REVIEW = 2
LEASED = 2

K = Review.Kind
RS = Review.Status


@dataclass
class Expected:
    """What the page must show for a world of ``scale``."""

    scale: int
    projects: list[Project]
    stalled: Project
    labelers: list[Labeler]

    # per busy project
    total = TASKS
    done = DONE_RECENT + DONE_EARLIER
    done_24h = DONE_RECENT
    review = IN_REVIEW
    leased = LEASED
    open = TASKS - DONE_RECENT - DONE_EARLIER - IN_REVIEW

    # backlog, per kind (each busy project adds one of each row below)
    @property
    def backlog(self) -> dict[str, dict[str, int]]:
        s = self.scale
        return {
            K.DISAGREEMENT: {"total": 2 * s, "older_24h": s, "older_72h": s, "open": 2 * s},
            K.FLAG: {"total": s, "older_24h": s, "older_72h": 0, "for_ops": s, "open": s},
            K.AUDIT: {"total": s, "older_24h": s, "older_72h": s, "leased": s, "open": 0},
            K.GOLD: {"total": s, "older_24h": 0, "older_72h": 0, "open": s},
        }

    @property
    def stops(self) -> dict[str, int]:
        return {"total": 2 * self.scale, "paused": self.scale, "suspended": self.scale}

    @property
    def gold(self) -> dict[str, int]:
        return {"quarantined": self.scale, "contested": self.scale, "open_contests": 2 * self.scale}

    @property
    def drift(self) -> int:
        return self.scale

    @property
    def expiring(self) -> int:
        return self.scale

    @property
    def failed(self) -> int:
        return 2 * self.scale


_n = iter(range(1, 10**9))


def _labeler(first: str, last: str) -> Labeler:
    labeler = make_labeler(username=f"{first.lower()}{next(_n)}")
    user = labeler.user
    user.first_name, user.last_name = first, last
    user.save(update_fields=["first_name", "last_name"])
    return labeler


def _busy_project(k: int, now: datetime, labelers: list[Labeler], name: str) -> Project:
    project = make_project(tasks=TASKS, slug=f"poles-{k}", name=name, priority=k)
    ids = list(Task.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    recent, earlier = ids[:DONE_RECENT], ids[DONE_RECENT : DONE_RECENT + DONE_EARLIER]
    review = ids[DONE_RECENT + DONE_EARLIER : DONE_RECENT + DONE_EARLIER + IN_REVIEW]
    open_ids = ids[DONE_RECENT + DONE_EARLIER + IN_REVIEW :]
    done = {
        "state": Task.State.RESOLVED,
        "is_open": False,
        "submitted": 2,
        "decided_by": "consensus",
    }
    done["final_answer"] = "ok"
    Task.objects.filter(pk__in=recent).update(decided_at=now - timedelta(hours=2), **done)
    Task.objects.filter(pk__in=earlier).update(decided_at=now - timedelta(days=3), **done)
    Task.objects.filter(pk__in=review).update(state=Task.State.REVIEW, is_open=False, submitted=2)

    def lease(task_id: int, labeler: Labeler, expires: timedelta, **extra) -> Assignment:
        return Assignment.objects.create(
            task_id=task_id,
            project=project,
            labeler=labeler,
            leased_at=now - timedelta(minutes=5),
            expires_at=now + expires,
            **extra,
        )

    for i in range(LEASED):
        lease(open_ids[i], labelers[i], timedelta(minutes=10))
    lease(open_ids[2], labelers[3], timedelta(minutes=-1))  # expired: not counted

    def submission(task_id: int) -> Assignment:
        return lease(
            task_id,
            labelers[2],
            timedelta(minutes=10),
            status="submitted",
            submitted_at=now,
            answer="ok",
        )

    submitted, flagged, audited = (submission(t) for t in (review[0], review[1], recent[0]))

    def review_row(task_id: int, kind: str, hours: float, **extra) -> Review:
        row = Review.objects.create(task_id=task_id, project=project, kind=kind, **extra)
        Review.objects.filter(pk=row.pk).update(created_at=now - timedelta(hours=hours))
        return row

    review_row(review[0], K.DISAGREEMENT, 2)
    review_row(review[1], K.DISAGREEMENT, 97)
    review_row(review[1], K.FLAG, 30, assignment=flagged, question="Is this rust?", for_ops=True)
    review_row(
        recent[0],
        K.AUDIT,
        80,
        assignment=audited,
        audit_week=date(2026, 11, 23),
        status=RS.LEASED,
        reviewer=labelers[3],
        leased_at=now - timedelta(minutes=3),
        expires_at=now + timedelta(minutes=10),
    )
    review_row(review[0], K.GOLD, 10, assignment=submitted)
    # Resolved: not in the backlog.
    review_row(
        recent[1],
        K.AUDIT,
        200,
        assignment=submission(recent[1]),
        audit_week=date(2026, 11, 16),
        status=RS.RESOLVED,
        reviewer=labelers[3],
        answer="ok",
        resolved_at=now - timedelta(hours=100),
    )
    return project


def _firings(project: Project, now: datetime, labelers: list[Labeler]) -> None:
    inputs = {
        "metric": "gold_accuracy",
        "n": 20,
        "successes": 12,
        "rate": 0.6,
        "lower": 0.387,
        "upper": 0.781,
        "window": 20,
        "min_n": 10,
        "threshold": "0.800",
        "bound": "upper",
        "comparison": "below",
        "value": 0.781,
    }
    rules = {
        action: make_rule(action, project_id=project.pk, name=f"Gold floor ({action}) {project.pk}")
        for action in (
            QualityRule.Action.PAUSE_ON_PROJECT,
            QualityRule.Action.SUSPEND,
            QualityRule.Action.WARN,
        )
    }

    def fire(action: str, labeler: Labeler, days: float, **extra) -> None:
        at = now - timedelta(days=days)
        RuleFiring.objects.create(
            rule=rules[action],
            labeler=labeler,
            project_id=project.pk,
            action=action,
            inputs=inputs,
            fired_at=at,
            as_of=at,
            **extra,
        )

    fire(QualityRule.Action.PAUSE_ON_PROJECT, labelers[0], 2)
    fire(QualityRule.Action.SUSPEND, labelers[1], 1, status=RuleFiring.Status.REVERSED)
    fire(QualityRule.Action.PAUSE_ON_PROJECT, labelers[1], 10, status="cleared")  # too old
    fire(QualityRule.Action.WARN, labelers[2], 1)  # not a stop


def _gold(k: int, project: Project, now: datetime, labeler: Labeler) -> None:
    gold_set = make_gold_set(slug=f"landing-gold-{k}")
    quarantined = make_gold_item(gold_set, external_id=f"g{k}-quarantined")
    contested = make_gold_item(gold_set, external_id=f"g{k}-contested")
    fine = make_gold_item(gold_set, external_id=f"g{k}-fine")
    GoldItem.objects.filter(pk=quarantined.pk).update(status=GoldItem.Status.QUARANTINED)
    for i, (item, contest) in enumerate(
        ((contested, "open"), (contested, "open"), (fine, "upheld"), (fine, ""))
    ):
        GoldCheck.objects.create(
            labeler=labeler,
            gold_item=item,
            project_id=project.pk,
            assignment_id=10_000_000 + 100 * k + i,
            answer="rust",
            correct=False,
            checked_at=now - timedelta(days=2),
            contest=contest,
        )


def _drift(project: Project, now: datetime) -> None:
    for acknowledged in (None, now):
        batch = Batch.objects.create(project=project, source=f"upload-{next(_n)}.jsonl")
        DriftEvent.objects.create(
            project=project,
            batch=batch,
            statistic=31.4,
            dof=2,
            p_value=1.5e-7,
            n=400,
            baseline_n=2000,
            observed={"ok": 300, "crack": 60, "rust": 40},
            expected={"ok": 0.6, "crack": 0.25, "rust": 0.15},
            detected_at=now - timedelta(hours=5),
            acknowledged_at=acknowledged,
        )


def _qualifications(k: int, now: datetime, labelers: list[Labeler]) -> None:
    kind = QualificationType.objects.create(slug=f"poles-boxes-{k}", name=f"Pole boxes {k}")

    def grant(labeler: Labeler, expires: timedelta, **extra) -> None:
        Qualification.objects.create(
            labeler=labeler,
            qualification_type=kind,
            source="manual",
            granted_at=now - timedelta(days=80),
            expires_at=now + expires,
            **extra,
        )

    grant(labelers[0], timedelta(days=5))  # shown
    grant(labelers[1], timedelta(days=20))  # too far
    grant(labelers[2], timedelta(days=3), revoked_at=now)  # revoked
    grant(labelers[3], timedelta(days=-1))  # expired already


def _failed(k: int, now: datetime) -> None:
    def fail(name: str, hours: float, **extra) -> None:
        FailedTask.objects.create(
            task_id=f"t-{k}-{next(_n)}",
            task_name=name,
            args=[k],
            exception="OperationalError('server closed the connection')",
            failed_at=now - timedelta(hours=hours),
            **extra,
        )

    fail("assignments.tasks.consensus_sweep", 3)
    fail(f"notifications.tasks.webhook_send_{k}", 1)
    fail("assignments.tasks.consensus_sweep", 30, retried_at=now)  # retried


def named_labelers() -> list[Labeler]:
    """Four active labelers with full names (Ana Silva, Bruno Costa, Carla Dias, Duarte Reis)."""
    return [
        _labeler(first, last)
        for first, last in (
            ("Ana", "Silva"),
            ("Bruno", "Costa"),
            ("Carla", "Dias"),
            ("Duarte", "Reis"),
        )
    ]


def busy_project_with_attention(
    k: int, *, now: datetime, labelers: list[Labeler], name: str = ""
) -> Project:
    """Busy project ``k`` (named ``name``, else ``Pole inspection k``) and, around it, one copy
    of every row the landing page counts: reviews, firings, gold, drift, grants and failed
    tasks."""
    project = _busy_project(k, now, labelers, name or f"Pole inspection {k}")
    _firings(project, now, labelers)
    _gold(k, project, now, labelers[3])
    _drift(project, now)
    _qualifications(k, now, labelers)
    _failed(k, now)
    return project


def landing_world(*, scale: int, now: datetime) -> Expected:
    """``scale`` busy projects with everything that needs attention around them, a stalled
    project (no progress in 24 h) and a paused one (not shown)."""
    labelers = named_labelers()
    projects = [
        busy_project_with_attention(k, now=now, labelers=labelers) for k in range(1, scale + 1)
    ]
    stalled = make_project(tasks=5, slug="stalled", name="Stalled survey")
    make_project(tasks=5, slug="paused", name="Paused survey", status=Project.Status.PAUSED)
    return Expected(scale=scale, projects=projects, stalled=stalled, labelers=labelers)
