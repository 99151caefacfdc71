"""Flags on control tasks reach the senior queue like flags on real tasks (issue 9, point 7).

Seen from a senior — ``POST reviews/next/``, ``POST reviews/{id}/resolve/`` (with and without
``promote_to_gold``), ``GET reviews/`` — a flag on a control task has the same keys and value
types as one on a real task, both appear, and the gold answer (a canary) never shows. The
senior's decision on the control task is recorded, not applied: the task keeps no final answer
and the gold item is unchanged; the senior is recorded as exposed to the item.
"""

from __future__ import annotations

from typing import Any

import pytest

from assignments import services as work_services
from assignments.models import Assignment, Review, Task
from assignments.services import review as services
from qc.models import GoldExposure, GoldItem, GoldSet
from tests.assignments.factories import (
    CANARY,
    AlwaysControl,
    NeverControl,
    make_project,
    resolve_gold_review,
    with_controls,
)
from tests.factories import make_labeler, token_client

pytestmark = pytest.mark.django_db


def shape(value: Any) -> Any:
    """Keys and value types, recursively: what must not differ between the two kinds."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return sorted({repr(shape(item)) for item in value})
    return type(value).__name__


@pytest.fixture
def flagged():
    """One flag on a real task and one on a control task of the same project, by two labelers;
    returns (project, {is_control: review id})."""
    project = make_project(tasks=3, overlap=2)
    gold_set = with_controls(project, n=2)
    GoldSet.objects.filter(pk=gold_set.pk).update(slug="poles-gold-flags")
    flags = {}
    for is_control, rng in ((False, NeverControl()), (True, AlwaysControl())):
        labeler = make_labeler()
        claim = work_services.assignment_claim_next(labeler=labeler, project_id=project.pk, rng=rng)
        assert claim.assignment.is_control is is_control
        work_services.assignment_submit(
            labeler=labeler, assignment_id=claim.assignment.pk, answer="ok"
        )
        flag = services.assignment_flag(
            labeler=labeler, assignment_id=claim.assignment.pk, question="Is this rust or ok?"
        )
        flags[is_control] = flag.review.pk
    return project, flags


def _kind_of(review_id: int) -> bool:
    return Review.objects.get(pk=review_id).task.gold_item_id is not None


def test_a_senior_gets_both_flags_and_cannot_tell_them_apart(flagged, client_for, ops_user):
    _project, flags = flagged
    senior = make_labeler(seniority="senior")
    client = token_client(senior)
    claimed: dict[bool, dict] = {}
    resolved: dict[bool, dict] = {}
    for _ in range(2):
        response = client.post("/api/v1/reviews/next/")
        assert response.status_code == 201
        body = response.json()
        assert CANARY not in response.content.decode()
        is_control = _kind_of(body["id"])
        claimed[is_control] = body
        done = client.post(
            f"/api/v1/reviews/{body['id']}/resolve/",
            {"answer": "rust", "note": "Rust: orange flakes."},
            format="json",
        )
        assert done.status_code == 200
        assert CANARY not in done.content.decode()
        resolved[is_control] = done.json()
    assert client.post("/api/v1/reviews/next/").status_code == 204

    assert {c["id"] for c in claimed.values()} == set(flags.values())  # both appear
    assert shape(claimed[True]) == shape(claimed[False])
    assert claimed[True]["kind"] == claimed[False]["kind"] == "flag"
    assert claimed[True]["answers"] == claimed[False]["answers"] == []
    assert shape(resolved[True]) == shape(resolved[False])
    for body in resolved.values():
        assert (body["task_final_answer"], body["task_decided_by"], body["decided_task"]) == (
            "rust",
            "review",
            True,
        )
    listed = client.get("/api/v1/reviews/").json()["results"]
    assert {r["id"] for r in listed} == set(flags.values())
    assert shape(listed[0]) == shape(listed[1])
    assert CANARY not in str(listed)

    # Recorded, not applied: the control task has no final answer, the gold is unchanged.
    control_task = Review.objects.get(pk=flags[True]).task
    assert (control_task.final_answer, control_task.decided_by) == (None, "")
    gold = GoldItem.objects.get(pk=control_task.gold_item_id)
    assert gold.accepted_answers == [CANARY]
    review = Review.objects.get(pk=flags[True])
    assert (review.answer, review.note, review.status) == (
        "rust",
        "Rust: orange flakes.",
        "resolved",
    )
    real_task = Review.objects.get(pk=flags[False]).task
    assert (real_task.final_answer, real_task.decided_by) == ("rust", "review")
    # The senior met the control task's item: it is never served to them as a control task.
    assert GoldExposure.objects.filter(
        labeler=senior, gold_item_id=control_task.gold_item_id, reason="reviewed"
    ).exists()
    # Ops see both, and which one was a control task (through its task).
    ops_listed = client_for(ops_user).get("/api/v1/reviews/?kind=flag").json()["results"]
    assert {r["id"] for r in ops_listed} == set(flags.values())


def test_a_retried_resolution_of_a_control_flag_reads_like_a_real_one(flagged):
    senior = make_labeler(seniority="senior")
    replies = {}
    for _ in range(2):
        claim = services.review_claim_next(reviewer=senior)
        first = services.review_resolve(
            reviewer=senior, review_id=claim.review.pk, answer="ok", note="ok"
        )
        again = services.review_resolve(
            reviewer=senior, review_id=claim.review.pk, answer="ok", note="ok"
        )
        assert not again.created
        replies[_kind_of(claim.review.pk)] = [
            (r.review.decided_task, r.review.task.final_answer, r.review.task.decided_by)
            for r in (first, again)
        ]
    assert replies[True] == replies[False] == [(True, "ok", "review")] * 2


def test_promoting_a_control_flag_makes_no_gold_and_answers_like_a_real_promotion(flagged):
    senior = make_labeler(seniority="senior")
    items_before = set(GoldItem.objects.values_list("pk", flat=True))
    promoted = {}
    for _ in range(2):
        claim = services.review_claim_next(reviewer=senior)
        result = services.review_resolve(
            reviewer=senior,
            review_id=claim.review.pk,
            answer="crack",
            note="Crack along the pole.",
            promote_to_gold="poles-gold-flags",
        )
        promoted[_kind_of(claim.review.pk)] = result.review
    assert isinstance(promoted[True].gold_item_id, int)
    assert isinstance(promoted[False].gold_item_id, int)
    new = set(GoldItem.objects.values_list("pk", flat=True)) - items_before
    assert new == {promoted[False].gold_item_id}  # only the real task became gold
    control_item = GoldItem.objects.get(pk=promoted[True].gold_item_id)
    assert control_item.accepted_answers == [CANARY]
    # Whoever wrote or labeled the new item never gets it as a control task.
    (item,) = new
    real_labelers = set(
        Assignment.objects.filter(task=promoted[False].task_id).values_list("labeler_id", flat=True)
    )
    exposed = dict(
        GoldExposure.objects.filter(gold_item_id=item).values_list("labeler_id", "reason")
    )
    assert exposed == {senior.pk: "authored", **dict.fromkeys(real_labelers, "labeled_source")}


def test_a_control_flag_is_no_longer_kept_for_ops(flagged):
    _project, flags = flagged
    assert not Review.objects.filter(pk__in=flags.values(), for_ops=True).exists()
    assert Task.objects.filter(reviews__pk=flags[True], gold_item__isnull=False).exists()


def test_the_reviewer_of_a_gold_review_is_never_served_the_item(control_world):
    """Ops who also label decide a quarantined item's answer in a gold review: they know it."""
    _project, item, _answers, ops_senior = control_world
    resolve_gold_review(item, ops_senior, answer="rust", note="Rust, clearly.")
    assert GoldExposure.objects.filter(labeler=ops_senior, gold_item=item).exists()
