"""The landing page (the admin index): each panel shows the figures of the world built in
tests.operations.factories, each figure links to the admin list of the same rows, and that list
shows the same count."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from assignments.models import DriftEvent, Review

pytestmark = pytest.mark.django_db

K = Review.Kind


def landing(client):
    response = client.get("/admin/")
    assert response.status_code == 200
    return response


def ctx(response, key):
    """The landing template's context entry ``key`` (the inclusion tag's context)."""
    for context in response.context:
        if key in context:
            return context[key]
    raise KeyError(key)


def count_of(client, figure) -> int:
    """The number of rows the admin changelist behind ``figure`` lists."""
    assert figure.url, f"figure {figure!r} has no link"
    response = client.get(figure.url)
    assert response.status_code == 200, figure.url
    cl = response.context["cl"]
    # The admin redirects to ?e=1 on a filter it refuses; a 200 without "e" is a filter applied.
    assert "e" not in cl.params, figure.url
    return cl.result_count


def test_progress_per_active_project(ops_admin, world):
    rows = {r["name"]: r for r in ctx(landing(ops_admin), "progress")["rows"]}
    assert set(rows) == {"Pole inspection 1", "Stalled survey"}  # not the paused project
    busy = rows["Pole inspection 1"]
    assert [busy[k].value for k in ("total", "open", "leased", "done", "review", "done_24h")] == [
        world.total,
        world.open,
        world.leased,
        world.done,
        world.review,
        world.done_24h,
    ]
    # 14 remaining at 3 a day
    assert busy["eta"].startswith("≈ 4.7 days")
    assert not busy["stalled"]
    stalled = rows["Stalled survey"]
    assert stalled["eta"] == "no progress in 24 h"
    assert stalled["stalled"]
    assert stalled["done_24h"].value == 0


def test_progress_links_list_the_same_rows(ops_admin, world):
    busy = ctx(landing(ops_admin), "progress")["rows"][0]
    assert busy["name"] == "Pole inspection 1"
    for key in ("total", "open", "leased", "done", "review", "done_24h"):
        assert count_of(ops_admin, busy[key]) == busy[key].value, key


def test_review_backlog_by_kind_and_age(ops_admin, world):
    backlog = ctx(landing(ops_admin), "backlog")
    rows = {r["label"]: r for r in backlog["rows"]}
    for kind, expected in world.backlog.items():
        row = rows[K(kind).label]
        for key, value in expected.items():
            assert row[key].value == value, (kind, key)
    assert rows[K.DISAGREEMENT.label]["oldest"] == "4\xa0days"
    assert rows[K.DISAGREEMENT.label]["late"]
    assert backlog["total"].value == 5
    assert dict(backlog_ages(backlog)) == {
        "< 1 day": 2,
        "1\u20133 days": 1,
        "3\u20137 days": 2,
        "> 7 days": 0,
    }


def backlog_ages(backlog):
    svg = backlog["chart"]
    return [
        (unescape(label), int(n))
        for label, n in re.findall(r"<title>([^<:]+): (\d+) reviews</title>", svg)
    ]


def test_review_backlog_links_list_the_same_rows(ops_admin, world):
    backlog = ctx(landing(ops_admin), "backlog")
    assert count_of(ops_admin, backlog["total"]) == 5
    for row in backlog["rows"]:
        for key in ("total", "open", "leased", "older_24h", "older_72h"):
            assert count_of(ops_admin, row[key]) == row[key].value, (row["label"], key)
    flag = next(r for r in backlog["rows"] if r["label"] == K.FLAG.label)
    assert count_of(ops_admin, flag["for_ops"]) == 1
    assert parse_qs(urlsplit(flag["total"].url).query) == {
        "kind__exact": ["flag"],
        "status__in": ["open,leased"],
    }


def test_pauses_and_suspensions_of_the_week(ops_admin, world):
    stops = ctx(landing(ops_admin), "stops")
    assert stops["total"].value == 2
    assert stops["paused"].value == 1 and stops["suspended"].value == 1
    assert stops["still_open"].value == 1
    for key in ("total", "paused", "suspended", "still_open"):
        assert count_of(ops_admin, stops[key]) == stops[key].value, key
    newest, older = stops["rows"]
    assert newest["person"] == f"Bruno Costa ({world.labelers[1].public_code})"
    assert newest["action"] == "suspended" and newest["status"] == "Reversed by ops"
    assert older["person"] == f"Ana Silva ({world.labelers[0].public_code})"
    assert older["project"] == "Pole inspection 1"
    assert older["rule"].startswith("Gold floor (pause_on_project)")
    assert older["interval"] == "12/20 = 60.0%, 95% CI 38.7%\u201378.1%; upper below 0.800"
    assert older["labeler_url"] == f"/admin/workforce/labeler/{world.labelers[0].pk}/change/"
    assert older["project_url"] == f"/admin/assignments/project/{world.projects[0].pk}/change/"


def test_gold_quarantined_and_contested(ops_admin, world):
    gold = ctx(landing(ops_admin), "gold")
    assert gold["quarantined"].value == 1
    assert gold["contested"].value == 1
    assert gold["open_contests"].value == 2
    assert count_of(ops_admin, gold["quarantined"]) == 1
    assert count_of(ops_admin, gold["contested"]) == 1
    assert [(g["external_id"], g["contests"]) for g in gold["rows"]] == [
        ("g1-contested", 2),
        ("g1-quarantined", 0),
    ]
    assert ops_admin.get(gold["flagged_url"]).status_code == 200


def test_drift_expiring_and_failed(ops_admin, world):
    response = landing(ops_admin)
    drift, expiring, failed = (ctx(response, k) for k in ("drift", "expiring", "failed"))
    assert drift["total"].value == 1
    (event,) = drift["rows"]
    assert event["p_value"] == "1.5e-07" and event["project"] == "Pole inspection 1"
    assert count_of(ops_admin, drift["total"]) == 1
    assert event["url"] == f"/admin/assignments/driftevent/{event_pk(world)}/change/"
    assert expiring["total"].value == 1
    (grant,) = expiring["rows"]
    assert grant["person"] == f"Ana Silva ({world.labelers[0].public_code})"
    assert grant["in"].startswith("4\xa0days") or grant["in"].startswith("5\xa0days")
    assert count_of(ops_admin, expiring["total"]) == 1
    assert failed["total"].value == 2
    assert sorted((g["task_name"], g["n"].value) for g in failed["rows"]) == [
        ("assignments.tasks.consensus_sweep", 1),
        ("notifications.tasks.webhook_send_1", 1),
    ]
    assert count_of(ops_admin, failed["total"]) == 2
    for group in failed["rows"]:
        assert count_of(ops_admin, group["n"]) == 1, group["task_name"]


def event_pk(world) -> int:
    return DriftEvent.objects.get(project=world.projects[0], acknowledged_at__isnull=True).pk


def test_every_figure_on_the_page_is_a_working_link(ops_admin, world):
    """Each link of a figure on the page (class lf-n) opens a list that applies its filter."""
    html = landing(ops_admin).content.decode()
    urls = {unescape(u) for u in re.findall(r'<a class="lf-n" href="([^"]+)"', html)}
    assert len(urls) > 20
    for url in sorted(urls):
        response = ops_admin.get(url)
        assert response.status_code == 200, url
        assert "e" not in response.context["cl"].params, url


def test_empty_world_says_so(ops_admin):
    html = landing(ops_admin).content.decode()
    assert "No active project." in html
    assert "No quality rule paused or suspended anyone" in html
    assert "No gold item quarantined or contested." in html
    assert "No qualification expires in the next 14 days." in html
    assert "No failed background task waiting for a retry." in html


def test_the_landing_holds_no_script_and_no_outside_address(ops_admin, world):
    html = landing(ops_admin).content.decode()
    section = html[html.index('<section class="lf-landing"') : html.index('<div class="lf-below">')]
    assert "<svg" in section  # the charts are inline
    assert "<script" not in section
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", section)
    assert '<link rel="stylesheet" href="/static/operations/landing.css">' in html
