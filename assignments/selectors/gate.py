"""The next-task gate. ``project_gate`` answers, in one query, everything the next-task
call must know before it claims: the project, the labeler's status, a missing qualification, a
missing guide acknowledgement, and the labeler's live lease in the project."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.db import connection

from assignments.models import Assignment, Project
from config.errors import NotFound
from config.rawsql import RowReader
from qc.models import ControlRate, GuideAcknowledgement, GuideVersion, RuleFiring
from workforce.models import Labeler, Qualification, QualificationType


@dataclass(frozen=True)
class Gate:
    project: Project
    labeler_status: str
    missing_qualification: str | None  # the name of one required type the labeler lacks
    guide_ack_missing: bool
    live_assignment_id: int | None
    has_stale_lease: bool  # a lease of this labeler in the project ran out without submission
    paused_by_rule: bool = False  # an open quality-rule firing pauses them on this project
    control_rate: float = 0.0  # this labeler's share of control tasks on this project


@cache
def _project_reader() -> RowReader:
    return RowReader(Project)


@cache
def _gate_sql() -> str:
    """The gate as one fixed statement. Written out rather than built with the ORM on every
    call: this runs before every task a labeler gets, and composing the equivalent queryset
    cost more CPU than PostgreSQL spends executing it. Table names come from model metadata."""
    project_columns = _project_reader().columns("p")
    t = {
        "project": Project._meta.db_table,
        "labeler": Labeler._meta.db_table,
        "qtype": QualificationType._meta.db_table,
        "required": Project.required_qualifications.through._meta.db_table,
        "grant": Qualification._meta.db_table,
        "version": GuideVersion._meta.db_table,
        "ack": GuideAcknowledgement._meta.db_table,
        "assignment": Assignment._meta.db_table,
        "firing": RuleFiring._meta.db_table,
        "rate": ControlRate._meta.db_table,
    }
    return f"""
        SELECT {project_columns},
          (SELECT l.status FROM {t["labeler"]} l WHERE l.id = %(labeler)s) AS _labeler_status,
          (SELECT qt.name FROM {t["qtype"]} qt
             JOIN {t["required"]} r ON r.qualificationtype_id = qt.id
            WHERE r.project_id = p.id
              AND NOT EXISTS (
                  SELECT 1 FROM {t["grant"]} q
                   WHERE q.labeler_id = %(labeler)s AND q.qualification_type_id = qt.id
                     AND q.revoked_at IS NULL AND q.superseded_at IS NULL
                     AND (q.expires_at IS NULL OR q.expires_at > %(now)s))
            ORDER BY qt.name LIMIT 1) AS _missing,
          EXISTS (SELECT 1 FROM {t["version"]} v
                   WHERE v.guide_id = p.guide_id AND v.status = 'published') AS _published,
          EXISTS (SELECT 1 FROM {t["ack"]} k JOIN {t["version"]} kv ON kv.id = k.version_id
                   WHERE k.labeler_id = %(labeler)s AND kv.guide_id = p.guide_id
                     AND kv.major = (SELECT cv.major FROM {t["version"]} cv
                                      WHERE cv.guide_id = p.guide_id AND cv.status = 'published'
                                      ORDER BY cv.major DESC LIMIT 1)) AS _acknowledged,
          (SELECT a.id FROM {t["assignment"]} a
            WHERE a.labeler_id = %(labeler)s AND a.project_id = p.id AND a.status = 'leased'
              AND a.expires_at > %(now)s LIMIT 1) AS _live,
          EXISTS (SELECT 1 FROM {t["assignment"]} a
                   WHERE a.labeler_id = %(labeler)s AND a.project_id = p.id
                     AND a.status = 'leased' AND a.expires_at <= %(now)s) AS _stale,
          EXISTS (SELECT 1 FROM {t["firing"]} f
                   WHERE f.labeler_id = %(labeler)s AND f.project_id = p.id
                     AND f.status = 'open' AND f.action = 'pause_on_project') AS _paused,
          (SELECT cr.rate FROM {t["rate"]} cr
            WHERE cr.labeler_id = %(labeler)s AND cr.project_id = p.id
              AND (p.adaptive_control OR cr.reason LIKE 'rule:%%')) AS _control_rate
        FROM {t["project"]} p
        WHERE p.id = %(project)s
    """  # noqa: S608 (identifiers come from model metadata; values are parameters)


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
    with connection.cursor() as cursor:
        cursor.execute(_gate_sql(), params)
        row = cursor.fetchone()
    if row is None:
        raise NotFound()
    reader = _project_reader()
    project = reader.read(row[: len(reader)])
    status, missing, published, acknowledged, live, stale, paused, own_rate = row[len(reader) :]
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
    )
