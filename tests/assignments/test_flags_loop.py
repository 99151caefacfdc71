"""Flags close their loop (issue 14): a labeler reads the answer to their flag
(``GET /api/v1/me/flags/`` and the labeler page ``flags/``), a flag on a control task — answered
here by an operations manager — reads exactly like one on a real task (keys, their order, status
values, nulls), never with the reviewer's label or the gold answer; a resolution can propose a
guide change that ops link to the published guide version answering it (service, API, admin
action); resolving a flag announces ``flag_resolved``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.urls import reverse

from assignments import services as work_services
from assignments import signals
from assignments.models import Review
from assignments.services import review as services
from config.errors import Conflict, Forbidden
from qc.models import GoldExposure, GoldSet
from tests.assignments.factories import (
    CANARY,
    AlwaysControl,
    NeverControl,
    make_project,
    with_controls,
)
from tests.factories import admin_url, make_labeler, token_client
from tests.qc.quiz_factories import make_guide, publish_version
from workforce import roles

pytestmark = pytest.mark.django_db

QUESTION = "Is a faint streak a crack or ok?"
NOTE = "Faint streaks under 2 mm are not cracks; see section 3."
REVIEWER_LABEL = "rust"  # the label the reviewers give: it must never reach the labeler


def layout(value: Any) -> Any:
    """Keys in their order and each value's type, recursively (None stays None): what must
    not differ between a flag on a control task and one on a real task."""
    if isinstance(value, dict):
        return [(key, layout(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [layout(item) for item in value]
    return None if value is None else type(value).__name__


@pytest.fixture
def world():
    """A project with a guide (published 1.0 and 1.1, a draft), one flag on a real task and
    one on a control task by two labelers; a senior labeler and an operations manager who is
    a senior labeler too (ops answer flags from the same queue)."""
    guide = make_guide(published=((1, 0), (1, 1)))
    project = make_project(tasks=3, overlap=2, guide=guide, require_guide_ack=False)
    gold_set = with_controls(project, n=2)
    GoldSet.objects.filter(pk=gold_set.pk).update(slug="flags-loop-gold")
    labelers, flags = {}, {}
    for is_control, rng in ((False, NeverControl()), (True, AlwaysControl())):
        labeler = make_labeler()
        claim = work_services.assignment_claim_next(labeler=labeler, project_id=project.pk, rng=rng)
        assert claim.assignment.is_control is is_control
        work_services.assignment_submit(
            labeler=labeler, assignment_id=claim.assignment.pk, answer="ok"
        )
        flag = services.assignment_flag(
            labeler=labeler, assignment_id=claim.assignment.pk, question=QUESTION
        )
        labelers[is_control], flags[is_control] = labeler, flag.review.pk
    senior = make_labeler(seniority="senior")
    ops_senior = make_labeler(seniority="senior")
    ops_senior.user.is_staff = True
    ops_senior.user.save(update_fields=["is_staff"])
    ops_senior.user.groups.add(Group.objects.get(name=roles.OPS_MANAGERS))
    return {
        "project": project,
        "guide": guide,
        "labelers": labelers,
        "flags": flags,
        "senior": senior,
        "ops_senior": ops_senior,
    }


def my_flags(labeler) -> list[dict]:
    response = token_client(labeler).get("/api/v1/me/flags/")
    assert response.status_code == 200
    assert CANARY not in response.content.decode()
    return response.json()["results"]


def answer_both(world, *, proposes: bool = True) -> None:
    """The senior answers the real flag and the operations manager the control one, through
    the API, with the same note."""
    for reviewer, is_control in ((world["senior"], False), (world["ops_senior"], True)):
        client = token_client(reviewer)
        claimed = client.post("/api/v1/reviews/next/")
        assert claimed.status_code == 201
        assert claimed.json()["id"] == world["flags"][is_control]
        done = client.post(
            f"/api/v1/reviews/{claimed.json()['id']}/resolve/",
            {"answer": REVIEWER_LABEL, "note": NOTE, "proposes_guide_change": proposes},
            format="json",
        )
        assert done.status_code == 200, done.json()


def test_a_labeler_reads_the_answer_to_their_flag_the_same_for_control_and_real(world):
    labelers, flags = world["labelers"], world["flags"]
    before = {c: my_flags(labelers[c]) for c in (False, True)}
    for is_control, rows in before.items():
        assert [r["id"] for r in rows] == [flags[is_control]]  # their own flag only
        (row,) = rows
        assert row["status"] == "open"
        assert (row["answer_note"], row["answered_at"], row["guide_version"]) == (None,) * 3
        assert row["question"] == QUESTION
    assert layout(before[True]) == layout(before[False])

    answer_both(world)
    after = {c: my_flags(labelers[c]) for c in (False, True)}
    assert layout(after[True]) == layout(after[False])
    for rows in after.values():
        (row,) = rows
        assert row["status"] == "answered"
        assert row["answer_note"] == NOTE
        assert row["answered_at"] is not None
        assert row["proposes_guide_change"] is True
        assert row["guide_version"] is None  # not linked yet
        # Never the reviewer's label, the reviewer or the gold answer.
        assert REVIEWER_LABEL not in str(row) and CANARY not in str(row)
        assert not {"answer", "reviewer", "gold_item", "kind", "for_ops"} & set(row)
    # The same values where they are not the flag's own (ids, times).
    own = ("id", "task", "assignment", "created_at", "answered_at")
    strip = [{k: v for k, v in rows[0].items() if k not in own} for rows in after.values()]
    assert strip[0] == strip[1]


def test_ops_link_a_proposed_guide_change_to_the_published_version(world, client_for, ops_user):
    answer_both(world)
    guide, flags = world["guide"], world["flags"]
    versions = {v.number: v for v in guide.versions.all()}
    draft = guide.versions.create(body="draft", status="draft")
    other = publish_version(make_guide(published=()), 1, 0)
    ops = client_for(ops_user)

    def link(review_id, version_id):
        return ops.post(
            f"/api/v1/reviews/{review_id}/guide-version/",
            {"guide_version": version_id},
            format="json",
        )

    for bad in (draft.pk, other.pk):
        refused = link(flags[False], bad)
        assert refused.status_code == 400
        assert "guide_version" in refused.json()["fields"]
    assert Review.objects.get(pk=flags[False]).guide_version_id is None
    senior = token_client(world["senior"])
    assert (
        senior.post(
            f"/api/v1/reviews/{flags[False]}/guide-version/",
            {"guide_version": versions["1.1"].pk},
            format="json",
        ).status_code
        == 403
    )
    assert link(999_999, versions["1.1"].pk).status_code == 404
    for is_control in (False, True):
        done = link(flags[is_control], versions["1.1"].pk)
        assert done.status_code == 200
        assert done.json()["guide_version"] == versions["1.1"].pk

    rows = {c: my_flags(world["labelers"][c])[0] for c in (False, True)}
    assert layout(rows[True]) == layout(rows[False])
    for row in rows.values():
        assert row["guide_version"] == {
            "id": versions["1.1"].pk,
            "guide": guide.pk,
            "number": "1.1",
            "url": f"/api/v1/guides/{guide.pk}/?version={versions['1.1'].pk}",
        }


def test_only_a_resolved_flag_proposing_a_change_is_linked(world, ops_user):
    version = world["guide"].versions.get(major=1, minor=1)
    flag_id = world["flags"][False]
    with pytest.raises(Exception) as open_flag:
        services.flag_link_guide_version(
            actor=ops_user, review_id=flag_id, guide_version_id=version.pk
        )
    assert "review" in open_flag.value.message_dict
    answer_both(world, proposes=False)
    with pytest.raises(Exception) as no_proposal:
        services.flag_link_guide_version(
            actor=ops_user, review_id=flag_id, guide_version_id=version.pk
        )
    assert "review" in no_proposal.value.message_dict


def test_a_guide_change_is_proposed_by_flags_only(world):
    project = world["project"]
    task = project.tasks.filter(gold_item__isnull=True).order_by("id").last()
    review = Review.objects.create(task=task, project=project, kind="disagreement", confidence=0.1)
    client = token_client(world["senior"])
    assert client.post("/api/v1/reviews/next/").json()["id"] == review.pk  # the lowest first
    refused = client.post(
        f"/api/v1/reviews/{review.pk}/resolve/",
        {"answer": "ok", "note": "ok", "proposes_guide_change": True},
        format="json",
    )
    assert refused.status_code == 400
    assert "proposes_guide_change" in refused.json()["fields"]
    review.refresh_from_db()
    assert (review.status, review.answer, review.proposes_guide_change) == ("leased", None, False)


def test_resolving_a_flag_announces_it_and_other_reviews_do_not(world):
    heard: list[Review] = []

    def receiver(sender, review, **kwargs):
        heard.append(review)

    signals.flag_resolved.connect(receiver)
    try:
        answer_both(world)
    finally:
        signals.flag_resolved.disconnect(receiver)
    assert sorted(r.pk for r in heard) == sorted(world["flags"].values())
    assert all(r.status == "resolved" and r.note == NOTE for r in heard)


def test_my_flags_is_for_labelers_and_costs_the_same_for_many_flags(
    world, client_for, ops_user, manager_a, django_assert_max_num_queries
):
    assert client_for(ops_user).get("/api/v1/me/flags/").status_code == 403
    assert client_for(manager_a).get("/api/v1/me/flags/").status_code == 403
    labeler = world["labelers"][False]
    client = token_client(labeler)
    with django_assert_max_num_queries(4) as few:
        assert len(client.get("/api/v1/me/flags/").json()["results"]) == 1
    project = world["project"]
    for _ in range(4):
        claim = work_services.assignment_claim_next(
            labeler=labeler, project_id=project.pk, rng=NeverControl()
        )
        if claim is None:
            break
        work_services.assignment_submit(
            labeler=labeler, assignment_id=claim.assignment.pk, answer="ok"
        )
        services.assignment_flag(
            labeler=labeler, assignment_id=claim.assignment.pk, question=QUESTION
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get("/api/v1/me/flags/").json()["results"]) > 1


def test_the_flags_page_reads_the_same_for_control_and_real(world, client):
    answer_both(world)
    pages = {}
    for is_control, labeler in world["labelers"].items():
        client.force_login(labeler.user)
        response = client.get(reverse("labeler:flags"))
        assert response.status_code == 200
        html = response.content.decode()
        assert NOTE in html and QUESTION.replace("?", "") in html
        assert CANARY not in html
        mine = world["flags"][is_control]
        other = world["flags"][not is_control]
        assert f'id="flag-{mine}"' in html and f'id="flag-{other}"' not in html
        # Ids, task numbers and times differ; nothing else may.
        pages[is_control] = re.sub(r"\d+", "#", html.split("<main", 1)[1])
    assert pages[True] == pages[False]


def test_the_admin_action_links_flags_to_a_guide_version(world, ops_client):
    answer_both(world)
    version = world["guide"].versions.get(major=1, minor=0)
    ids = sorted(world["flags"].values())
    url = admin_url(Review, "changelist")
    asked = ops_client.post(url, {"action": "link_guide_version", "_selected_action": ids})
    assert asked.status_code == 200 and b"guide_version" in asked.content
    done = ops_client.post(
        url,
        {
            "action": "link_guide_version",
            "_selected_action": ids,
            "post": "yes",
            "guide_version": version.pk,
        },
    )
    assert done.status_code == 302
    assert set(Review.objects.filter(pk__in=ids).values_list("guide_version_id", flat=True)) == {
        version.pk
    }


def test_ops_answer_a_chosen_flag_in_the_admin_and_it_reads_like_a_seniors(world, client):
    flags, labelers = world["flags"], world["labelers"]
    # A senior answers the real flag through the API; ops pick the control one in the admin.
    senior = token_client(world["senior"])
    claimed = senior.post("/api/v1/reviews/next/").json()
    assert claimed["id"] == flags[False]
    senior.post(
        f"/api/v1/reviews/{claimed['id']}/resolve/",
        {"answer": REVIEWER_LABEL, "note": NOTE},
        format="json",
    )
    client.force_login(world["ops_senior"].user)
    url = admin_url(Review, "changelist")
    form = {"action": "answer_flag", "_selected_action": [flags[True]]}
    asked = client.post(url, form)
    assert asked.status_code == 200 and QUESTION.encode() in asked.content
    done = client.post(url, {**form, "post": "yes", "answer": REVIEWER_LABEL, "note": NOTE})
    assert done.status_code == 302
    review = Review.objects.get(pk=flags[True])
    assert (review.status, review.reviewer_id, review.note) == (
        "resolved",
        world["ops_senior"].pk,
        NOTE,
    )
    # Recorded, not applied: the control task keeps no answer; ops met its gold item.
    assert review.task.final_answer is None
    assert GoldExposure.objects.filter(
        labeler=world["ops_senior"], gold_item_id=review.task.gold_item_id
    ).exists()
    rows = {c: my_flags(labelers[c]) for c in (False, True)}
    assert layout(rows[True]) == layout(rows[False])
    own = ("id", "task", "assignment", "created_at", "answered_at")
    strip = [{k: v for k, v in r[0].items() if k not in own} for r in rows.values()]
    assert strip[0] == strip[1] and strip[0]["status"] == "answered"


def test_ops_do_not_answer_a_flag_a_senior_is_answering(world, ops_user):
    senior = world["senior"]
    claim = services.review_claim_next(reviewer=senior)
    with pytest.raises(Conflict) as held:
        services.flag_answer_by_ops(
            actor=world["ops_senior"].user, review_id=claim.review.pk, answer="ok", note="n"
        )
    assert held.value.code == "flag_in_review"
    # An operations manager without a labeler profile cannot be recorded as the reviewer.
    other = world["flags"][True]
    with pytest.raises(Forbidden):
        services.flag_answer_by_ops(actor=ops_user, review_id=other, answer="ok", note="n")
    # A bad answer writes nothing.
    with pytest.raises(ValidationError):
        services.flag_answer_by_ops(
            actor=world["ops_senior"].user, review_id=other, answer="purple", note="n"
        )
    assert Review.objects.get(pk=other).status == "open"
    assert Review.objects.get(pk=claim.review.pk).reviewer_id == senior.pk


def test_the_flags_page_is_linked_and_costs_the_same_for_many_flags(
    world, client, django_assert_max_num_queries
):
    labeler = world["labelers"][False]
    client.force_login(labeler.user)
    home = client.get(reverse("labeler:home")).content.decode()
    assert f'href="{reverse("labeler:flags")}"' in home
    client.get(reverse("labeler:flags"))  # warm the session
    with django_assert_max_num_queries(10) as few:
        client.get(reverse("labeler:flags"))
    project = world["project"]
    for _ in range(3):
        claim = work_services.assignment_claim_next(
            labeler=labeler, project_id=project.pk, rng=NeverControl()
        )
        if claim is None:
            break
        work_services.assignment_submit(
            labeler=labeler, assignment_id=claim.assignment.pk, answer="ok"
        )
        services.assignment_flag(
            labeler=labeler, assignment_id=claim.assignment.pk, question=QUESTION
        )
    assert Review.objects.filter(assignment__labeler=labeler).count() > 1
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("labeler:flags")).content.decode()
    assert (
        page.count('class="card" id="flag-')
        == Review.objects.filter(assignment__labeler=labeler).count()
    )


def test_linking_a_guide_version_is_pinned(world, client_for, ops_user, django_assert_num_queries):
    answer_both(world)
    version = world["guide"].versions.get(major=1, minor=1)
    ops = client_for(ops_user)
    # The transaction's start and end, the flag with its project (locked), the version, the
    # link's update, the reviewer's code for the reply (the client is forced, no session read).
    with django_assert_num_queries(6):
        response = ops.post(
            f"/api/v1/reviews/{world['flags'][True]}/guide-version/",
            {"guide_version": version.pk},
            format="json",
        )
    assert response.status_code == 200
