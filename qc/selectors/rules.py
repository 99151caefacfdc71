"""Reads of quality rules and their firings, scoped to the caller.

Rules are an operations setting: ops read them, nobody else (the API refuses others earlier).
Firings (``RuleFiring``) are visible to ops, to the labeler's vendor manager and to the labeler
themself; what a non-ops caller reads of a firing's inputs is the interval and the rule's terms
(``public_inputs``), never anything of a gold answer (inputs hold none anyway). A labeler and a
vendor manager see a firing only when it was decided on facts recorded before the start of the
current day (``as_of``; the periodic evaluation's firings always are), the cut-off of the
labeler's own scorecard (docs/quality.md, "Secrecy of control tasks").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from config.errors import get_or_not_found
from qc.models import QualityRule, RuleFiring
from qc.selectors.quality_facts import start_of_day
from workforce.models import User
from workforce.selectors import is_ops, readable_labelers_q

#: The keys of ``RuleFiring.inputs`` anyone who may see the firing may read (the interval and
#: the rule's terms); the rest (control-rate bookkeeping, reversal notes) is for ops.
PUBLIC_INPUT_KEYS = (
    "metric",
    "n",
    "successes",
    "rate",
    "lower",
    "upper",
    "window",
    "min_n",
    "threshold",
    "bound",
    "comparison",
    "value",
)


def quality_rule_list_for(*, actor: User) -> QuerySet[QualityRule]:
    """Every rule for ops (with its qualification type joined); none for anyone else."""
    if not is_ops(actor):
        return QualityRule.objects.none()
    return QualityRule.objects.select_related("qualification_type", "created_by").order_by(
        "project_id", "name", "id"
    )


def quality_rule_get_for(*, actor: User, pk: int) -> QualityRule:
    return get_or_not_found(quality_rule_list_for(actor=actor), pk=pk)


def rule_firings_for(*, actor: User, now: datetime | None = None) -> QuerySet[RuleFiring]:
    """Firings the caller may read: all for ops; for a vendor manager those on their vendors'
    labelers, for a labeler their own (a caller may be both) — in both cases only firings
    decided on facts recorded before the start of the current day (``as_of <=
    start_of_day(now)``), so that no firing made from today's facts (by an evaluation outside
    the periodic sweep) can point at a submission of today. Rule, labeler and reverser are
    joined, so a page costs a constant number of queries."""
    qs = RuleFiring.objects.select_related("rule", "labeler__user", "reversed_by")
    if is_ops(actor):
        return qs
    if not actor.is_authenticated:
        return qs.none()
    return qs.filter(
        readable_labelers_q(actor),
        as_of__lte=start_of_day(now or timezone.now()),
    )


def rule_firing_get_for(*, actor: User, pk: int) -> RuleFiring:
    return get_or_not_found(rule_firings_for(actor=actor), pk=pk)


def public_inputs(inputs: dict[str, Any] | None) -> dict[str, Any]:
    """The part of a firing's inputs anyone who sees the firing may read: n, successes, the
    rate and its Wilson 95% interval, and the rule's terms."""
    inputs = inputs or {}
    return {key: inputs[key] for key in PUBLIC_INPUT_KEYS if key in inputs}


def open_pauses() -> QuerySet[RuleFiring]:
    """Open ``pause_on_project`` firings. Exists-able, e.g.
    ``Exists(open_pauses().filter(labeler_id=OuterRef("labeler_id"), project_id=OuterRef("pk")))``;
    served by the index ``qc_rulefiring_labeler`` (labeler, project_id, status)."""
    return RuleFiring.objects.filter(
        status=RuleFiring.Status.OPEN, action=QualityRule.Action.PAUSE_ON_PROJECT
    )


def labeler_paused_on_project(labeler_id: int, project_id: int) -> bool:
    """Whether an open quality-rule firing pauses the labeler on the project. One query."""
    return open_pauses().filter(labeler_id=labeler_id, project_id=project_id).exists()


def paused_annotation(*, labeler_ref: str = "labeler_id", project_ref: str = "project_id"):
    """``Exists(...)`` of an open pause for the outer row's labeler and project columns."""
    return Exists(
        open_pauses().filter(labeler_id=OuterRef(labeler_ref), project_id=OuterRef(project_ref))
    )
