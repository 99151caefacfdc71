"""qc factories. Guides, versions, gold sets and items are made through the services, so what
a test starts from is what production would hold (validated, canonical, with history rows)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from qc.models import (
    AnswerType,
    GoldItem,
    GoldSet,
    Guide,
    GuideAcknowledgement,
    GuideVersion,
    LabelOutcome,
    QualityRule,
)
from qc.selectors.quality_facts import start_of_day
from qc.services import gold as gold_services
from qc.services import guides as guide_services
from qc.services import rules as rule_services
from qc.services.quality_facts import gold_check_record
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
    items: int = 0,
) -> GoldSet:
    """A gold set made through the service (validated), labels ``classes`` (by default those
    of ``DEFAULT_CLASSES``), with ``items`` active items of the default answers
    (``make_gold_item``)."""
    number = next(_seq)
    gold_set = gold_services.gold_set_create(
        actor=actor,
        slug=slug or f"gold-{number}",
        name=f"Gold set {number}",
        answer_type=answer_type,
        classes=list(classes or DEFAULT_CLASSES[answer_type]),
        iou_threshold=iou_threshold,
        guide=guide,
    )
    for _ in range(items):
        make_gold_item(gold_set, actor=actor)
    return gold_set


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


def demo_gold_payload(n: int) -> dict:
    """What the demo's gold looked like: another directory, three digits, seven keys (a gold
    payload shaped unlike the real tasks, for the control-set shape checks)."""
    return {
        "image_url": f"https://demo.example/poles/{n:03d}.jpg",
        "metadata": {
            "pole_id": f"PL-{4100 + n}",
            "material": "steel",
            "region": "Kerala",
            "flight": "F-2024-01",
            "captured_at": "2024-06-03T08:07:00Z",
            "altitude_m": 6,
            "view": "north",
        },
    }


# -- quality rules and the facts they read ------------------------------------------------------

PROJECT = 7001  # the project id the rules tests record facts for and scope rules to

_assignment_ids = itertools.count(900_000)
_clock = itertools.count(1)
# Rules are decided on the facts recorded before the start of the day (qc.services.rules):
# these helpers record their facts yesterday.
_BASE = start_of_day(timezone.now()) - timedelta(days=1)


def _tick():
    """Strictly increasing fact times (yesterday), so "the last N" is unambiguous."""
    return _BASE + timedelta(seconds=next(_clock))


_gold_items: dict[str, object] = {}


def _gold_item():
    """One gold item (answer "crack") per test database."""
    item = _gold_items.get("item")
    if item is None or not type(item).objects.filter(pk=item.pk).exists():
        gold_set = make_gold_set(slug=f"rules-gold-{next(_clock)}")
        item = make_gold_item(gold_set, accepted_answers=["crack"])
        _gold_items["item"] = item
    return item


def record_checks(
    labeler: Labeler, results: str, *, project_id: int = PROJECT, start: datetime | None = None
) -> None:
    """Gold checks through the real grading service, oldest first: ``"1"`` right, ``"0"``
    wrong; a second apart from ``start`` when given, else yesterday (``_tick``)."""
    item = _gold_item()
    for i, r in enumerate(results):
        gold_check_record(
            labeler_id=labeler.pk,
            gold_item=item,
            project_id=project_id,
            assignment_id=next(_assignment_ids),
            answer_type="single_choice",
            answer="crack" if r == "1" else "rust",
            iou_threshold=0.5,
            now=_tick() if start is None else start + timedelta(seconds=i),
        )


def record_outcomes(labeler: Labeler, results: str, *, project_id: int = PROJECT) -> None:
    """Label outcomes, oldest first: ``"1"`` agrees with the final label, ``"0"`` does not."""
    for r in results:
        at = _tick()
        LabelOutcome.objects.create(
            project_id=project_id,
            task_id=next(_assignment_ids),
            assignment_id=next(_assignment_ids),
            labeler=labeler,
            answer="crack",
            answer_class="crack",
            final_class="crack" if r == "1" else "rust",
            agrees_final=r == "1",
            peers=2,
            peers_agreeing=1,
            decided_by="consensus",
            submitted_at=at,
            decided_at=at,
        )


def make_rule(
    action: str = QualityRule.Action.WARN,
    *,
    project_id: int = PROJECT,
    actor: User | None = None,
    **overrides,
) -> QualityRule:
    """A rule made through the service. By default: the upper bound of gold accuracy over the
    last 20 checks (at least 10) is below 0.8."""
    values = {
        "name": f"{action} rule",
        "metric": QualityRule.Metric.GOLD_ACCURACY,
        "window": 20,
        "min_n": 10,
        "bound": "upper",
        "comparison": "below",
        "threshold": Decimal("0.800"),
        **overrides,
    }
    return rule_services.rule_create(actor=actor, project_id=project_id, action=action, **values)


def rule_form(**overrides) -> dict[str, Any]:
    """The admin's add form of a quality rule, filled in (a warn rule on ``PROJECT``)."""
    return {
        "project_id": PROJECT,
        "name": "Gold floor",
        "metric": "gold_accuracy",
        "window": 50,
        "min_n": 10,
        "bound": "upper",
        "comparison": "below",
        "threshold": "0.800",
        "action": "warn",
        "qualification_type": "",
        "control_rate": "",
        "test": "",
        "alpha": "0.05",
        "beta": "0.1",
        "delta": "0.1",
        "lift_quiz": "",
        "is_active": "on",
        **overrides,
    }


# -- the admin smoke test's sample rows ---------------------------------------------------------


def qc_admin_samples(*, actor: User, labeler: Labeler) -> dict[str, Any]:
    """At least one row of every guide and gold model with an admin, for the admin smoke test
    (tests/config/test_admin_smoke.py's ``sample_data``; quiz rows come from quiz_factories)."""
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


def rules_admin_samples(*, actor: User, labeler: Labeler) -> dict[str, Any]:
    """A rule and one firing of it, for the admin smoke test (tests/config/test_admin_smoke.py)."""
    rule = make_rule(QualityRule.Action.WARN, name="Sample gold floor")
    record_checks(labeler, "0" * 10)
    (firing,) = rule_services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)
    return {"quality_rule": rule, "rule_firing": firing}
