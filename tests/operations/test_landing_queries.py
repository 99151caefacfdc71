"""The landing page costs the same number of queries whatever the data: pinned with a small
world and with a world three times as large (more projects, reviews, firings, gold, drift,
grants and failures), at most 15 in both."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.operations.factories import busy_project_with_attention, landing_world, named_labelers

pytestmark = pytest.mark.django_db

LIMIT = 15


def queries_of_landing(client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/admin/")
    assert response.status_code == 200
    return [q["sql"] for q in captured.captured_queries]


@pytest.mark.parametrize("with_perms", [True, False], ids=["ops-manager", "superuser"])
def test_same_query_count_for_small_and_large_data(client, ops, admin_user, with_perms):
    user = ops if with_perms else admin_user
    client.force_login(user)
    now = timezone.now()
    empty = queries_of_landing(client)
    landing_world(scale=1, now=now)
    small = queries_of_landing(client)
    # Two more busy projects with everything around them: three times the rows of every panel.
    for k in (2, 3):
        busy_project_with_attention(k, now=now, labelers=named_labelers())
    response = client.get("/admin/")
    assert len(response.context["progress"]["rows"]) == 4  # three busy, one stalled
    assert response.context["stops"]["total"].value == 6
    large = queries_of_landing(client)
    assert len(small) == len(large) == len(empty), "\n".join(large)
    assert len(large) <= LIMIT


def test_the_pin_sees_the_landing_queries(ops_admin, world):
    # So the test above cannot pass by counting a page without the panels.
    sql = "\n".join(queries_of_landing(ops_admin))
    for table in (
        "assignments_project",
        "assignments_review",
        "qc_rulefiring",
        "qc_golditem",
        "assignments_driftevent",
        "workforce_qualification",
        "health_failedtask",
    ):
        assert table in sql, table
