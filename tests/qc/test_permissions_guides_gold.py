"""Role-by-endpoint matrix for the guide and gold routes, and the gold canary.

Guides: everyone signed in reads published guides; a guide with nothing published, and any
draft, do not exist for anyone but ops (404). Acknowledging is for labelers (403 for callers
without a labeler profile); the acknowledgement lists are for ops and vendor managers (403 for
labelers), and a vendor manager sees only their labelers. Gold is for ops only: every gold route
is a 403 for anyone else — they may not use it at all — and a 401 when not signed in.

The canary test puts a unique string into gold accepted answers and explanations and checks
that no response any labeler or vendor manager can get from these routes contains it.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from qc.models import AnswerType, GuideVersion
from tests.permissions import V1, Row, content, matrix_test, route_test
from tests.qc.factories import (
    GuideFactory,
    acknowledge,
    make_draft,
    make_gold_item,
    make_gold_set,
    publish_version,
)

pytestmark = pytest.mark.django_db

GUIDE = V1 + "guides/<id:pk>/"
GOLD_SET = V1 + "gold-sets/<id:pk>/"
CANARY = "zq-canary-7f3a91"

NEW_SET = {"slug": "new-set", "name": "New", "answer_type": "single_choice", "classes": ["a"]}
NEW_ITEM = {
    "external_id": "new-1",
    "payload": {"image_url": "img/new.jpg"},
    "accepted_answers": [CANARY],
    "explanation": f"Because {CANARY}.",
}
# Posted as JSON, this body is a one-line JSONL file.
IMPORT_ROW = {"external_id": "imp-1", "image_url": "img/i.jpg", "accepted_answers": [CANARY]}

# ops, manager A, manager B, internal labeler, vendor labeler (of A), anonymous
MATRIX: tuple[Row, ...] = (
    Row("guides", "GET", V1 + "guides/", "/api/v1/guides/", (200, 200, 200, 200, 200, 401)),
    Row("guide", "GET", GUIDE, "/api/v1/guides/{guide}/", (200, 200, 200, 200, 200, 401)),
    Row(
        "guide, an older published version",
        "GET",
        GUIDE,
        "/api/v1/guides/{guide}/?version={old_version}",
        (200, 200, 200, 200, 200, 401),
    ),
    Row(
        "guide, a draft version",
        "GET",
        GUIDE,
        "/api/v1/guides/{guide}/?version={draft}",
        (200, 404, 404, 404, 404, 401),
    ),
    Row(
        "guide, a version of another guide",
        "GET",
        GUIDE,
        "/api/v1/guides/{guide}/?version={other_version}",
        (404, 404, 404, 404, 404, 401),
    ),
    Row(
        "guide with nothing published",
        "GET",
        GUIDE,
        "/api/v1/guides/{unpublished}/",
        (200, 404, 404, 404, 404, 401),
    ),
    Row(
        "guide that does not exist",
        "GET",
        GUIDE,
        "/api/v1/guides/{missing}/",
        (404, 404, 404, 404, 404, 401),
    ),
    Row(
        "acknowledge",
        "POST",
        GUIDE + "acknowledge/",
        "/api/v1/guides/{guide}/acknowledge/",
        (403, 403, 403, 200, 200, 401),
    ),
    Row(
        "acknowledge a guide with nothing published",
        "POST",
        GUIDE + "acknowledge/",
        "/api/v1/guides/{unpublished}/acknowledge/",
        (403, 403, 403, 404, 404, 401),
    ),
    Row(
        "acknowledge, with a body",
        "POST",
        GUIDE + "acknowledge/",
        "/api/v1/guides/{guide}/acknowledge/",
        (403, 403, 403, 400, 400, 401),
        {"version": 1},
    ),
    Row(
        "acknowledgements",
        "GET",
        GUIDE + "acknowledgements/",
        "/api/v1/guides/{guide}/acknowledgements/",
        (200, 200, 200, 403, 403, 401),
    ),
    Row(
        "acknowledgements of a guide with nothing published",
        "GET",
        GUIDE + "acknowledgements/",
        "/api/v1/guides/{unpublished}/acknowledgements/",
        (200, 404, 404, 403, 403, 401),
    ),
    Row(
        "missing acknowledgements",
        "GET",
        GUIDE + "acknowledgements/missing/",
        "/api/v1/guides/{guide}/acknowledgements/missing/",
        (200, 200, 200, 403, 403, 401),
    ),
    Row(
        "missing acknowledgements of a guide that does not exist",
        "GET",
        GUIDE + "acknowledgements/missing/",
        "/api/v1/guides/{missing}/acknowledgements/missing/",
        (404, 404, 404, 403, 403, 401),
    ),
    Row(
        "gold sets", "GET", V1 + "gold-sets/", "/api/v1/gold-sets/", (200, 403, 403, 403, 403, 401)
    ),
    Row(
        "create gold set",
        "POST",
        V1 + "gold-sets/",
        "/api/v1/gold-sets/",
        (201, 403, 403, 403, 403, 401),
        NEW_SET,
    ),
    Row(
        "create gold set, invalid",
        "POST",
        V1 + "gold-sets/",
        "/api/v1/gold-sets/",
        (400, 403, 403, 403, 403, 401),
        {**NEW_SET, "classes": []},
    ),
    Row(
        "gold set", "GET", GOLD_SET, "/api/v1/gold-sets/{gold_set}/", (200, 403, 403, 403, 403, 401)
    ),
    Row(
        "gold set that does not exist",
        "GET",
        GOLD_SET,
        "/api/v1/gold-sets/{missing}/",
        (404, 403, 403, 403, 403, 401),
    ),
    Row(
        "gold items",
        "GET",
        GOLD_SET + "items/",
        "/api/v1/gold-sets/{gold_set}/items/",
        (200, 403, 403, 403, 403, 401),
    ),
    Row(
        "create gold item",
        "POST",
        GOLD_SET + "items/",
        "/api/v1/gold-sets/{gold_set}/items/",
        (201, 403, 403, 403, 403, 401),
        NEW_ITEM,
    ),
    Row(
        "create gold item, invalid",
        "POST",
        GOLD_SET + "items/",
        "/api/v1/gold-sets/{gold_set}/items/",
        (400, 403, 403, 403, 403, 401),
        {**NEW_ITEM, "accepted_answers": []},
    ),
    Row(
        "import gold",
        "POST",
        GOLD_SET + "import/",
        "/api/v1/gold-sets/{gold_set}/import/?format=jsonl",
        (201, 403, 403, 403, 403, 401),
        IMPORT_ROW,
    ),
    Row(
        "import gold, a bad row",
        "POST",
        GOLD_SET + "import/",
        "/api/v1/gold-sets/{gold_set}/import/?format=jsonl",
        (400, 403, 403, 403, 403, 401),
        {**IMPORT_ROW, "accepted_answers": ["not-a-class"]},
    ),
    Row(
        "export gold",
        "GET",
        GOLD_SET + "export/",
        "/api/v1/gold-sets/{gold_set}/export/?format=jsonl",
        (200, 403, 403, 403, 403, 401),
    ),
)


@pytest.fixture
def world(cast):
    guide = GuideFactory(slug="poles")
    old = publish_version(guide, change_summary="First.")
    publish_version(guide, bump=GuideVersion.Bump.MINOR, change_summary="Second.")
    draft = make_draft(guide, body="Draft body.")
    acknowledge(cast.vendor_labeler, guide)
    acknowledge(cast.vendor_b_labeler, guide)
    other = GuideFactory(slug="other")
    other_version = publish_version(other)
    unpublished = GuideFactory(slug="unpublished")
    make_draft(unpublished)

    # The canary: in classes (so in accepted answers) and in explanations, in every answer type.
    gold_set = make_gold_set(guide=guide, classes=[CANARY, "rust", "not-a-class-x"], slug="g1")
    make_gold_item(gold_set, accepted_answers=[CANARY], explanation=f"It is {CANARY}.")
    multi = make_gold_set(answer_type=AnswerType.MULTIPLE_CHOICE, classes=[CANARY, "b"])
    make_gold_item(multi, accepted_answers=[[CANARY, "b"]], explanation=CANARY)
    boxes = make_gold_set(answer_type=AnswerType.BOXES, classes=[CANARY])
    make_gold_item(
        boxes,
        accepted_answers=[[{"label": CANARY, "x": 1, "y": 1, "w": 5, "h": 5}]],
        explanation=f"Box the {CANARY}.",
    )

    users = cast.users
    ids = {
        "guide": guide.pk,
        "old_version": old.pk,
        "draft": draft.pk,
        "other_version": other_version.pk,
        "unpublished": unpublished.pk,
        "gold_set": gold_set.pk,
        "gold_sets": [gold_set.pk, multi.pk, boxes.pk],
        "missing": 987654321,
    }
    return SimpleNamespace(users=users, ids=ids)


test_matrix = matrix_test(MATRIX)
test_matrix_rows_resolve_to_their_route = route_test(MATRIX)


# -- the gold canary ------------------------------------------------------------------------------

NOT_OPS = ("manager_a", "manager_b", "internal_labeler", "vendor_labeler", "anonymous")


def _everything_a_role_can_ask(world) -> list[tuple[str, str, dict | None]]:
    """Every matrix request, the gold routes of every canary set, and the guide routes with
    each filter and version."""
    requests = [(row.method, row.path.format(**world.ids), row.body) for row in MATRIX]
    for pk in world.ids["gold_sets"]:
        base = f"/api/v1/gold-sets/{pk}/"
        requests += [
            ("GET", base, None),
            ("GET", base + "items/", None),
            ("GET", base + "items/?status=active", None),
            ("GET", base + "export/?format=csv", None),
            ("GET", base + "export/?format=jsonl", None),
            ("POST", base + "import/?format=jsonl", IMPORT_ROW),
        ]
    guide = world.ids["guide"]
    requests += [
        ("GET", f"/api/v1/guides/{guide}/acknowledgements/?vendor=acme", None),
        ("GET", f"/api/v1/guides/{guide}/?version=abc", None),
    ]
    return requests


@pytest.mark.parametrize("role", NOT_OPS)
def test_gold_canary_reaches_no_labeler_or_vendor_manager(client_for, world, role):
    client = client_for(world.users[role])
    for method, path, body in _everything_a_role_can_ask(world):
        response = client.get(path) if method == "GET" else client.post(path, body, format="json")
        assert CANARY.encode() not in content(response), (method, path, response.status_code)


def test_the_canary_is_there_for_ops(client_for, world):
    # So the test above can fail: the canary is in what ops can read.
    client = client_for(world.users["ops"])
    for pk in world.ids["gold_sets"]:
        assert CANARY.encode() in client.get(f"/api/v1/gold-sets/{pk}/items/").content
        export = client.get(f"/api/v1/gold-sets/{pk}/export/?format=csv")
        assert CANARY.encode() in content(export)
    items = client.get(f"/api/v1/gold-sets/{world.ids['gold_set']}/items/").json()["results"]
    assert any(CANARY in json.dumps(i["accepted_answers"]) for i in items)
    assert any(CANARY in i["explanation"] for i in items)
