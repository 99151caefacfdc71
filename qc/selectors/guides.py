"""Reads of guides, versions and acknowledgements, each scoped to the caller.

Who sees what: operations managers see every guide, drafts included; everyone else sees only
guides with a published version, and only published versions of them (a draft is a 404).
Acknowledgements are read by ops (all) and vendor managers (their vendors' labelers only).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery

from config.api import labeler_or_none
from config.errors import NotFound, get_or_not_found
from qc.models import Guide, GuideAcknowledgement, GuideVersion
from workforce.models import Labeler, User
from workforce.selectors import is_ops, managed_vendor_ids

PUBLISHED = GuideVersion.Status.PUBLISHED
DRAFT = GuideVersion.Status.DRAFT

# "Changes since you last acknowledged" lists at most this many versions (newest first).
MAX_CHANGES_LISTED = 50


def guide_current_version(*, guide: Guide | int) -> GuideVersion | None:
    """The latest published version of the guide, or None when nothing is published. One
    query."""
    guide_id = guide if isinstance(guide, int) else guide.pk
    return (
        GuideVersion.objects.filter(guide_id=guide_id, status=GuideVersion.Status.PUBLISHED)
        .order_by("-major", "-minor")
        .first()
    )


def guide_ack_missing(*, labeler: Labeler, guide: Guide | int) -> GuideVersion | None:
    """The current version the labeler still has to acknowledge, or None when they are up to
    date (or nothing is published). Acknowledging any version of the current major line counts:
    minor versions only notify."""
    current = guide_current_version(guide=guide)
    if current is None:
        return None
    acknowledged = GuideAcknowledgement.objects.filter(
        labeler=labeler, version__guide_id=current.guide_id, version__major=current.major
    ).exists()
    return None if acknowledged else current


# -- guides for a caller ------------------------------------------------------------------------


def _published_exists() -> Exists:
    return Exists(GuideVersion.objects.filter(guide_id=OuterRef("pk"), status=PUBLISHED))


def guide_list_for(*, actor: User) -> QuerySet[Guide]:
    """Guides the caller may read: every guide for ops, annotated with ``draft_count``,
    ``published_count`` and the current number (``current_major``, ``current_minor``); guides
    with a published version for everyone else. One query."""
    if is_ops(actor):
        latest = GuideVersion.objects.filter(guide_id=OuterRef("pk"), status=PUBLISHED).order_by(
            "-major", "-minor"
        )
        return Guide.objects.annotate(
            draft_count=Count("versions", filter=Q(versions__status=DRAFT)),
            published_count=Count("versions", filter=Q(versions__status=PUBLISHED)),
            current_major=Subquery(latest.values("major")[:1]),
            current_minor=Subquery(latest.values("minor")[:1]),
        )
    if not actor or not actor.is_authenticated:
        return Guide.objects.none()
    return Guide.objects.filter(_published_exists())


def guide_get_for(*, actor: User, pk: int) -> Guide:
    """One guide the caller may read; NotFound otherwise (a guide with nothing published does
    not exist for a labeler)."""
    return get_or_not_found(guide_list_for(actor=actor), pk=pk)


def guide_version_for(*, actor: User, guide: Guide, version_id: int | None = None) -> GuideVersion:
    """The version to show: the current published one by default; ``version_id`` picks another
    version of this guide — any of them for ops, published ones only for everyone else (a draft,
    or a version of another guide, is NotFound). NotFound when nothing is published."""
    if version_id is None:
        version = guide_current_version(guide=guide)
        if version is None:
            raise NotFound("This guide has no published version.")
        return version
    versions = GuideVersion.objects.filter(guide=guide)
    if not is_ops(actor):
        versions = versions.filter(status=PUBLISHED)
    return get_or_not_found(versions, pk=version_id)


_NUMBER_RE = re.compile(r"([0-9]{1,9})\.([0-9]{1,9})")


def guide_version_published_by_number(*, guide: Guide | int, number: str) -> GuideVersion | None:
    """The published version numbered ``number`` ("1.2") of the guide, or None. One query (none
    for a malformed number)."""
    match = _NUMBER_RE.fullmatch((number or "").strip())
    if match is None:
        return None
    guide_id = guide if isinstance(guide, int) else guide.pk
    return GuideVersion.objects.filter(
        guide_id=guide_id,
        status=PUBLISHED,
        major=int(match.group(1)),
        minor=int(match.group(2)),
    ).first()


def guide_versions_for_ops(*, guide: Guide) -> QuerySet[GuideVersion]:
    """Every version of the guide, drafts first then newest published, without their bodies
    (for an index an operations manager can pick ``?version=`` from)."""
    return (
        GuideVersion.objects.filter(guide=guide)
        .defer("body", "label_definitions")
        .order_by("status", "-major", "-minor", "-id")  # "draft" sorts before "published"
    )


@dataclass
class GuideState:
    """What a guide means for one labeler right now.

    ``must_acknowledge`` is None for a caller who is not a labeler. ``changes_since_ack`` lists
    the versions published after the labeler's last acknowledged one (newest first) — minor
    versions of their line, or, when a major version awaits acknowledgement, that one too.
    Empty when they never acknowledged (they have the whole guide to read).
    """

    current: GuideVersion | None
    must_acknowledge: bool | None = None
    acknowledged_version: GuideVersion | None = None
    acknowledged_at: datetime | None = None
    changes_since_ack: list[GuideVersion] = field(default_factory=list)


def guide_states_for(*, actor: User, guides: Iterable[Guide | int]) -> dict[int, GuideState]:
    """The state of each guide for the caller: its current published version and, when the
    caller is a labeler, whether they must acknowledge it (the same rule as
    ``guide_ack_missing``), the version they last acknowledged and what changed since.

    Two queries whatever the number of guides (published versions without bodies; the
    labeler's acknowledgements), plus one to load the labeler profile if it is not cached.
    """
    ids = [g if isinstance(g, int) else g.pk for g in guides]
    if not ids:
        return {}
    published: dict[int, list[GuideVersion]] = defaultdict(list)
    for version in (
        GuideVersion.objects.filter(guide_id__in=ids, status=PUBLISHED)
        .defer("body", "label_definitions")
        .order_by("guide_id", "-major", "-minor")
    ):
        published[version.guide_id].append(version)

    labeler = labeler_or_none(actor)
    acks: dict[int, list[GuideAcknowledgement]] = defaultdict(list)
    if labeler is not None:
        for ack in (
            GuideAcknowledgement.objects.filter(labeler=labeler, version__guide_id__in=ids)
            .select_related("version")
            .defer("version__body", "version__label_definitions")
        ):
            acks[ack.version.guide_id].append(ack)

    return {
        guide_id: _guide_state(
            published.get(guide_id, []),
            None
            if labeler is None
            else [(a.version, a.acknowledged_at) for a in acks.get(guide_id, [])],
        )
        for guide_id in ids
    }


def _guide_state(
    versions: list[GuideVersion], acked: list[tuple[GuideVersion, datetime]] | None
) -> GuideState:
    """The state of one guide from its published versions (newest first) and the labeler's
    acknowledgements of them (``(version, when)``; None for a caller who is not a labeler)."""
    current = versions[0] if versions else None
    state = GuideState(current=current)
    if acked is None or current is None:
        return state
    latest = max(acked, key=lambda a: (a[0].major, a[0].minor), default=None)
    state.must_acknowledge = not any(version.major == current.major for version, _ in acked)
    if latest is not None:
        seen = (latest[0].major, latest[0].minor)
        state.acknowledged_version, state.acknowledged_at = latest
        state.changes_since_ack = [v for v in versions if (v.major, v.minor) > seen][
            :MAX_CHANGES_LISTED
        ]
    return state


def guide_states_readable_for(*, actor: User) -> list[tuple[Guide, GuideState]]:
    """Every guide with a published version (what ``guide_list_for`` gives anyone but ops), by
    name, each with its state for the caller exactly as ``guide_states_for`` gives it. One query
    whatever the number of guides: the published versions without their bodies, each with its
    guide and the caller's acknowledgement time of it (a labeler can acknowledge only a
    published version — ``guide_acknowledge`` takes the current one — and a published version
    stays published, so these are all of their acknowledgements of these guides)."""
    if not actor or not actor.is_authenticated:
        return []
    labeler = labeler_or_none(actor)
    versions = (
        GuideVersion.objects.filter(status=PUBLISHED)
        .select_related("guide")
        .defer("body", "label_definitions")
        .order_by("guide__name", "guide_id", "-major", "-minor")
    )
    if labeler is not None:
        versions = versions.annotate(
            acked_at=Subquery(
                GuideAcknowledgement.objects.filter(
                    labeler=labeler, version_id=OuterRef("pk")
                ).values("acknowledged_at")[:1]
            )
        )
    by_guide: dict[int, list[GuideVersion]] = {}
    for version in versions:
        by_guide.setdefault(version.guide_id, []).append(version)
    out = []
    for group in by_guide.values():
        acked = None
        if labeler is not None:
            acked = [(v, v.acked_at) for v in group if v.acked_at is not None]
        out.append((group[0].guide, _guide_state(group, acked)))
    return out


# -- acknowledgements (ops and vendor managers) -------------------------------------------------


def guide_acknowledgement_list_for(*, actor: User, guide: Guide) -> QuerySet[GuideAcknowledgement]:
    """Who acknowledged which version of ``guide``: every labeler for ops, the labelers of
    their vendors for a vendor manager, nothing for anyone else. Labeler, login, vendor and
    version are joined (no query per row)."""
    qs = (
        GuideAcknowledgement.objects.filter(version__guide=guide)
        .select_related("labeler__user", "labeler__vendor", "version")
        .defer("version__body", "version__label_definitions")
    )
    if is_ops(actor):
        return qs
    return qs.filter(labeler__vendor_id__in=managed_vendor_ids(actor))


def guide_unacknowledged_labelers_for(*, actor: User, guide: Guide) -> QuerySet[Labeler]:
    """Labelers in the caller's scope (all for ops, their vendors' for a vendor manager, none
    for others) who are not offboarded and have not acknowledged any version of the guide's
    current major line — those who may not take its quizzes or work on its projects. Empty when
    nothing is published."""
    current = guide_current_version(guide=guide)
    if current is None:
        return Labeler.objects.none()
    acknowledged = GuideAcknowledgement.objects.filter(
        labeler_id=OuterRef("pk"), version__guide_id=guide.pk, version__major=current.major
    )
    qs = (
        Labeler.objects.exclude(status=Labeler.Status.OFFBOARDED)
        .filter(~Exists(acknowledged))
        .select_related("user", "vendor")
    )
    if is_ops(actor):
        return qs
    return qs.filter(vendor_id__in=managed_vendor_ids(actor))
