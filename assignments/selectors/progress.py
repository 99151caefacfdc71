"""Progress of projects and batches, counted when asked — never kept as counters.

For a page of projects (or batches) the counts are correlated sub-selects in the page's own
query, so a list costs one query whatever its length, and each count is an index scan of one
project's (or batch's) rows:

* ``total`` — real tasks (control tasks, which carry a gold item, are never counted);
* ``open`` — tasks still wanting submissions (``is_open``; the partial claim-queue index holds
  exactly these, and only real tasks can be open: a check constraint);
* ``leased`` — live leases now on real tasks (leased and not yet expired);
* ``done`` — tasks complete or resolved;
* ``review`` — tasks in review.

``open`` and ``leased`` overlap: a task with one of two slots leased is both open and leased.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import IntegerField, OuterRef, QuerySet, Subquery
from django.utils import timezone

from assignments.models import Assignment, Batch, Project, Task
from assignments.selectors.projects import project_list_for
from config.errors import NotFound
from workforce.models import User

PROGRESS_FIELDS = ("total", "open", "leased", "done", "review")
DONE_STATES = (Task.State.COMPLETE, Task.State.RESOLVED)


class SubqueryCount(Subquery):
    """``(SELECT COUNT(*) FROM (<queryset>))`` as an integer column of the outer query."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _count)"
    output_field = IntegerField()


def _counts(tasks: QuerySet[Task], leases: QuerySet[Assignment]) -> dict[str, SubqueryCount]:
    real = tasks.filter(gold_item__isnull=True)
    return {
        "progress_total": SubqueryCount(real.values("pk")),
        # No gold_item filter: only real tasks can be open (assignments_task_open_means_slots),
        # and without it the count is an index-only scan of the claim queue.
        "progress_open": SubqueryCount(tasks.filter(is_open=True).values("pk")),
        "progress_leased": SubqueryCount(leases.values("pk")),
        "progress_done": SubqueryCount(real.filter(state__in=DONE_STATES).values("pk")),
        "progress_review": SubqueryCount(real.filter(state=Task.State.REVIEW).values("pk")),
    }


def _live(now: datetime) -> QuerySet[Assignment]:
    return Assignment.objects.filter(
        status=Assignment.Status.LEASED, expires_at__gt=now, is_control=False
    )


def project_progress_annotate(
    queryset: QuerySet[Project], *, now: datetime | None = None
) -> QuerySet[Project]:
    """``queryset`` (already scoped by the caller) with ``progress_total``, ``progress_open``,
    ``progress_leased``, ``progress_done`` and ``progress_review`` on each project."""
    now = now or timezone.now()
    return queryset.annotate(
        **_counts(
            Task.objects.filter(project_id=OuterRef("pk")),
            _live(now).filter(project_id=OuterRef("pk")),
        )
    )


def batch_progress_annotate(
    queryset: QuerySet[Batch], *, now: datetime | None = None
) -> QuerySet[Batch]:
    """``queryset`` with the same ``progress_*`` counts per batch."""
    now = now or timezone.now()
    return queryset.annotate(
        **_counts(
            Task.objects.filter(batch_id=OuterRef("pk")),
            _live(now).filter(task__batch_id=OuterRef("pk")),
        )
    )


@dataclass(frozen=True)
class Progress:
    total: int
    open: int
    leased: int
    done: int
    review: int

    @classmethod
    def of(cls, obj: Project | Batch) -> Progress:
        """From an object annotated by one of the ``*_progress_annotate`` functions."""
        return cls(*(getattr(obj, f"progress_{name}") for name in PROGRESS_FIELDS))


def project_list_with_progress(*, actor: User, now: datetime | None = None) -> QuerySet[Project]:
    """The projects ``actor`` may see (``project_list_for``), each with its progress."""
    return project_progress_annotate(project_list_for(actor=actor), now=now)


def project_progress(*, actor: User, pk: int, now: datetime | None = None) -> Progress:
    """One project's progress, in one query. NotFound when ``actor`` may not see it."""
    project = project_list_with_progress(actor=actor, now=now).filter(pk=pk).first()
    if project is None:
        raise NotFound()
    return Progress.of(project)


def batch_list_with_progress(*, project: Project, now: datetime | None = None) -> QuerySet[Batch]:
    """The batches of ``project`` (which the caller has already fetched through a scoping
    selector), newest first, each with its progress and its creator."""
    return batch_progress_annotate(
        Batch.objects.filter(project_id=project.pk).select_related("created_by"), now=now
    ).order_by("-id")
