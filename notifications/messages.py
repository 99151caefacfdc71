"""What each event says, and to whom: reads the event's rows and returns the e-mails (one per
recipient, with its dedupe key) and the webhook data for the vendor concerned. No writes.

Labelers read their e-mails in their own language (their profile's first supported language);
vendor managers and webhooks get English. A labeler's e-mail never says whether a task was a
control task: the flag answer reads alike for both (docs/notifications.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from assignments.models import Assignment, DriftEvent, Project, Review
from notifications.models import Event
from qc.models import GuideVersion, QualityRule, RuleFiring
from workforce.models import (
    Labeler,
    LabelerStatusChange,
    Qualification,
    User,
    VendorMembership,
)
from workforce.services import _language_of, _tz

A = QualityRule.Action
#: Rule actions a labeler hears about. Lowering the control-task rate is not told (it is about
#: control tasks, which a labeler must not be able to tell apart), nor is a drift rule's pause
#: of a project (it fires on a batch, never on a labeler).
TOLD_ACTIONS = (A.WARN, A.PAUSE_ON_PROJECT, A.SUSPEND, A.REVOKE_QUALIFICATION)
EXPIRY_NOTICE = timedelta(days=7)


@dataclass(frozen=True)
class Mail:
    user_id: int
    email: str
    subject: str
    body: str
    key: str


@dataclass
class Plan:
    """What one event sends: e-mails, and the data for the webhooks of ``vendor_id``."""

    event: str
    key: str
    mails: list[Mail] = field(default_factory=list)
    vendor_id: int | None = None
    data: dict[str, Any] | None = None


def _link(name: str, *args: Any) -> str:
    base = settings.SITE_URL.rstrip("/")
    return f"{base}{reverse(name, args=args)}" if base else ""


def _when(moment: datetime, tz_name: str) -> str:
    return timezone.localtime(moment, _tz(tz_name)).strftime("%Y-%m-%d %H:%M %Z")


def _labeler_public(labeler: Labeler) -> dict[str, Any]:
    """A labeler as their vendor's webhook shows them: public code and the vendor's own id,
    nothing else (a status change carries its own from and to)."""
    return {"public_code": labeler.public_code, "external_id": labeler.external_id}


def _managers(vendor_id: int | None) -> QuerySet[User]:
    if vendor_id is None:
        return User.objects.none()
    return User.objects.filter(
        vendor_memberships__vendor_id=vendor_id,
        vendor_memberships__role=VendorMembership.Role.MANAGER,
        is_active=True,
    ).exclude(email="")


def _labeler_mail(labeler: Labeler, key: str, subject: str, body: str) -> list[Mail]:
    user = labeler.user
    if not user.email:
        return []
    greeting = _("Hello %(name)s,") % {"name": user.first_name or user.get_username()}
    return [Mail(user.pk, user.email, subject, f"{greeting}\n\n{body}\n", f"{key}:u{user.pk}")]


def _manager_mails(
    vendor_id: int | None, key: str, subject: str, body: str, *, exclude: int | None = None
) -> list[Mail]:
    """One e-mail to each manager of the vendor but ``exclude`` (the user who made the change)."""
    return [
        Mail(user.pk, user.email, subject, body, f"{key}:u{user.pk}")
        for user in _managers(vendor_id)
        if user.pk != exclude
    ]


def _who(labeler: Labeler) -> str:
    name = labeler.user.get_full_name() or labeler.user.get_username()
    extra = f", {labeler.external_id}" if labeler.external_id else ""
    return f"{labeler.public_code} ({name}{extra})"


# -- a quality rule fired ------------------------------------------------------------------------


def rule_fired(firing_id: int) -> Plan | None:
    firing = (
        RuleFiring.objects.select_related(
            "rule__qualification_type", "labeler__user", "labeler__vendor"
        )
        .filter(pk=firing_id)
        .first()
    )
    if firing is None or firing.action not in TOLD_ACTIONS:
        return None
    labeler, rule = firing.labeler, firing.rule
    project = Project.objects.filter(pk=firing.project_id).only("name", "slug").first()
    project_name = project.name if project else str(firing.project_id)
    qualification = rule.qualification_type.name if rule.qualification_type_id else ""
    key = f"{Event.RULE_FIRED}:firing{firing.pk}"
    plan = Plan(Event.RULE_FIRED, key)
    values = {"rule": rule.name, "project": project_name, "qualification": qualification}
    with translation.override(_language_of(labeler)):
        if firing.action == A.WARN:
            subject = _("A quality check on %(project)s") % values
            body = _(
                'The quality rule "%(rule)s" of project %(project)s found your recent work '
                "below the level the project expects. Nothing changes for now: please read the "
                "project's guide again and take extra care with your next tasks."
            )
        elif firing.action == A.PAUSE_ON_PROJECT:
            subject = _("You are paused on %(project)s") % values
            body = _(
                'The quality rule "%(rule)s" of project %(project)s paused you on this project: '
                "you get no new tasks there until the pause is lifted, by passing the project's "
                "qualification again if it offers one, or by the operations team."
            )
        elif firing.action == A.SUSPEND:
            subject = _("Your LabelForce account is suspended")
            body = _(
                'The quality rule "%(rule)s" of project %(project)s suspended your account: you '
                "get no new tasks until the operations team reactivates it."
            )
        else:
            subject = _("Your qualification %(qualification)s was withdrawn") % values
            body = _(
                'The quality rule "%(rule)s" of project %(project)s withdrew your qualification '
                "%(qualification)s. Pass its qualification test again to get it back."
            )
        plan.mails += _labeler_mail(labeler, key, subject, body % values)
    action = A(firing.action).label
    plan.mails += _manager_mails(
        labeler.vendor_id,
        key,
        f"[{labeler.vendor}] {action}: labeler {labeler.public_code}",
        f"A quality rule acted on your labeler {_who(labeler)}.\n\n"
        f"Project: {project_name}\nRule: {rule.name}\nAction: {action}\n"
        f"When: {_when(firing.fired_at, 'UTC')}\n",
    )
    plan.vendor_id = labeler.vendor_id
    plan.data = {
        "labeler": _labeler_public(labeler),
        "project": {"slug": project.slug if project else "", "name": project_name},
        "rule": rule.name,
        "action": firing.action,
        "qualification": qualification or None,
        "fired_at": firing.fired_at.isoformat(),
    }
    return plan


# -- a labeler's status changed --------------------------------------------------------------


def labeler_status_changed(change_id: int) -> Plan | None:
    change = (
        LabelerStatusChange.objects.select_related("labeler__user", "labeler__vendor")
        .filter(pk=change_id)
        .first()
    )
    if change is None:
        return None
    labeler = change.labeler
    key = f"{Event.LABELER_STATUS_CHANGED}:change{change.pk}"
    plan = Plan(Event.LABELER_STATUS_CHANGED, key)
    # Whoever made the change needs no e-mail about it: the labeler accepting their invitation,
    # the manager suspending their own labeler or importing a file of them.
    if change.actor_id != labeler.user_id:
        with translation.override(_language_of(labeler)):
            status = Labeler.Status(change.to_status).label
            values = {"status": _(status).lower(), "reason": change.reason}
            subject = _("Your LabelForce account is now %(status)s") % values
            body = _("Your account is now %(status)s. The reason given: %(reason)s") % values
            plan.mails += _labeler_mail(labeler, key, subject, body)
    plan.mails += _manager_mails(
        labeler.vendor_id,
        key,
        f"[{labeler.vendor}] Labeler {labeler.public_code} is now {change.to_status}",
        f"Your labeler {_who(labeler)} went from {change.from_status or 'nothing'} to "
        f"{change.to_status}.\n\nReason: {change.reason}\n"
        f"When: {_when(change.created_at, 'UTC')}\n",
        exclude=change.actor_id,
    )
    plan.vendor_id = labeler.vendor_id
    plan.data = {
        "labeler": _labeler_public(labeler),
        "from_status": change.from_status,
        "to_status": change.to_status,
        "reason": change.reason,
        "changed_at": change.created_at.isoformat(),
    }
    return plan


# -- a major guide version -------------------------------------------------------------------


def guide_version_major(version_id: int) -> Plan | None:
    """Labelers (onboarding or active) who worked on a project using the guide, when the
    version must be acknowledged again (a major number: x.0)."""
    version = GuideVersion.objects.select_related("guide").filter(pk=version_id).first()
    if version is None or version.status != GuideVersion.Status.PUBLISHED or version.minor != 0:
        return None
    key = f"{Event.GUIDE_VERSION_MAJOR}:version{version.pk}"
    plan = Plan(Event.GUIDE_VERSION_MAJOR, key)
    worked = Assignment.objects.filter(project__guide_id=version.guide_id).values("labeler_id")
    labelers = Labeler.objects.select_related("user").filter(
        pk__in=worked, status__in=(Labeler.Status.ONBOARDING, Labeler.Status.ACTIVE)
    )
    link = _link("labeler:guide", version.guide_id)
    for labeler in labelers:
        with translation.override(_language_of(labeler)):
            values = {"guide": version.guide.name, "number": f"{version.major}.{version.minor}"}
            subject = _("%(guide)s %(number)s: read and acknowledge it") % values
            body = (
                _(
                    "Version %(number)s of the guide %(guide)s is out. Read it and acknowledge it "
                    "before your next task on its projects."
                )
                % values
            )
            if version.change_summary:
                body += "\n\n" + _("What changed: %(summary)s") % {
                    "summary": version.change_summary
                }
            if link:
                body += f"\n\n{link}"
            plan.mails += _labeler_mail(labeler, key, subject, body)
    return plan


# -- a qualification expires soon ------------------------------------------------------------


def qualifications_expiring(now: datetime) -> QuerySet[Qualification]:
    """Live grants expiring within ``EXPIRY_NOTICE`` of ``now`` held by labelers who may still
    work (onboarding or active)."""
    return Qualification.objects.live().filter(
        expires_at__gt=now,
        expires_at__lte=now + EXPIRY_NOTICE,
        labeler__status__in=(Labeler.Status.ONBOARDING, Labeler.Status.ACTIVE),
    )


def qualification_expiring(qualification_id: int) -> Plan | None:
    grant = (
        Qualification.objects.select_related("qualification_type", "labeler__user")
        .filter(pk=qualification_id, expires_at__isnull=False)
        .first()
    )
    if grant is None:
        return None
    labeler = grant.labeler
    # Once per grant and expiry: an extended grant is told again about its new date.
    key = f"{Event.QUALIFICATION_EXPIRING}:q{grant.pk}:{int(grant.expires_at.timestamp())}"
    plan = Plan(Event.QUALIFICATION_EXPIRING, key)
    with translation.override(_language_of(labeler)):
        values = {
            "qualification": grant.qualification_type.name,
            "when": _when(grant.expires_at, labeler.timezone),
        }
        subject = _("Your qualification %(qualification)s expires soon") % values
        body = (
            _(
                "Your qualification %(qualification)s expires on %(when)s. Take its qualification "
                "test again before then to keep working on the projects that require it."
            )
            % values
        )
        plan.mails += _labeler_mail(labeler, key, subject, body)
    plan.vendor_id = labeler.vendor_id
    plan.data = {
        "labeler": _labeler_public(labeler),
        "qualification": {
            "slug": grant.qualification_type.slug,
            "name": grant.qualification_type.name,
        },
        "expires_at": grant.expires_at.isoformat(),
    }
    return plan


# -- a flag was answered ---------------------------------------------------------------------


def answer_text(answer: Any) -> str:
    """A reviewer's answer as plain text: a label, labels, or JSON for anything else."""
    if isinstance(answer, str):
        return answer
    if isinstance(answer, list) and all(isinstance(a, str) for a in answer):
        return ", ".join(answer)
    return json.dumps(answer, ensure_ascii=False, sort_keys=True)


def flag_answered(review_id: int) -> Plan | None:
    """The labeler who flagged the task hears the reviewer's answer and note. Only what every
    flag has goes in — the project, when they labeled, their question, the answer, the note —
    so a flag on a control task reads exactly like one on a real task."""
    review = (
        Review.objects.select_related("project", "assignment__labeler__user")
        .filter(pk=review_id, kind=Review.Kind.FLAG, status=Review.Status.RESOLVED)
        .first()
    )
    if review is None or review.assignment_id is None:
        return None
    labeler = review.assignment.labeler
    key = f"{Event.FLAG_ANSWERED}:review{review.pk}"
    plan = Plan(Event.FLAG_ANSWERED, key)
    labeled_at = review.assignment.submitted_at or review.assignment.leased_at
    with translation.override(_language_of(labeler)):
        values = {
            "project": review.project.name,
            "when": _when(labeled_at, labeler.timezone),
            "question": review.question,
            "answer": answer_text(review.answer),
            "note": review.note,
        }
        subject = _("Your question on %(project)s was answered") % values
        body = (
            _(
                "You flagged a task of %(project)s that you labeled on %(when)s.\n\n"
                "Your question: %(question)s\n\n"
                "The reviewer's answer: %(answer)s\n"
                "Their note: %(note)s"
            )
            % values
        )
        plan.mails += _labeler_mail(labeler, key, subject, body)
    return plan


# -- a batch drifted (ops) --------------------------------------------------------------------


def drift_detected(event_id: int) -> Plan | None:
    """Ops (active staff with an e-mail address) hear of a batch whose label distribution
    drifted from the project's baseline, and of what a drift rule did about it."""
    event = (
        DriftEvent.objects.select_related("project", "batch", "rule").filter(pk=event_id).first()
    )
    if event is None:
        return None
    key = f"{Event.DRIFT_DETECTED}:drift{event.pk}"
    plan = Plan(Event.DRIFT_DETECTED, key)
    project = event.project
    lines = [
        f"Batch {event.batch_id} of {project.name} has a label distribution unlike the "
        f"project's earlier batches (chi-square p = {event.p_value:.2g}, {event.n} decided "
        f"tasks against a baseline of {event.baseline_n}).",
    ]
    if event.rule_id:
        lines.append(f"Quality rule: {event.rule.name}; action: {event.action or 'none'}.")
    try:
        link = _link("admin:assignments_driftevent_change", event.pk)
    except NoReverseMatch:
        link = ""
    if link:
        lines.append(link)
    ops = User.objects.filter(is_staff=True, is_active=True).exclude(email="")
    subject = f"Label drift in {project.name}, batch {event.batch_id}"
    body = "\n\n".join(lines) + "\n"
    plan.mails += [Mail(u.pk, u.email, subject, body, f"{key}:u{u.pk}") for u in ops]
    return plan


COMPOSERS = {
    Event.RULE_FIRED: rule_fired,
    Event.LABELER_STATUS_CHANGED: labeler_status_changed,
    Event.GUIDE_VERSION_MAJOR: guide_version_major,
    Event.QUALIFICATION_EXPIRING: qualification_expiring,
    Event.FLAG_ANSWERED: flag_answered,
    Event.DRIFT_DETECTED: drift_detected,
}
