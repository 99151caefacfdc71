"""Reads of the operations landing page (the admin index): what needs attention today.

``landing_for(actor=…)`` gathers the panels the actor may see (``operations.permissions``) and
nothing else; each panel is one or two aggregate queries whatever the number of projects,
reviews, firings or grants, so the whole page stays under a fixed count (pinned by
tests/operations/test_landing_queries.py). Lists are cut at ``LIST_LIMIT`` rows; their totals
come from a window count in the same query (``COUNT(*) OVER ()``, taken before the cut).

Every figure here is the count of a filter that an admin changelist can apply, with the
cut-offs below (``Cutoffs``): the page links each figure to that list
(``operations.admin``), and a test checks that the list shows the same number.

Definitions (docs/operations.md, "The landing page"):

* progress — ``assignments.selectors.progress`` (open / leased / done / in review of real
  tasks); *done in 24 h* is the real tasks done (complete or resolved) whose current decision
  was made in the last 24 hours (``Task.decided_at``; a refit that re-decides a task moves it);
  the estimate is ``(total - done) / done in 24 h`` days;
* review backlog — reviews open or leased, by kind, with their age from ``created_at``;
* pauses and suspensions — quality-rule firings whose action paused the labeler on a project
  or suspended them, fired in the last 7 days, whatever became of them since (the status says);
* gold — items quarantined, and items with at least one open contest of a check;
* drift — drift events nobody acknowledged;
* qualifications — grants valid now that expire within 14 days;
* failed work — failed Celery tasks not retried, by task name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import (
    Count,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Window,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from assignments.models import DriftEvent, Project, Review, Task
from assignments.selectors.progress import DONE_STATES, SubqueryCount, project_progress_annotate
from health.models import FailedTask
from operations.permissions import Panel, panels_for
from qc.models import GoldCheck, GoldItem, QualityRule, RuleFiring
from workforce.models import Qualification, User

LIST_LIMIT = 12
SPARK_DAYS = 14
EXPIRY_DAYS = 14
FIRING_DAYS = 7
# The actions of a quality rule that take a labeler off work: the "paused or suspended" panel.
STOPPING_ACTIONS = (QualityRule.Action.PAUSE_ON_PROJECT, QualityRule.Action.SUSPEND)
BACKLOG = (Review.Status.OPEN, Review.Status.LEASED)
# The review backlog's age buckets (hours, label), youngest first; the last is open-ended.
AGE_BUCKETS = ((24, "< 1 day"), (72, "1\u20133 days"), (168, "3\u20137 days"), (None, "> 7 days"))


@dataclass(frozen=True)
class Cutoffs:
    """The moments every figure of one rendering is counted against (whole seconds, so a link
    that repeats one in its query string filters exactly the same rows)."""

    now: datetime

    @classmethod
    def at(cls, now: datetime | None = None) -> Cutoffs:
        return cls((now or timezone.now()).replace(microsecond=0))

    def ago(self, **delta: float) -> datetime:
        return self.now - timedelta(**delta)

    def ahead(self, **delta: float) -> datetime:
        return self.now + timedelta(**delta)

    @property
    def day_ago(self) -> datetime:
        return self.ago(hours=24)

    @property
    def three_days_ago(self) -> datetime:
        return self.ago(hours=72)

    @property
    def week_ago(self) -> datetime:
        return self.ago(days=FIRING_DAYS)

    @property
    def expiry_horizon(self) -> datetime:
        return self.ahead(days=EXPIRY_DAYS)

    @property
    def spark_days(self) -> list[date]:
        """The last ``SPARK_DAYS`` UTC dates, oldest first, today last."""
        today = self.now.astimezone(UTC).date()
        return [today - timedelta(days=i) for i in range(SPARK_DAYS - 1, -1, -1)]


# -- progress ----------------------------------------------------------------------------------


@dataclass
class ProjectRow:
    id: int
    name: str
    total: int
    open: int
    leased: int
    done: int
    review: int
    done_24h: int
    daily: list[int]  # tasks done per UTC day, the last SPARK_DAYS days, oldest first

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.done)

    @property
    def days_left(self) -> float | None:
        """Days to finish at the last 24 hours' rate; None without progress in 24 h."""
        if not self.done_24h:
            return None
        return self.remaining / self.done_24h


def done_tasks() -> QuerySet[Task]:
    """Real tasks done (complete or resolved): the ``done`` of ``progress``."""
    return Task.objects.filter(gold_item__isnull=True, state__in=DONE_STATES)


def progress_rows(cut: Cutoffs) -> list[ProjectRow]:
    """Every active project with its progress, its tasks done in the last 24 hours and per day
    over the last ``SPARK_DAYS`` days, highest priority first. Two queries."""
    projects = list(
        project_progress_annotate(Project.objects.filter(status=Project.Status.ACTIVE), now=cut.now)
        .annotate(
            done_24h=SubqueryCount(
                done_tasks()
                .filter(project_id=OuterRef("pk"), decided_at__gte=cut.day_ago)
                .values("pk")
            )
        )
        .order_by("-priority", "name", "id")
        .values(
            "id",
            "name",
            "done_24h",
            *(f"progress_{n}" for n in ("total", "open", "leased", "done", "review")),
        )
    )
    days = cut.spark_days
    per_day: dict[tuple[int, date], int] = {
        (row["project_id"], row["day"]): row["n"]
        for row in done_tasks()
        .filter(
            project__status=Project.Status.ACTIVE,
            decided_at__gte=datetime.combine(days[0], datetime.min.time(), UTC),
        )
        .annotate(day=TruncDate("decided_at", tzinfo=UTC))
        .order_by()
        .values("project_id", "day")
        .annotate(n=Count("id"))
    }
    return [
        ProjectRow(
            id=p["id"],
            name=p["name"],
            total=p["progress_total"],
            open=p["progress_open"],
            leased=p["progress_leased"],
            done=p["progress_done"],
            review=p["progress_review"],
            done_24h=p["done_24h"],
            daily=[per_day.get((p["id"], d), 0) for d in days],
        )
        for p in projects
    ]


# -- review backlog ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BacklogRow:
    kind: str
    label: str
    total: int
    open: int
    leased: int
    for_ops: int
    older_24h: int
    older_72h: int
    oldest: datetime | None


@dataclass(frozen=True)
class Backlog:
    rows: list[BacklogRow]  # one per kind, in the kinds' order, empty kinds included
    by_age: list[tuple[str, int]]  # (bucket label, reviews), youngest first

    @property
    def total(self) -> int:
        return sum(r.total for r in self.rows)


def review_backlog(cut: Cutoffs) -> Backlog:
    """Reviews open or leased, per kind: how many, how many older than 24 h and 72 h, the
    oldest; and all kinds together by age bucket. One query."""
    bounds = [cut.ago(hours=h) if h else None for h, _ in AGE_BUCKETS]
    buckets = {}
    younger_than = None
    for i, limit in enumerate(bounds):
        q = Q()
        if limit is not None:
            q &= Q(created_at__gte=limit)
        if younger_than is not None:
            q &= Q(created_at__lt=younger_than)
        buckets[f"age_{i}"] = Count("id", filter=q)
        younger_than = limit
    rows = {
        r["kind"]: r
        for r in Review.objects.filter(status__in=BACKLOG)
        .order_by()
        .values("kind")
        .annotate(
            total=Count("id"),
            open=Count("id", filter=Q(status=Review.Status.OPEN)),
            leased=Count("id", filter=Q(status=Review.Status.LEASED)),
            for_ops=Count("id", filter=Q(for_ops=True)),
            older_24h=Count("id", filter=Q(created_at__lt=cut.day_ago)),
            older_72h=Count("id", filter=Q(created_at__lt=cut.three_days_ago)),
            oldest=Min("created_at"),
            **buckets,
        )
    }
    empty: dict[str, Any] = {"oldest": None}
    out = []
    for kind, label in Review.Kind.choices:
        r = rows.get(kind, empty)
        out.append(
            BacklogRow(
                kind=kind,
                label=label,
                **{
                    k: r.get(k, 0)
                    for k in ("total", "open", "leased", "for_ops", "older_24h", "older_72h")
                },
                oldest=r["oldest"],
            )
        )
    by_age = [
        (label, sum(r.get(f"age_{i}", 0) for r in rows.values()))
        for i, (_, label) in enumerate(AGE_BUCKETS)
    ]
    return Backlog(rows=out, by_age=by_age)


# -- lists with their totals -------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """The first ``LIST_LIMIT`` rows of a list, and how many there are in all."""

    rows: list[Any]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


def _listed(queryset: QuerySet, **counts: Any) -> tuple[Listed, dict[str, int]]:
    """``queryset``'s first rows and its total, plus any further ``counts`` (window aggregates
    over the whole filtered queryset, e.g. ``Count("id", filter=…)``), in one query."""
    annotated = queryset.annotate(
        _total=Window(Count("id")), **{f"_{k}": Window(v) for k, v in counts.items()}
    )
    rows = list(annotated[:LIST_LIMIT])
    total = rows[0]._total if rows else 0
    extra = {k: (getattr(rows[0], f"_{k}") if rows else 0) for k in counts}
    return Listed(rows, total), extra


def _project_name() -> Subquery:
    """The name of the project of the outer row's ``project_id`` (a plain column in qc)."""
    return Subquery(Project.objects.filter(pk=OuterRef("project_id")).values("name")[:1])


def stopping_firings(cut: Cutoffs) -> QuerySet[RuleFiring]:
    """Firings that paused or suspended a labeler in the last ``FIRING_DAYS`` days."""
    return RuleFiring.objects.filter(action__in=STOPPING_ACTIONS, fired_at__gte=cut.week_ago)


@dataclass(frozen=True)
class Firings:
    listed: Listed
    paused: int
    suspended: int
    still_open: int


def recent_stops(cut: Cutoffs) -> Firings:
    """The pauses and suspensions of the last 7 days, newest first, with the rule, the labeler
    and their login (for the name), and the project's name. One query."""
    listed, counts = _listed(
        stopping_firings(cut)
        .select_related("rule", "labeler__user")
        .annotate(project_name=_project_name())
        .order_by("-fired_at", "-id"),
        paused=Count("id", filter=Q(action=QualityRule.Action.PAUSE_ON_PROJECT)),
        suspended=Count("id", filter=Q(action=QualityRule.Action.SUSPEND)),
        still_open=Count("id", filter=Q(status=RuleFiring.Status.OPEN)),
    )
    return Firings(listed=listed, **counts)


# -- gold --------------------------------------------------------------------------------------


def _open_contests() -> Exists:
    return Exists(
        GoldCheck.objects.filter(gold_item_id=OuterRef("pk"), contest=GoldCheck.Contest.OPEN)
    )


@dataclass(frozen=True)
class Gold:
    listed: Listed  # items quarantined or contested, most open contests first
    quarantined: int
    contested: int  # items with at least one open contest
    open_contests: int  # open contests over all items


def gold_attention(cut: Cutoffs) -> Gold:
    """Gold items quarantined or with open contests: their counts and the first of them, with
    their set and open contests. Two queries (the list, and the contests over all items)."""
    open_n = Subquery(
        GoldCheck.objects.filter(gold_item_id=OuterRef("pk"), contest=GoldCheck.Contest.OPEN)
        .order_by()
        .values("gold_item_id")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    listed, counts = _listed(
        GoldItem.objects.annotate(contested=_open_contests(), contests_open=open_n)
        .filter(Q(status=GoldItem.Status.QUARANTINED) | Q(contested=True))
        .select_related("gold_set")
        .only("id", "external_id", "status", "gold_set__id", "gold_set__name", "updated_at")
        .order_by(F("contests_open").desc(nulls_last=True), "-updated_at", "-id"),
        quarantined=Count("id", filter=Q(status=GoldItem.Status.QUARANTINED)),
        contested=Count("id", filter=Q(contested=True)),
    )
    open_contests = GoldCheck.objects.filter(contest=GoldCheck.Contest.OPEN).count()
    return Gold(listed=listed, open_contests=open_contests, **counts)


# -- drift, qualifications, failed work ------------------------------------------------------


def drift_unacknowledged() -> QuerySet[DriftEvent]:
    return DriftEvent.objects.filter(acknowledged_at__isnull=True)


def recent_drift() -> Listed:
    """Drift events nobody acknowledged, newest first, with project and batch. One query."""
    listed, _ = _listed(
        drift_unacknowledged()
        .select_related("project", "batch")
        .only(
            "id",
            "p_value",
            "statistic",
            "dof",
            "n",
            "action",
            "detected_at",
            "project__id",
            "project__name",
            "batch__id",
            "batch__source",
        )
        .order_by("-detected_at", "-id")
    )
    return listed


def expiring_qualifications(cut: Cutoffs) -> QuerySet[Qualification]:
    """Grants valid now that expire within ``EXPIRY_DAYS`` days."""
    return Qualification.objects.valid(at=cut.now).filter(expires_at__lt=cut.expiry_horizon)


def soon_expiring(cut: Cutoffs) -> Listed:
    """Those grants, the soonest first, with the labeler's login and the type. One query."""
    listed, _ = _listed(
        expiring_qualifications(cut)
        .select_related("labeler__user", "qualification_type")
        .order_by("expires_at", "id")
    )
    return listed


def failed_open() -> QuerySet[FailedTask]:
    return FailedTask.objects.filter(retried_at__isnull=True)


@dataclass(frozen=True)
class FailedGroup:
    task_name: str
    n: int
    last_failed_at: datetime
    first_failed_at: datetime


@dataclass(frozen=True)
class Failed:
    groups: Listed  # by task name; ``total`` is the number of task names
    failures: int  # failed tasks not retried, all names


def failed_work() -> Failed:
    """Failed tasks not retried, grouped by task name, most recently failing first. One
    query."""
    groups = (
        failed_open()
        .order_by()
        .values("task_name")
        .annotate(n=Count("id"), last=Max("failed_at"), first=Min("failed_at"))
    )
    rows = [
        FailedGroup(g["task_name"], g["n"], g["last"], g["first"])
        for g in sorted(groups, key=lambda g: (-g["last"].timestamp(), g["task_name"]))
    ]
    return Failed(Listed(rows[:LIST_LIMIT], len(rows)), sum(g.n for g in rows))


# -- the page ----------------------------------------------------------------------------------


@dataclass
class Landing:
    cut: Cutoffs
    panels: frozenset[Panel]
    progress: list[ProjectRow] | None = None
    backlog: Backlog | None = None
    stops: Firings | None = None
    gold: Gold | None = None
    drift: Listed | None = None
    expiring: Listed | None = None
    failed: Failed | None = None


def landing_for(*, actor: User, now: datetime | None = None) -> Landing:
    """The landing page's panels that ``actor`` may see (``panels_for``), each computed in a
    fixed number of queries: at most nine in all, none for a panel not shown."""
    cut = Cutoffs.at(now)
    panels = panels_for(actor)
    page = Landing(cut=cut, panels=panels)
    if Panel.PROGRESS in panels:
        page.progress = progress_rows(cut)
    if Panel.BACKLOG in panels:
        page.backlog = review_backlog(cut)
    if Panel.STOPS in panels:
        page.stops = recent_stops(cut)
    if Panel.GOLD in panels:
        page.gold = gold_attention(cut)
    if Panel.DRIFT in panels:
        page.drift = recent_drift()
    if Panel.EXPIRING in panels:
        page.expiring = soon_expiring(cut)
    if Panel.FAILED in panels:
        page.failed = failed_work()
    return page
