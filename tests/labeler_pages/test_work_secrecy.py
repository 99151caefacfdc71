"""Control tasks look exactly like real ones on the work page (issue 13; the canary tests of
tests/assignments extended to the labeler pages).

A project serves real tasks and control tasks whose payloads have the same shape (local demo
images) and, with pre-labels shown, decoy pre-labels copied from real tasks. The work page of a
control task and of a real task, and the next-task markup of the JSON variant, must differ only
in the payload's values and the assignment's id (and what changes with every request anyway: the
CSRF token and the seconds left on the lease): no gold answer, explanation or gold item id, no
other attribute, id, class or asset URL shape."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from assignments import services
from assignments.models import Assignment, Task
from assignments.services import claim as claim_module
from qc.models import GoldItem, GoldSet
from tests.assignments.factories import AlwaysControl, NeverControl, make_project
from tests.factories import make_labeler

pytestmark = pytest.mark.django_db

CANARY = "canary-9d41"
CLASSES = ["ok", "crack", "rust"]


def image(n: int) -> dict:
    return {"image_url": f"/static/labeler/examples/pole-{n}.svg"}


@pytest.fixture
def project():
    project = make_project(tasks=0, slug="secret", name="Secrecy", classes=CLASSES, overlap=1)
    project.show_prelabels = True
    project.save()
    Task.objects.bulk_create(
        Task(
            project=project,
            payload=image(1 + i % 3),
            prelabel="rust",
            prelabel_confidence=0.7,
            target=1,
        )
        for i in range(6)
    )
    gold_set = GoldSet.objects.create(
        slug="secret-gold", name="Secret gold", answer_type="single_choice", classes=CLASSES
    )
    GoldItem.objects.bulk_create(
        GoldItem(
            gold_set=gold_set,
            external_id=f"{CANARY}-ext-{i}",
            payload=image(1 + i % 3),
            accepted_answers=["crack"],
            explanation=f"{CANARY} explained {i}",
            stratum="ok",
        )
        for i in range(6)
    )
    project.control_gold_set = gold_set
    project.control_ratio = "0.5"
    project.save()
    services.project_sync_control_tasks(actor=None, project=project)
    return project


def normalised(html: str, assignment_id: int, image_url: str) -> str:
    """``html`` with what may differ between any two tasks blanked: the assignment's id, the
    payload's image URL, the CSRF token and the lease's seconds left."""
    html = html.replace(f"/assignments/{assignment_id}/", "/assignments/ID/")
    html = html.replace(f'data-assignment="{assignment_id}"', 'data-assignment="ID"')
    html = html.replace(f'src="{image_url}"', 'src="IMAGE"')
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken"', html)
    html = re.sub(r'data-seconds-left="\d+">[\d:]+<', 'data-seconds-left="S">T<', html)
    return html


def assert_nothing_tells(html: str) -> None:
    assert CANARY not in html
    for word in ("control", "gold", "explanation", "accepted"):
        assert word not in html.lower(), word


def page_of(client, labeler, project, *, control: bool) -> tuple[str, Assignment]:
    claim = services.assignment_claim_next(
        labeler=labeler, project_id=project.pk, rng=AlwaysControl() if control else NeverControl()
    )
    assert claim.assignment.is_control is control
    response = client.get(reverse("labeler:project-work", args=[project.pk]))
    assert response.status_code == 200
    return response.content.decode(), claim.assignment


def current_of(labeler) -> Assignment:
    return Assignment.objects.get(labeler=labeler, status=Assignment.Status.LEASED, ahead=False)


def test_the_work_page_of_a_control_task_differs_only_in_payload_and_id(client, project):
    labeler = make_labeler()
    client.force_login(labeler.user)
    real_html, real = page_of(client, labeler, project, control=False)
    services.assignment_release(labeler=labeler, assignment_id=real.pk)
    control_html, control = page_of(client, labeler, project, control=True)
    assert_nothing_tells(control_html)
    assert_nothing_tells(real_html)
    # The decoy pre-label shows as a real one does.
    assert "suggested" in control_html and "suggested" in real_html
    assert normalised(control_html, control.pk, control.task.payload["image_url"]) == normalised(
        real_html, real.pk, real.task.payload["image_url"]
    )


def test_a_new_claim_on_the_page_and_the_next_task_markup_do_not_tell(client, project, monkeypatch):
    labeler = make_labeler()
    client.force_login(labeler.user)
    url = reverse("labeler:project-work", args=[project.pk])
    pages = {}
    for control in (False, True):
        # The page's own claim (no rng passed): steer its draw through the module's generator.
        monkeypatch.setattr(claim_module, "_rng", AlwaysControl() if control else NeverControl())
        html = client.get(url).content.decode()
        assignment = current_of(labeler)
        assert assignment.is_control is control
        pages[control] = normalised(html, assignment.pk, assignment.task.payload["image_url"])
        # Submit with the JSON variant: the next task's markup, claimed as the other kind.
        monkeypatch.setattr(claim_module, "_rng", NeverControl() if control else AlwaysControl())
        reply = client.post(
            reverse("labeler:assignment-submit", args=[assignment.pk]),
            {"answer": "ok"},
            HTTP_ACCEPT="application/json",
        ).json()
        assert reply["status"] == "next" and reply["notice"] == "Saved."
        following = current_of(labeler)
        assert following.is_control is not control
        assert_nothing_tells(reply["current"]["html"])
        pages[("next", following.is_control)] = normalised(
            reply["current"]["html"], following.pk, following.task.payload["image_url"]
        )
        services.assignment_release(labeler=labeler, assignment_id=following.pk)
        services.assignment_release(labeler=labeler, assignment_id=reply["ahead"]["id"])
    assert pages[False] == pages[True]
    assert pages[("next", False)] == pages[("next", True)]
    for html in pages.values():
        assert_nothing_tells(html)


def test_the_look_ahead_markup_and_its_promotion_do_not_tell(client, project, monkeypatch):
    """The prefetched (look-ahead) task of either kind: the same markup but for payload and id,
    and the same answer shape when the submit promotes it."""
    labeler = make_labeler()
    client.force_login(labeler.user)
    monkeypatch.setattr(claim_module, "_rng", NeverControl())
    client.get(reverse("labeler:project-work", args=[project.pk]))
    markup, promoted = {}, {}
    for control in (False, True):
        monkeypatch.setattr(claim_module, "_rng", AlwaysControl() if control else NeverControl())
        current = current_of(labeler)
        response = client.post(
            reverse("labeler:project-work-ahead", args=[project.pk]),
            {"shown": current.pk},
            HTTP_ACCEPT="application/json",
        )
        assert_nothing_tells(response.content.decode())
        reply = response.json()
        look = Assignment.objects.get(pk=reply["ahead"]["id"])
        assert look.ahead and look.is_control is control
        markup[control] = normalised(
            reply["ahead"]["html"], look.pk, look.task.payload["image_url"]
        )
        # Submitted, the current task's answer promotes the look-ahead one, which the browser
        # already shows: the same keys for both kinds, and nothing more.
        monkeypatch.setattr(claim_module, "_rng", NeverControl())
        response = client.post(
            reverse("labeler:assignment-submit", args=[current.pk]),
            {"answer": "ok", "shown": look.pk},
            HTTP_ACCEPT="application/json",
        )
        assert_nothing_tells(response.content.decode())
        reply = response.json()
        assert reply["current"]["id"] == look.pk
        promoted[control] = (sorted(reply), sorted(reply["current"]), sorted(reply["ahead"]))
        # Back to a real current task with no look-ahead lease for the next round.
        services.assignment_release(labeler=labeler, assignment_id=reply["ahead"]["id"])
    assert markup[False] == markup[True]
    assert promoted[False] == promoted[True]
    for html in markup.values():
        assert_nothing_tells(html)
