"""Reads of the control set check: do a project's control tasks look like its real tasks, and is
its control gold set also taught by a quiz that shows answers (docs/next-task.md, "Control tasks
that look like real ones").

The comparison itself is ``qc.payload_shape`` (pure); this module reads what it compares, with
bounded work whatever the size of the project:

* the real side is a sample of at most ``REAL_SAMPLE`` real tasks' payloads — the oldest half
  and the newest half by id, two indexed queries — so the first batches and the latest import
  are both in it;
* the control side is what labelers would be served: the payload of each control task the
  project already has for an active gold item of its set (a control task keeps the payload it
  was made with), and the payload of each active gold item that has none yet — at most
  ``CONTROL_LIMIT`` items (first by id; the report says how many were checked).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Subquery

from assignments.models import Project, Task
from qc.control_sets import SHAPES_DIFFER, SHOWS_ANSWERS
from qc.models import GoldItem, Quiz
from qc.payload_shape import Profile, ShapeReport, compare

REAL_SAMPLE = 1_000
CONTROL_LIMIT = 5_000

# The quizzes that show a labeler the answers of the gold items they draw. Training quizzes
# give each question's accepted answers as feedback; qualification quizzes show a score only.
ANSWER_SHOWING_KINDS = (Quiz.Kind.TRAINING,)


def real_payload_sample(*, project_id: int, n: int = REAL_SAMPLE) -> list[Any]:
    """Up to ``n`` payloads of real tasks of the project: the oldest ``n // 2`` and the newest
    ``n - n // 2`` by id (all of them when the project has at most ``n``). Two queries."""
    real = Task.objects.filter(project_id=project_id, gold_item__isnull=True)
    oldest = list(real.order_by("id").values_list("id", "payload")[: n // 2])
    newest = list(real.order_by("-id").values_list("id", "payload")[: n - n // 2])
    seen: set[int] = set()
    payloads = []
    for pk, payload in (*oldest, *newest):
        if pk not in seen:
            seen.add(pk)
            payloads.append(payload)
    return payloads


def control_payloads(
    *, project_id: int, gold_set_id: int, limit: int = CONTROL_LIMIT
) -> list[tuple[str, Any]]:
    """``(gold item external id, payload as served)`` for the active items of the gold set, at
    most ``limit``, in item id order: a control task's payload where the project has one, the
    item's own otherwise. Two queries."""
    active = GoldItem.objects.filter(gold_set_id=gold_set_id, status=GoldItem.Status.ACTIVE)
    made = Task.objects.filter(project_id=project_id, gold_item__in=active)
    served = list(
        made.order_by("gold_item_id").values_list(
            "gold_item_id", "gold_item__external_id", "payload"
        )[:limit]
    )
    rest = list(
        active.exclude(pk__in=Subquery(made.values("gold_item_id")))
        .order_by("id")
        .values_list("id", "external_id", "payload")[: max(0, limit - len(served))]
    )
    rows = sorted((*served, *rest), key=lambda r: r[0])
    return [(external_id, payload) for _, external_id, payload in rows]


def control_set_report(*, project: Project) -> ShapeReport | None:
    """The project's control payloads compared with its real tasks (``qc.payload_shape``), or
    None when it has no control gold set. Four queries; reads no lock."""
    if project.control_gold_set_id is None:
        return None
    profile = Profile()
    for payload in real_payload_sample(project_id=project.pk):
        profile.add(payload)
    controls = control_payloads(project_id=project.pk, gold_set_id=project.control_gold_set_id)
    return compare(profile, controls)


def controls_on(project: Project) -> bool:
    """The project serves control tasks: a control ratio above 0 and a control gold set."""
    return project.control_gold_set_id is not None and project.control_ratio > 0


def override_covers(project: Project, report: ShapeReport | None) -> bool:
    """The project's override accepts every difference of ``report``: it was given for the
    project's current control gold set, and the report finds no difference it did not list."""
    accepts = project.control_override_accepts
    if not accepts or report is None:
        return False
    return accepts.get("gold_set") == project.control_gold_set_id and report.signatures() <= set(
        accepts.get("signatures", ())
    )


def stored_report(project: Project) -> ShapeReport | None:
    """The last report the control check stored on the project, if any."""
    if project.control_check is None or project.control_gold_set_id is None:
        return None
    return ShapeReport.from_dict(project.control_check)


@dataclass(frozen=True)
class AnswerShowingQuiz:
    gold_set_id: int
    slug: str
    title: str
    is_active: bool


def quizzes_showing_answers(*, gold_set_ids: Iterable[int]) -> dict[int, list[AnswerShowingQuiz]]:
    """Per gold set, the quizzes drawn from it that show labelers the answers (training
    quizzes), active or not (a quiz switched off has already taught what it showed). One
    query."""
    ids = {pk for pk in gold_set_ids if pk is not None}
    found: dict[int, list[AnswerShowingQuiz]] = {}
    if not ids:
        return found
    rows = (
        Quiz.objects.filter(gold_set_id__in=ids, kind__in=ANSWER_SHOWING_KINDS)
        .order_by("gold_set_id", "title", "id")
        .values_list("gold_set_id", "slug", "title", "is_active")
    )
    for gold_set_id, slug, title, is_active in rows:
        found.setdefault(gold_set_id, []).append(
            AnswerShowingQuiz(gold_set_id, slug, title, is_active)
        )
    return found


def _shows_answers_warning(project: Project, quizzes: list[AnswerShowingQuiz]) -> dict[str, str]:
    named = ", ".join(
        f"{q.title} ({q.slug}{'' if q.is_active else ', inactive'})" for q in quizzes[:5]
    )
    more = f" and {len(quizzes) - 5} more" if len(quizzes) > 5 else ""
    return {
        "code": SHOWS_ANSWERS,
        "message": (
            f"The control gold set is also used by {len(quizzes)} quiz(zes) that show labelers "
            f"the answers: {named}{more}. Labelers who took them may know these control "
            "answers (no labeler is served a control item they were shown, but the set is "
            "smaller for them). Use a separate gold set for training unless this is chosen "
            "knowingly."
        ),
    }


def _shapes_warning(project: Project, report: ShapeReport) -> dict[str, str]:
    if project.status == Project.Status.ACTIVE:
        consequence = (
            "The project is active: labelers can tell these control tasks apart. Pause it, fix "
            "the gold items or the tasks, or override with a reason."
        )
    else:
        consequence = "Activation is refused until they match or an override gives a reason."
    return {"code": SHAPES_DIFFER, "message": f"{report.summary()} {consequence}"}


def project_control_warnings_many(
    projects: Iterable[Project], *, reports: dict[int, ShapeReport | None] | None = None
) -> dict[int, list[dict[str, str]]]:
    """Warnings for operations about each project's control tasks (``code``, ``message``):

    * ``control_set_shows_answers`` — the control gold set is also drawn from by a quiz that
      shows answers (whether or not the project serves controls now);
    * ``control_tasks_differ`` — the project serves control tasks, its last control check
      found differences, and no override accepts them.

    One query for all the projects (the quizzes); the check is the one stored on each project
    unless ``reports`` gives a fresher one.
    """
    projects = list(projects)
    quizzes = quizzes_showing_answers(gold_set_ids=(p.control_gold_set_id for p in projects))
    out: dict[int, list[dict[str, str]]] = {}
    for project in projects:
        warnings: list[dict[str, str]] = []
        shown = quizzes.get(project.control_gold_set_id)
        if shown:
            warnings.append(_shows_answers_warning(project, shown))
        report = (reports or {}).get(project.pk) or stored_report(project)
        if (
            report is not None
            and not report.ok
            and controls_on(project)
            and not override_covers(project, report)
        ):
            warnings.append(_shapes_warning(project, report))
        out[project.pk] = warnings
    return out


def project_control_warnings(
    project: Project, *, report: ShapeReport | None = None
) -> list[dict[str, str]]:
    """``project_control_warnings_many`` for one project (with a fresher ``report``)."""
    return project_control_warnings_many([project], reports={project.pk: report})[project.pk]


@dataclass(frozen=True)
class ControlState:
    """A project's control set, checked now: the report (None without a control gold set),
    whether the override accepts it, and the warnings."""

    report: ShapeReport | None
    overridden: bool
    warnings: list[dict[str, str]]


def project_control_state(*, project: Project) -> ControlState:
    """The control check run now, not stored (a read: the single-project pages show it), with
    the override's coverage and the warnings. Five queries."""
    report = control_set_report(project=project)
    return ControlState(
        report=report,
        overridden=override_covers(project, report),
        warnings=project_control_warnings(project, report=report),
    )


def projects_using_control_set(*, gold_set_id: int) -> list[Project]:
    """The projects, not done, that draw control tasks from the gold set (or have it attached
    with a control ratio of 0), by name. One query."""
    return list(
        Project.objects.filter(control_gold_set_id=gold_set_id)
        .exclude(status=Project.Status.DONE)
        .order_by("name", "id")
    )
