"""Writes of the control set check: storing a project's latest check, the gate on serving
control tasks that do not look like real ones, and ops's override of it (docs/next-task.md,
"Control tasks that look like real ones").

* ``project_control_check`` compares the project's control payloads with its real tasks
  (``assignments.selectors.control_set``), stores the report on the project and drops an
  override that no longer accepts every difference found. It runs when a gold set is attached
  as the control set, after a task import into the project, after a gold import into the set
  (for every project that uses it), on activation, and when ops ask for it.
* ``project_control_gate`` is what activation (and attaching a control set to an active
  project) asks: a project that serves control tasks whose payloads differ from its real
  tasks' is refused — ``Conflict`` (409, ``control_tasks_differ``) with the differences in
  ``fields`` — unless an override accepts every difference.
* ``project_control_override`` records ops's override (reason, actor, time, and the
  differences it accepts, for the project's current control gold set);
  ``project_control_override_clear`` withdraws it. Changing the control gold set, or a check
  that finds a difference the override did not list, withdraws it too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from assignments.models import Project
from assignments.selectors.control_set import (
    control_set_report,
    controls_on,
    override_covers,
    project_control_warnings_many,
    projects_using_control_set,
    stored_report,
)
from config.errors import Conflict, NotFound
from qc.control_sets import ControlUse
from qc.payload_shape import ShapeReport
from workforce.models import User

logger = logging.getLogger(__name__)

REASON_MAX = 2_000

OVERRIDE_CLEARED = {
    "control_override_reason": "",
    "control_override_by": None,
    "control_override_at": None,
    "control_override_accepts": None,
}


@dataclass(frozen=True)
class ControlCheck:
    """A check's outcome: the control gold set compared (None: none), the report (None without
    a control gold set), whether an override was in force and accepts it, and whether the check
    withdrew an override."""

    gold_set_id: int | None
    report: ShapeReport | None
    overridden: bool
    override_dropped: bool

    def to_dict(self) -> dict:
        if self.report is None:
            return {"ok": True, "compared": False, "summary": "No control gold set."}
        return {
            **self.report.to_dict(),
            "overridden": self.overridden,
            "override_dropped": self.override_dropped,
        }


def _store(project: Project, report: ShapeReport | None, *, drop: bool) -> None:
    now = timezone.now()
    values = {
        "control_check": None if report is None else report.to_dict(),
        "control_checked_at": None if report is None else now,
    }
    if drop:
        values.update(OVERRIDE_CLEARED)
    Project.objects.filter(pk=project.pk).update(**values)
    for name, value in values.items():
        setattr(project, name if name != "control_override_by" else "control_override_by_id", value)


def project_control_check(*, actor: User | None, project: Project) -> ControlCheck:
    """Compare the project's control payloads with its real tasks and store the report
    (``control_check``, ``control_checked_at``). An override that does not accept every
    difference found — or was given for another gold set — is withdrawn in the same write
    (logged with ``actor``). Reads the project afresh; one ``UPDATE``; no lock held while
    comparing. Returns the outcome; ``project`` is updated in place."""
    fresh = (
        Project.objects.filter(pk=project.pk)
        .only(
            "pk",
            "status",
            "control_ratio",
            "control_gold_set_id",
            "control_override_accepts",
        )
        .first()
    )
    if fresh is None:
        raise NotFound()
    report = control_set_report(project=fresh)
    accepts = fresh.control_override_accepts
    had_override = accepts is not None
    covered = override_covers(fresh, report)
    # Withdrawn when the control gold set changed since, or when a difference it did not list
    # appeared; kept while the controls match (it then accepts nothing that is there).
    drop = had_override and (
        report is None
        or accepts.get("gold_set") != fresh.control_gold_set_id
        or not (covered or report.ok)
    )
    with transaction.atomic():
        _store(project, report, drop=drop)
    if drop:
        logger.info(
            "project %s: control override withdrawn by a check (%s), actor %s",
            project.pk,
            report.summary() if report else "no control gold set",
            getattr(actor, "pk", None),
        )
    return ControlCheck(
        gold_set_id=fresh.control_gold_set_id,
        report=report,
        overridden=had_override and covered,
        override_dropped=drop,
    )


def gold_set_control_recheck(
    *, actor: User | None, gold_set_id: int
) -> list[tuple[Project, ControlCheck]]:
    """``project_control_check`` for every project (not done) whose control gold set this is:
    called after gold items were imported into it."""
    return [
        (project, project_control_check(actor=actor, project=project))
        for project in projects_using_control_set(gold_set_id=gold_set_id)
    ]


def project_control_gate(*, project: Project, report: ShapeReport | None) -> None:
    """Refuse to serve control tasks that differ from the real ones: when ``project`` serves
    control tasks (a ratio above 0 and a control gold set) and ``report`` finds differences no
    override accepts, raise ``Conflict`` (409, ``control_tasks_differ``) whose ``fields`` map
    each kind of difference (``missing_key``, ``extra_key``, ``type``, ``url_shape``) to its
    messages. With nothing to compare yet (no real task) nothing is refused."""
    if not controls_on(project) or report is None or report.ok:
        return
    if override_covers(project, report):
        return
    raise Conflict(
        f"The control tasks do not look like the project's real tasks: {report.summary()} "
        "Make the gold items match the real tasks (keys, value types, URL shapes), or "
        "override with a reason (POST projects/{id}/control-check/override/).",
        code="control_tasks_differ",
        fields=report.field_messages(),
    )


def _clean_reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError({"reason": ["Say why the differences are acceptable."]})
    reason = reason.strip()
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": [f"At most {REASON_MAX} characters."]})
    return reason


def _locked_not_done(project: Project) -> Project:
    """The project's row, locked ``FOR NO KEY UPDATE`` (claims, which only reference it, go
    on); NotFound if it is gone, Conflict (``project_done``) if it is done."""
    current = (
        Project.objects.select_for_update(no_key=True, of=("self",)).filter(pk=project.pk).first()
    )
    if current is None:
        raise NotFound()
    if current.status == Project.Status.DONE:
        raise Conflict("The project is done; it cannot be changed.", code="project_done")
    return current


def project_control_override(*, actor: User | None, project: Project, reason: str) -> Project:
    """Accept the differences the control check finds now, for the project's current control
    gold set: stores ``reason``, ``actor``, the time and the differences' signatures; later
    checks keep it while they find no other difference (more items differing the same way do
    not count as new). Raises ValidationError for a blank or over-long reason, Conflict
    (``project_done``) for a done project, Conflict (``no_control_set``) without a control gold
    set and Conflict (``nothing_to_override``) when the check finds no difference. Holds the
    project's row lock (``FOR NO KEY UPDATE``) while it checks and writes."""
    reason = _clean_reason(reason)
    with transaction.atomic():
        current = _locked_not_done(project)
        report = control_set_report(project=current)
        if report is None:
            raise Conflict("The project has no control gold set.", code="no_control_set")
        if report.ok:
            _store(current, report, drop=False)
            raise Conflict(
                "The control tasks look like the real tasks: there is nothing to override.",
                code="nothing_to_override",
            )
        now = timezone.now()
        current.control_check = report.to_dict()
        current.control_checked_at = now
        current.control_override_reason = reason
        current.control_override_by = actor
        current.control_override_at = now
        current.control_override_accepts = {
            "gold_set": current.control_gold_set_id,
            "signatures": sorted(report.signatures()),
        }
        current.save(
            update_fields=[
                "control_check",
                "control_checked_at",
                "control_override_reason",
                "control_override_by",
                "control_override_at",
                "control_override_accepts",
                "updated_at",
            ]
        )
    logger.info(
        "project %s: control differences overridden by %s: %s",
        project.pk,
        getattr(actor, "pk", None),
        reason,
    )
    return current


def project_control_override_clear(*, actor: User | None, project: Project) -> Project:
    """Withdraw the override (idempotent). Activation is gated again on the check. Raises
    Conflict (``project_done``) for a done project."""
    with transaction.atomic():
        current = _locked_not_done(project)
        if current.control_override_at is not None:
            for name, value in OVERRIDE_CLEARED.items():
                setattr(current, name, value)
            current.save(update_fields=[*OVERRIDE_CLEARED, "updated_at"])
            logger.info(
                "project %s: control override withdrawn by %s",
                project.pk,
                getattr(actor, "pk", None),
            )
    return current


# -- the gold pages' questions (qc.control_sets) ---------------------------------------------------


def _use(project: Project, warnings: list[dict[str, str]]) -> ControlUse:
    report = stored_report(project)
    covered = report is not None and override_covers(project, report)
    if report is None:
        summary = "Not checked yet."
    else:
        summary = report.summary() + (" (An override accepts the differences.)" if covered else "")
    return ControlUse(
        project_id=project.pk,
        project_slug=project.slug,
        project_name=project.name,
        admin_url=reverse("admin:assignments_project_change", args=[project.pk]),
        ok=report is None or report.ok or covered,
        summary=summary,
        check=project.control_check,
        warnings=warnings,
    )


class ProjectControlInspector:
    """Answers ``qc.control_sets`` for the gold pages; registered by ``AssignmentsConfig``."""

    def uses(self, *, gold_set_id: int) -> list[ControlUse]:
        projects = projects_using_control_set(gold_set_id=gold_set_id)
        warnings = project_control_warnings_many(projects)
        return [_use(p, warnings[p.pk]) for p in projects]

    def recheck(self, *, actor: User | None, gold_set_id: int) -> list[ControlUse]:
        projects = [p for p, _ in gold_set_control_recheck(actor=actor, gold_set_id=gold_set_id)]
        warnings = project_control_warnings_many(projects)
        return [_use(p, warnings[p.pk]) for p in projects]
