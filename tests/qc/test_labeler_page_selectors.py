"""The reads the labeler pages' home and quality page use: guide states in one query, quiz
gating from facts already loaded, a scorecard's headline in one query and the figures per
project — each equal to the selector it stands in for."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from qc.models import GuideVersion, Quiz
from qc.selectors import quality_facts
from qc.selectors.guides import guide_list_for, guide_states_for, guide_states_readable_for
from qc.selectors.overview import (
    guides_missing_from_states,
    quiz_availability_with,
    quiz_list_with_items_for,
)
from qc.selectors.quizzes import quiz_availability_for, quiz_list_for
from qc.services import quizzes as quiz_services
from tests.factories import make_labeler
from tests.qc.factories import (
    GuideFactory,
    acknowledge,
    make_draft,
    make_gold_set,
    make_published_guide,
    publish_version,
    record_checks,
    record_outcomes,
)
from workforce.models import Labeler

pytestmark = pytest.mark.django_db

MAJOR = GuideVersion.Bump.MAJOR


def _guides(labeler):
    """Guides in every state for ``labeler``: never acknowledged, up to date, minor versions
    since, a new major since, a draft only."""
    never, _ = make_published_guide("never")
    current, _ = make_published_guide("current")
    acknowledge(labeler, current)
    minor, _ = make_published_guide("minor")
    acknowledge(labeler, minor)
    publish_version(minor, change_summary="Rust defined.")
    publish_version(minor, change_summary="Birds ignored.")
    major, _ = make_published_guide("major")
    acknowledge(labeler, major)
    publish_version(major, bump=MAJOR, change_summary="Boxes now.")
    make_draft(GuideFactory(slug="draft-only"))
    return never, current, minor, major


def test_guide_states_in_one_query_are_those_of_guide_states_for(internal_labeler):
    _guides(internal_labeler)
    user = internal_labeler.user
    readable = guide_states_readable_for(actor=user)
    expected = guide_states_for(actor=user, guides=guide_list_for(actor=user))

    assert [g.slug for g, _ in readable] == ["current", "major", "minor", "never"]  # by name
    for guide, state in readable:
        want = expected[guide.pk]
        assert state.current.pk == want.current.pk
        assert state.must_acknowledge == want.must_acknowledge
        assert getattr(state.acknowledged_version, "pk", None) == getattr(
            want.acknowledged_version, "pk", None
        )
        assert state.acknowledged_at == want.acknowledged_at
        assert [v.pk for v in state.changes_since_ack] == [v.pk for v in want.changes_since_ack]
    states = {g.slug: s for g, s in readable}
    assert states["never"].must_acknowledge and not states["never"].changes_since_ack
    assert not states["current"].must_acknowledge
    assert not states["minor"].must_acknowledge
    assert [v.change_summary for v in states["minor"].changes_since_ack] == [
        "Birds ignored.",
        "Rust defined.",
    ]
    assert states["major"].must_acknowledge
    assert [v.number for v in states["major"].changes_since_ack] == ["2.0"]


def test_guide_states_cost_one_query(internal_labeler, django_assert_num_queries):
    _guides(internal_labeler)
    user = (
        type(internal_labeler.user)
        .objects.select_related("labeler")
        .get(pk=internal_labeler.user_id)
    )
    with django_assert_num_queries(1):
        assert len(guide_states_readable_for(actor=user)) == 4


def test_a_caller_who_is_not_a_labeler_gets_no_acknowledgement_state(manager_a, internal_labeler):
    _guides(internal_labeler)
    states = guide_states_readable_for(actor=manager_a)
    assert len(states) == 4 and all(s.must_acknowledge is None for _, s in states)


def _quiz(slug, *, kind=Quiz.Kind.TRAINING, guide=None, items=3, **extra):
    return Quiz.objects.create(
        slug=slug,
        title=slug.title(),
        kind=kind,
        gold_set=make_gold_set(items=items),
        guide=guide,
        num_questions=extra.pop("num_questions", 2),
        pass_mark="0.5",
        **extra,
    )


@pytest.mark.parametrize("status", [Labeler.Status.ACTIVE, Labeler.Status.ONBOARDING])
def test_quiz_availability_with_loaded_facts_is_quiz_availability_for(status):
    labeler = make_labeler(status=status)
    never, current, _minor, major = _guides(labeler)
    quizzes = [
        _quiz("unread", guide=never),
        _quiz("read", guide=current),
        _quiz("reread", guide=major),
        _quiz("thin", items=1),
        _quiz("delayed", max_attempts=3, retry_delay_seconds=3600),
        _quiz("inactive", is_active=False),
    ]
    if status == Labeler.Status.ACTIVE:
        delayed = quizzes[4]
        attempt, _ = quiz_services.quiz_attempt_start(
            actor=labeler.user, labeler=labeler, quiz=delayed
        )
        quiz_services.quiz_attempt_finish(actor=labeler.user, attempt=attempt)
    user = labeler.user
    now = timezone.now()
    listed = list(quiz_list_with_items_for(actor=user))
    assert [q.slug for q in listed] == [q.slug for q in quiz_list_for(actor=user)]
    states = {g.pk: s for g, s in guide_states_readable_for(actor=user)}
    got = quiz_availability_with(
        labeler=labeler, quizzes=listed, guides_missing=guides_missing_from_states(states), now=now
    )
    want = quiz_availability_for(labeler=labeler, quizzes=listed, now=now)
    assert got == want
    codes = {q.slug: [b.code for b in got[q.pk].blocked] for q in listed}
    if status == Labeler.Status.ONBOARDING:
        assert all("labeler_inactive" in c for c in codes.values())
    else:
        assert codes["unread"] == ["guide_not_acknowledged"]
        assert codes["read"] == []
        assert codes["reread"] == ["guide_not_acknowledged"]
        assert codes["thin"] == ["not_enough_items"]
        assert codes["delayed"] == ["retry_delay"]
        assert got[quizzes[4].pk].attempts_used == 1 and got[quizzes[4].pk].attempts_left == 2


def test_quiz_availability_with_costs_two_queries(internal_labeler, django_assert_num_queries):
    from workforce.models import QualificationType

    qtype = QualificationType.objects.create(slug="poles", name="Poles")
    _quiz("qualifying", kind=Quiz.Kind.QUALIFICATION, qualification_type=qtype, validity_days=30)
    [_quiz(f"q{i}") for i in range(3)]
    quizzes = list(quiz_list_with_items_for(actor=internal_labeler.user))
    with django_assert_num_queries(2):
        quiz_availability_with(labeler=internal_labeler, quizzes=quizzes, guides_missing={})


def test_the_summary_is_the_30_day_window_of_the_scorecard(
    internal_labeler, django_assert_num_queries
):
    record_checks(internal_labeler, "1101110")
    record_outcomes(internal_labeler, "1101")
    record_checks(internal_labeler, "00", start=timezone.now() - timedelta(days=40))
    now = timezone.now()
    before = quality_facts.start_of_day(now)
    with django_assert_num_queries(1):
        summary = quality_facts.labeler_summary(
            labeler_id=internal_labeler.pk, now=now, before=before
        )
    gold = quality_facts.gold_accuracy(labeler_id=internal_labeler.pk, now=now, before=before)
    agreement = quality_facts.agreement(labeler_id=internal_labeler.pk, now=now, before=before)
    assert summary["gold"] == gold["windows"]["last_30_days"]
    assert summary["gold"]["n"] == 7 and summary["gold"]["correct"] == 5
    assert summary["pairwise"] == agreement["pairwise"]["last_30_days"]
    assert summary["with_final"] == agreement["with_final"]["last_30_days"]


def test_the_summary_of_a_labeler_without_facts_is_empty(internal_labeler):
    summary = quality_facts.labeler_summary(labeler_id=internal_labeler.pk)
    assert summary["gold"]["n"] == 0 and summary["gold"]["rate"] is None


def test_scores_by_project_are_the_score_table_rows(internal_labeler, vendor_labeler):
    record_checks(internal_labeler, "110", project_id=11)
    record_checks(internal_labeler, "01", project_id=12)
    record_outcomes(internal_labeler, "10", project_id=12)
    record_checks(vendor_labeler, "000", project_id=11)
    now = timezone.now()
    before = quality_facts.start_of_day(now)
    mine = quality_facts.labeler_scores_by_project(
        labeler_id=internal_labeler.pk, before=before, now=now
    )
    assert set(mine) == {11, 12}
    for project_id, row in mine.items():
        table = quality_facts.labeler_score_table(project_id=project_id, before=before, now=now)
        want = dict(table[internal_labeler.pk])
        del want["estimate"]
        assert row == want
    assert mine[11]["gold_all_time"]["correct"] == 2
    assert mine[12]["with_final"]["n"] == 2
