"""The gold-check routes: a labeler's own checks (with the gold answer, after submission) and
their contest; the vendor managers' and ops' list (gold answers for ops only); gold health for
ops. The role-by-route matrix is in test_permissions_quality.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from qc.models import GoldCheck
from tests.qc.factories import make_gold_item, make_gold_set

pytestmark = pytest.mark.django_db
# Yesterday: a labeler sees their checks from before the start of their current day.
NOW = timezone.now() - timedelta(days=1)
SECRET = "zq-gold-canary"


@pytest.fixture
def checks(internal_labeler, vendor_labeler, vendor_b_labeler):
    gold_set = make_gold_set(slug="api-gold", classes=["crack", "rust"])
    item = make_gold_item(
        gold_set,
        external_id="g1",
        accepted_answers=["crack"],
        explanation=f"{SECRET} explanation",
    )
    rows = {}
    n = 0
    for labeler in (internal_labeler, vendor_labeler, vendor_b_labeler):
        rows[labeler.pk] = []
        for i in range(3):
            n += 1
            rows[labeler.pk].append(
                GoldCheck.objects.create(
                    labeler=labeler,
                    gold_item=item,
                    project_id=1,
                    assignment_id=70_000 + n,
                    answer="crack" if i else "rust",
                    correct=bool(i),
                    expected_class="crack",
                    answer_class="crack" if i else "rust",
                    checked_at=NOW - timedelta(hours=i),
                )
            )
    return gold_set, item, rows


def test_a_labeler_reads_only_their_own_checks_with_the_gold_answer(
    client_for, checks, vendor_labeler, django_assert_max_num_queries
):
    _set, _item, rows = checks
    client = client_for(vendor_labeler.user)
    with django_assert_max_num_queries(6):
        body = client.get("/api/v1/me/gold-checks/?page_size=2").json()
    assert len(body["results"]) == 2 and body["next"]
    rest = client.get(body["next"]).json()
    got = body["results"] + rest["results"]
    assert {r["id"] for r in got} == {c.pk for c in rows[vendor_labeler.pk]}
    first = next(r for r in got if r["answer"] == "rust")
    assert first["verdict"] == "incorrect"
    assert first["accepted_answers"] == ["crack"]
    assert first["explanation"] == f"{SECRET} explanation"
    assert first["contest"] == "" and first["counted"] is True


def test_todays_checks_are_held_back_from_the_labeler(client_for, checks, vendor_labeler):
    _set, item, rows = checks
    today = GoldCheck.objects.create(
        labeler=vendor_labeler,
        gold_item=item,
        project_id=1,
        assignment_id=79_999,
        answer="rust",
        correct=False,
        expected_class="crack",
        answer_class="rust",
        checked_at=timezone.now(),
    )
    client = client_for(vendor_labeler.user)
    listed = {r["id"] for r in client.get("/api/v1/me/gold-checks/").json()["results"]}
    assert listed == {c.pk for c in rows[vendor_labeler.pk]}
    assert today.pk not in listed
    url = f"/api/v1/me/gold-checks/{today.pk}/contest/"
    assert client.post(url, {"note": "It is rust."}, format="json").status_code == 404


def test_contest_through_the_api_once_and_not_someone_elses(
    client_for, checks, vendor_labeler, internal_labeler
):
    _set, _item, rows = checks
    client = client_for(vendor_labeler.user)
    mine = rows[vendor_labeler.pk][0].pk
    theirs = rows[internal_labeler.pk][0].pk
    url = "/api/v1/me/gold-checks/{}/contest/"
    assert client.post(url.format(mine), {}, format="json").status_code == 400
    assert client.post(url.format(theirs), {"note": "x"}, format="json").status_code == 404
    ok = client.post(url.format(mine), {"note": "It is crack."}, format="json")
    assert ok.status_code == 200 and ok.json()["contest"] == "open"
    again = client.post(url.format(mine), {"note": "It is crack."}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "already_contested")
    assert GoldCheck.objects.get(pk=theirs).contest == ""


def test_managers_see_their_labelers_checks_without_gold_answers(
    client_for, checks, manager_a, vendor_labeler, django_assert_max_num_queries
):
    client = client_for(manager_a)
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/gold-checks/")
    body = response.json()
    assert {r["labeler"] for r in body["results"]} == {vendor_labeler.pk}
    assert "accepted_answers" not in body["results"][0]
    assert SECRET not in response.content.decode()
    other = client.get("/api/v1/gold-checks/?labeler=987654").json()
    assert other["results"] == []


def test_ops_see_every_check_with_the_gold_answers(client_for, checks, ops_user, internal_labeler):
    client = client_for(ops_user)
    body = client.get("/api/v1/gold-checks/?page_size=100").json()
    assert len(body["results"]) == 9
    assert body["results"][0]["accepted_answers"] == ["crack"]
    mine = client.get(f"/api/v1/gold-checks/?labeler={internal_labeler.pk}").json()
    assert {r["labeler"] for r in mine["results"]} == {internal_labeler.pk}
    contested = client.get("/api/v1/gold-checks/?contest=open").json()
    assert contested["results"] == []


def test_gold_health_for_ops(client_for, checks, ops_user, manager_a):
    gold_set, item, _rows = checks
    url = f"/api/v1/gold-sets/{gold_set.pk}/health/"
    assert client_for(manager_a).get(url).status_code == 403
    body = client_for(ops_user).get(url).json()
    (row,) = body
    assert (row["item"], row["checks"], row["misses"]) == (item.pk, 9, 3)
    assert row["accuracy"]["n"] == 9 and row["accuracy"]["low"] < row["accuracy"]["rate"]
    assert client_for(ops_user).get(url + "?flagged=true").json() == []
