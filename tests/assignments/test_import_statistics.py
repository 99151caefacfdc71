"""The claim's plan after a bulk import: the import refreshes the planner's statistics, so the
first claims of a newly imported project walk the open-queue index from the top instead of
reading and sorting every open task of the project.

PostgreSQL only: the plan is PostgreSQL's, and the table must be big enough that autovacuum
would not re-analyze it after the import (80,000 tasks, then 5,000 more: under its 10%)."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from assignments import services
from assignments.models import Project, Task
from assignments.sql import claim as claim_statement
from tests.factories import make_labeler

pytestmark = [
    pytest.mark.skipif(
        not settings.IS_POSTGRES, reason="the plan under test is PostgreSQL's; set DATABASE_URL"
    ),
    pytest.mark.postgres,
]

OPEN_QUEUE = "assignments_task_open_queue"


def _project(slug: str) -> Project:
    return Project.objects.create(
        slug=slug,
        name=slug,
        status=Project.Status.ACTIVE,
        answer_type="single_choice",
        classes=["ok", "crack", "rust"],
        overlap=2,
        max_overlap=3,
    )


def _insert_raw(project: Project, n: int, prefix: str) -> None:
    """Tasks written behind the services' back, as a bulk load without ANALYZE would."""
    sql = (
        "INSERT INTO assignments_task (project_id, payload, external_id, source, "
        "complexity, priority, target, submitted, is_open, state, decided_by, created_at) "
        "SELECT %s, jsonb_build_object('image_url', 'https://img.example.test/' || g), "
        "%s || g, '', '', (g %% 100)::float, 2, 0, true, 'open', '', now() "
        "FROM generate_series(1, %s) g"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [project.pk, prefix, n])


def _claim_plan(project: Project, labeler) -> list[dict]:
    """Every node of the claim statement's plan, flattened."""
    params = {"project": project.pk, "labeler": labeler.pk, "now": timezone.now()}
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + claim_statement().sql, params)
        raw = cursor.fetchone()[0]
    plan = json.loads(raw) if isinstance(raw, str) else raw
    nodes, todo = [], [plan[0]["Plan"]]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo.extend(node.get("Plans", []))
    return nodes


def _sorts(nodes: list[dict]) -> list[dict]:
    return [n for n in nodes if n["Node Type"] in ("Sort", "Incremental Sort")]


def _walks_open_queue(nodes: list[dict]) -> bool:
    return any(n.get("Index Name") == OPEN_QUEUE and n["Node Type"] == "Index Scan" for n in nodes)


@pytest.mark.django_db(transaction=True)
def test_import_keeps_the_claim_on_the_open_queue_index():
    labeler = make_labeler()
    old = _project("old")
    _insert_raw(old, 80_000, "old-")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Task._meta.db_table}")  # what autovacuum did long ago

    # The bad plan, reproduced: 5,000 new tasks the statistics do not know of.
    stale = _project("stale")
    _insert_raw(stale, 5_000, "stale-")
    before = _claim_plan(stale, labeler)
    assert _sorts(before), "the scenario no longer reproduces the sort over every open task"
    assert not _walks_open_queue(before)

    # The same through the import service.
    fresh = _project("fresh")
    lines = "\n".join(
        json.dumps({"external_id": f"f{i}", "image_url": f"https://img.example.test/f{i}.jpg"})
        for i in range(5_000)
    )
    result = services.tasks_import(actor=None, project=fresh, data=lines, file_format="jsonl")
    assert result.created == 5_000

    after = _claim_plan(fresh, labeler)
    assert not _sorts(after)
    assert _walks_open_queue(after)
    # The import's ANALYZE covers the whole table, the raw project's tasks too.
    assert not _sorts(_claim_plan(stale, labeler))


@pytest.mark.django_db(transaction=True)
def test_bulk_update_refreshes_the_statistics_too():
    labeler = make_labeler()
    old = _project("old")
    _insert_raw(old, 80_000, "old-")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Task._meta.db_table}")
    stale = _project("stale")
    _insert_raw(stale, 5_000, "stale-")
    assert _sorts(_claim_plan(stale, labeler))

    services.tasks_bulk_update(
        actor=None,
        project=stale,
        data='{"external_id": "stale-1", "priority": 500}\n',
        file_format="jsonl",
    )
    after = _claim_plan(stale, labeler)
    assert not _sorts(after)
    assert _walks_open_queue(after)


@pytest.mark.django_db(transaction=True)
def test_a_failed_analyze_is_logged_and_the_import_stands(caplog, monkeypatch):
    from assignments.services import imports

    monkeypatch.setattr(imports, "ANALYZE_LOCK_TIMEOUT", "not a duration")
    project = _project("p")
    result = services.tasks_import(
        actor=None,
        project=project,
        data='{"image_url": "https://x.test/1.jpg"}\n',
        file_format="jsonl",
    )
    assert result.created == 1
    assert Task.objects.filter(project=project).count() == 1
    assert "ANALYZE of the task table after a bulk write failed" in caplog.text
