"""qc factories. Guides, versions, gold sets and items are made through the services, so what
a test starts from is what production would hold (validated, canonical, with history rows)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import factory
from factory.django import DjangoModelFactory

from qc.models import AnswerType, GoldItem, GoldSet, Guide, GuideAcknowledgement, GuideVersion
from qc.services import gold as gold_services
from qc.services import guides as guide_services
from workforce.models import Labeler, User

_seq = itertools.count(1)


# -- guides -------------------------------------------------------------------------------------


class GuideFactory(DjangoModelFactory):
    class Meta:
        model = Guide
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"guide-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    project_family = "utility poles"


LABEL_DEFINITIONS = [
    {"label": "crack", "definition": "A visible fracture.", "examples": ["img/crack-1.jpg"]},
    {"label": "rust", "definition": "Orange-brown corrosion.", "examples": []},
]


def make_draft(
    guide: Guide,
    *,
    bump: str = GuideVersion.Bump.MINOR,
    body: str = "# Guide\n\nLabel what you see.",
    change_summary: str = "",
    label_definitions: list[dict[str, Any]] | None = None,
    actor: User | None = None,
) -> GuideVersion:
    return guide_services.guide_version_create(
        actor=actor,
        guide=guide,
        body=body,
        bump=bump,
        label_definitions=LABEL_DEFINITIONS if label_definitions is None else label_definitions,
        change_summary=change_summary,
    )


def publish_version(
    guide: Guide,
    *,
    bump: str = GuideVersion.Bump.MINOR,
    change_summary: str = "",
    body: str | None = None,
    actor: User | None = None,
) -> GuideVersion:
    """Write a draft and publish it: 1.0 first, then per ``bump``."""
    draft = make_draft(
        guide,
        bump=bump,
        change_summary=change_summary,
        body=body or f"# Guide\n\nRevision {next(_seq)}.",
        actor=actor,
    )
    return guide_services.guide_version_publish(actor=actor, version=draft)


def make_published_guide(slug: str | None = None, **kwargs) -> tuple[Guide, GuideVersion]:
    guide = GuideFactory(**({"slug": slug} if slug else {}))
    return guide, publish_version(guide, change_summary="First version.", **kwargs)


def acknowledge(labeler: Labeler, guide: Guide) -> GuideAcknowledgement:
    return guide_services.guide_acknowledge(actor=labeler.user, labeler=labeler, guide=guide)


# -- gold ---------------------------------------------------------------------------------------

DEFAULT_CLASSES = {
    AnswerType.SINGLE_CHOICE: ["crack", "rust", "ok"],
    AnswerType.MULTIPLE_CHOICE: ["crack", "rust", "bird"],
    AnswerType.BOXES: ["pole", "insulator"],
}
DEFAULT_ACCEPTED = {
    AnswerType.SINGLE_CHOICE: ["crack"],
    AnswerType.MULTIPLE_CHOICE: [["crack", "rust"]],
    AnswerType.BOXES: [[{"label": "pole", "x": 10.0, "y": 20.0, "w": 30.0, "h": 40.0}]],
}


def make_gold_set(
    *,
    answer_type: str = AnswerType.SINGLE_CHOICE,
    classes: list[str] | None = None,
    guide: Guide | None = None,
    slug: str | None = None,
    iou_threshold: Decimal | str = "0.50",
    actor: User | None = None,
) -> GoldSet:
    number = next(_seq)
    return gold_services.gold_set_create(
        actor=actor,
        slug=slug or f"gold-{number}",
        name=f"Gold set {number}",
        answer_type=answer_type,
        classes=list(classes or DEFAULT_CLASSES[answer_type]),
        iou_threshold=iou_threshold,
        guide=guide,
    )


def make_gold_item(
    gold_set: GoldSet,
    *,
    external_id: str | None = None,
    accepted_answers: list[Any] | None = None,
    image_url: str = "https://img.example.test/pole.jpg",
    metadata: dict[str, Any] | None = None,
    explanation: str = "Look at the base of the pole.",
    guide_version: GuideVersion | None = None,
    difficulty: str = GoldItem.Difficulty.MEDIUM,
    status: str = GoldItem.Status.ACTIVE,
    actor: User | None = None,
) -> GoldItem:
    return gold_services.gold_item_create(
        actor=actor,
        gold_set=gold_set,
        external_id=external_id or f"item-{next(_seq)}",
        payload={"image_url": image_url, "metadata": metadata or {}},
        accepted_answers=(
            accepted_answers
            if accepted_answers is not None
            else DEFAULT_ACCEPTED[gold_set.answer_type]
        ),
        explanation=explanation,
        guide_version=guide_version,
        difficulty=difficulty,
        status=status,
    )


# -- the admin smoke test's sample rows ---------------------------------------------------------


def qc_admin_samples(*, actor: User, labeler: Labeler) -> dict[str, Any]:
    """At least one row of every guide and gold model with an admin, for the admin smoke test
    (tests/workforce/test_admin.py's ``sample_data``; quiz rows come from quiz_factories)."""
    guide, version = make_published_guide(slug="sample-guide", actor=actor)
    draft = make_draft(guide, bump=GuideVersion.Bump.MAJOR, change_summary="Next.", actor=actor)
    ack = acknowledge(labeler, guide)
    gold_set = make_gold_set(guide=guide, slug="sample-gold", actor=actor)
    item = make_gold_item(gold_set, external_id="sample-1", guide_version=version, actor=actor)
    return {
        "guide": guide,
        "guide_version": version,
        "guide_draft": draft,
        "guide_ack": ack,
        "gold_set": gold_set,
        "gold_item": item,
    }
