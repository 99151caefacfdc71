"""The scorecard's filter form shows what the page shows: the option selected in each dropdown
is the window and the project the figures are for, so pressing Show changes nothing. Read from
the rendered HTML (the ``selected`` attribute), no browser."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from assignments.admin_quality_pages import WINDOW_CHOICES
from assignments.models import Assignment
from tests.assignments.factories import content, main, make_project, scorecard_url, submissions
from tests.factories import make_labeler

pytestmark = pytest.mark.django_db

WINDOW_TEXT = {key: name.lower() for key, name in WINDOW_CHOICES}


class _Selects(HTMLParser):
    """The options of every ``<select>``: name -> [(value, selected)]."""

    def __init__(self):
        super().__init__()
        self.selects: dict[str, list[tuple[str, bool]]] = {}
        self._current: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "select":
            self._current = a.get("name")
            self.selects[self._current] = []
        elif tag == "option" and self._current is not None:
            self.selects[self._current].append((a.get("value", ""), "selected" in a))

    def handle_endtag(self, tag):
        if tag == "select":
            self._current = None


def selected(page: str) -> dict[str, list[str]]:
    parser = _Selects()
    parser.feed(page)
    return {name: [v for v, on in options if on] for name, options in parser.selects.items()}


def shown(page: str) -> tuple[str, str]:
    """(the project, the window) the sentence above the form says the figures are for."""
    m = re.search(r"Showing (.*?),\s*([a-z0-9 ]+)\.</p>", page, re.S)
    assert m, page[:500]
    return m.group(1).strip(), m.group(2).strip()


@pytest.fixture
def labeler_with_work():
    labeler = make_labeler(username="windowed")
    project = make_project(tasks=0, slug="windowed-work")
    submissions(project, [[(labeler, "ok")]])
    assert Assignment.objects.filter(labeler=labeler).exists()
    return labeler, project


@pytest.mark.parametrize(
    "query, window, project_selected",
    [
        ({}, "all_time", ""),
        ({"window": "last_30_days"}, "last_30_days", ""),
        ({"window": "last_7_days"}, "last_7_days", ""),
        ({"project": "{project}"}, "all_time", "{project}"),
        ({"project": "{project}", "window": "last_7_days"}, "last_7_days", "{project}"),
        ({"window": ""}, "all_time", ""),
        # Bad input: the page falls back to all projects, all time, and says so; the form shows
        # that fallback, not the bad value.
        ({"window": "last_century"}, "all_time", ""),
        ({"project": "999999", "window": "last_7_days"}, "all_time", ""),
    ],
)
def test_the_selected_options_are_the_window_and_project_shown(
    ops_client, labeler_with_work, query, window, project_selected
):
    labeler, project = labeler_with_work
    query = {k: v.format(project=project.pk) for k, v in query.items()}
    project_selected = project_selected.format(project=project.pk)
    page = main(content(ops_client.get(scorecard_url(labeler, **query))))

    chosen = selected(page)
    assert chosen["window"] == [window]
    assert chosen["project"] == [project_selected]
    shown_project, shown_window = shown(page)
    assert shown_window == WINDOW_TEXT[window]
    assert (shown_project == "all projects") == (project_selected == "")

    # Pressing Show submits the selected options: the page stays as it was.
    again = main(content(ops_client.get(scorecard_url(labeler, **chosen_query(chosen)))))
    assert shown(again) == (shown_project, shown_window)
    assert selected(again) == chosen


def chosen_query(chosen: dict[str, list[str]]) -> dict[str, str]:
    return {name: values[0] for name, values in chosen.items() if values and values[0]}
