"""Every route of the labeler pages that takes an id answers an id that does not exist — however
large — with a 404 page, never a server error, for GET and POST alike."""

import pytest
from django.urls import URLPattern, get_resolver

HUGE = 10**30


def _labeler_routes():
    # Through the root URLconf, which registers the ``id`` converter the routes use.
    (labeler,) = [
        p for p in get_resolver().url_patterns if getattr(p, "namespace", "") == "labeler"
    ]
    return [p for p in labeler.url_patterns if isinstance(p, URLPattern)]


ROUTES_WITH_ID = [p for p in _labeler_routes() if "pk" in str(p.pattern)]


def test_the_walk_sees_every_area():
    names = {p.name for p in ROUTES_WITH_ID}
    assert {
        "guide",
        "quiz",
        "attempt",
        "project-work",
        "assignment-submit",
        "quality-contest",
    } <= names


@pytest.mark.parametrize("route", ROUTES_WITH_ID, ids=lambda p: p.name)
@pytest.mark.parametrize("pk", [999_999, 2**63, HUGE])
def test_an_unknown_id_is_a_404(labeler_client, route, pk):
    path = "/labeler/" + str(route.pattern).replace("<id:pk>", str(pk)).replace("<int:pk>", str(pk))
    for method in ("get", "post"):
        response = getattr(labeler_client, method)(path)
        assert response.status_code in (404, 405), (method, path, response.status_code)
