"""The next-task gate. ``project_gate`` answers, in one query, everything the next-task call
must know before it claims: the project, the labeler's status, a missing qualification, a
missing guide acknowledgement, the labeler's live leases in the project (the current one,
and the look-ahead one the labeler pages take), their vendor's status and the project's
restrictions (internal only, allowed vendors, required skills and languages). The statement is
``assignments.sql.gate``: written out once rather than built with the ORM on every call, since
this runs before every task a labeler gets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from assignments import sql
from assignments.models import Project
from config.errors import NotFound
from workforce.models import Labeler


@dataclass(frozen=True)
class Gate:
    project: Project
    labeler_status: str
    missing_qualification: str | None  # the name of one required type the labeler lacks
    guide_ack_missing: bool
    live_assignment_id: int | None  # their live current lease (not a look-ahead one)
    has_stale_lease: bool  # a lease of theirs (either kind) in the project ran out unsubmitted
    paused_by_rule: bool = False  # an open quality-rule firing pauses them on this project
    control_rate: float = 0.0  # this labeler's share of control tasks on this project
    # Their live look-ahead lease (``Assignment.ahead``; only the labeler pages take one).
    ahead_assignment_id: int | None = None
    # Who may work on the project (docs/next-task.md, "Who may work on a project"):
    vendor_status: str | None = None  # their vendor's status; None for internal staff
    excluded: str | None = None  # "internal_only" or "vendor_not_allowed" when closed to them
    missing_skill: str | None = None  # the name of one required skill they lack
    missing_language: str | None = None  # one required language code none of theirs meets


def project_gate(*, labeler: Labeler, project_id: int, now: datetime) -> Gate:
    """One query: the project with the labeler's standing on it. Raises NotFound for an unknown
    project.

    ``control_rate`` is the project's ``control_ratio``, unless the labeler has a rate of their
    own on the project (``qc.ControlRate``) that applies: the project adapts its rate, or a
    quality rule set it (its reason starts with ``rule:``). A project without control tasks
    (ratio 0) serves none whatever the row says."""
    params = {
        "labeler": labeler.pk,
        "project": project_id,
        "now": connection.ops.adapt_datetimefield_value(now),
    }
    row = sql.gate().one(params)
    if row is None:
        raise NotFound()
    return _gate(row)


# The gate's row: the project, then this many columns (``sql.gate``).
GATE_COLUMNS = 14


def _gate(row: tuple) -> Gate:
    project, status, missing, published, acknowledged, live, stale, paused, own_rate, ahead = row[
        :10
    ]
    vendor_status, excluded, missing_skill, missing_language = row[10:GATE_COLUMNS]
    needs_ack = bool(project.guide_id and project.require_guide_ack and published)
    rate = float(project.control_ratio)
    if own_rate is not None and rate > 0:
        rate = float(own_rate)
    return Gate(
        project=project,
        labeler_status=status,
        missing_qualification=missing,
        guide_ack_missing=needs_ack and not acknowledged,
        live_assignment_id=live,
        has_stale_lease=bool(stale),
        paused_by_rule=bool(paused),
        control_rate=rate,
        ahead_assignment_id=ahead,
        vendor_status=vendor_status,
        excluded=excluded,
        missing_skill=missing_skill,
        missing_language=missing_language,
    )


def language_met(required: str, spoken: str) -> bool:
    """The language code ``spoken`` meets the required ``required``: the same code, or it
    followed by a subtag (``pt`` is met by ``pt-BR``, not the reverse), ignoring case (BCP 47
    tags are case-insensitive). ``assignments.sql.language_met`` is the gate's SQL of it."""
    spoken, required = spoken.lower(), required.lower()
    return spoken == required or spoken.startswith(required + "-")


# A project list says "1000 or more" rather than counting a large queue to its end.
WAITING_CAP = 1000


@dataclass(frozen=True)
class Standing:
    """A labeler's standing on one project, for a page that lists projects: the project's
    ``Gate``, the id of the qualification type ``gate.missing_qualification`` names, and how
    many tasks wait for them — what the claim would hand them, counted up to ``WAITING_CAP``
    (``waiting == WAITING_CAP`` means at least that many). Control tasks are never counted: they
    are not in the claim queue."""

    gate: Gate
    missing_qualification_id: int | None
    waiting: int


def project_standings(*, labeler: Labeler, now: datetime) -> list[Standing]:
    """The gate (``project_gate``) of every project the labeler may read — active and paused,
    as ``project_list_for`` shows a non-ops caller — highest priority first, each with its
    waiting tasks. One query (``assignments.sql.gates``), whatever the number of projects;
    each project's waiting count reads at most ``WAITING_CAP`` rows of its claim queue. Whether
    the labeler may work there is the claim's decision (``claim_refusal``)."""
    params = {
        "labeler": labeler.pk,
        "now": connection.ops.adapt_datetimefield_value(now),
        "cap": WAITING_CAP,
    }
    statement = sql.gates()
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        rows = [statement.read(row) for row in cursor.fetchall()]
    return [
        Standing(
            gate=_gate(row),
            missing_qualification_id=row[GATE_COLUMNS],
            waiting=int(row[GATE_COLUMNS + 1]),
        )
        for row in rows
    ]
