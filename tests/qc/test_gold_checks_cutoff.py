"""Vendor managers see their labelers' gold checks from before the start of the current day
only (issue 9, point 4): a check of today, with the labeler's answer and its verdict, would
tell which task just submitted was a control task (and a correct verdict, its gold answer).
Ops see today's checks too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from qc.models import GoldCheck
from qc.selectors.quality_facts import start_of_day
from tests.qc.factories import make_gold_item, make_gold_set

pytestmark = pytest.mark.django_db


def test_managers_see_no_check_of_today_and_ops_see_all(
    client_for, manager_a, ops_user, vendor_labeler
):
    gold_set = make_gold_set(slug="cutoff-gold", classes=["crack", "rust"])
    item = make_gold_item(gold_set, external_id="g1", accepted_answers=["crack"])
    now = timezone.now()
    at = {
        "yesterday": start_of_day(now) - timedelta(seconds=1),
        "today": start_of_day(now),
        "now": now,
    }
    ids = {}
    for n, (name, checked_at) in enumerate(at.items()):
        ids[name] = GoldCheck.objects.create(
            labeler=vendor_labeler,
            gold_item=item,
            project_id=1,
            assignment_id=81_000 + n,
            answer="crack",
            correct=True,
            expected_class="crack",
            answer_class="crack",
            checked_at=checked_at,
        ).pk

    managers = client_for(manager_a).get("/api/v1/gold-checks/").json()["results"]
    assert [r["id"] for r in managers] == [ids["yesterday"]]
    ops = client_for(ops_user).get("/api/v1/gold-checks/?page_size=100").json()["results"]
    assert {r["id"] for r in ops} == set(ids.values())
