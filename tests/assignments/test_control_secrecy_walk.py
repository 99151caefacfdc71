"""The secrecy walk: everything a labeler, their senior and their vendor manager can see, for a
labeler who met control tasks in every way there is — served, submitted, submitted late,
released, flagged, taught by a training quiz drawn from the control set, graded wrong often
enough to breach a pausing rule — must not tell a control task from a real one.

Every gold field carries a canary naming its item. The walk asserts that:

* no canary of an item the labeler was not taught appears in any response, and a taught item
  is never served to that labeler as a control task;
* the responses of the work loop (next task, submit, late submit, release, flag) have the same
  status codes, key sets, value types and URL shapes for control and real tasks, and a submit
  costs the same statements and the same after-commit messages for both (the timing class);
* a rule breached by control answers has no effect the same day (no firing seen, no pause): it
  acts on the next day's evaluation, as the scorecard shows facts from the start of the day;
* every GET route of the API, walked as the labeler and as the vendor manager, is free of
  canaries, and a route nobody mapped here fails the test (a new route must join the walk).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from assignments import services
from assignments.models import Assignment, Task
from notifications.models import WebhookDelivery, WebhookEndpoint
from notifications.services import webhook_endpoint_create
from payments.services.calculate import period_calculate
from qc.models import GoldItem, GoldSet, QualityRule, Quiz, QuizAttempt, RuleFiring
from qc.services import rules as rule_services
from tests.assignments.factories import make_project
from tests.factories import make_labeler
from tests.payments.factories import make_period, make_rate
from tests.qc.factories import make_rule
from tests.qc.quiz_factories import make_quiz

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.postgres,  # the statement counts compared are PostgreSQL's hot-path statements
]

CANARY = "canary-5b1e"
CLASSES = ["ok", "crack", "rust"]
REAL_TASKS = 80
CONTROL_ITEMS = 48
TAUGHT = 8  # training-quiz questions: the items the labeler sees with their answers


def canary(i: int) -> str:
    return f"{CANARY}-{i:03d}-"


def image(n: int) -> dict[str, Any]:
    """A payload of the project's one shape: controls and real tasks alike (issue: control
    payloads must look like real ones)."""
    return {"image_url": f"https://img.example.test/north/{n:04d}.jpg", "meta": {"site": "north"}}


def url_shape(value: Any) -> Any:
    """Key set, value types and URL shapes (digits folded): what must not separate the kinds."""
    if isinstance(value, dict):
        return {k: url_shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return ["list", *sorted({repr(url_shape(v)) for v in value})]
    if isinstance(value, str) and value.startswith("http"):
        return re.sub(r"\d", "9", value)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-][\d:]+)?", value):
        return "datetime"
    return type(value).__name__


def token_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def world(manager_a, vendor_a, senior_labeler, ops_user):
    project = make_project(tasks=0, slug="walk", name="Secrecy walk", classes=CLASSES, overlap=1)
    Task.objects.bulk_create(
        Task(project=project, payload=image(i), priority=1.0, target=1) for i in range(REAL_TASKS)
    )
    gold_set = GoldSet.objects.create(
        slug="walk-gold", name="Walk gold", answer_type="single_choice", classes=CLASSES
    )
    items = [
        GoldItem.objects.create(
            gold_set=gold_set,
            external_id=f"{canary(i)}ext",
            payload=image(5000 + i),
            # An answer outside the schema, so every control answer is graded wrong and the
            # pausing rule below is breached; and the canary shows if the answer ever leaks.
            accepted_answers=[f"{canary(i)}answer"],
            explanation=f"{canary(i)}explanation",
            stratum="ok",
        )
        for i in range(CONTROL_ITEMS)
    ]
    project.control_gold_set = gold_set
    project.control_ratio = "0.4"
    project.save()
    services.project_sync_control_tasks(actor=None, project=project)
    # Ops chose knowingly to train on the control set: the per-labeler exclusion must hold.
    training = make_quiz(gold_set, kind=Quiz.Kind.TRAINING, num_questions=TAUGHT, pass_mark="0.5")
    make_rule(
        "pause_on_project",
        project_id=project.pk,
        actor=ops_user,
        name="Gold under 90%",
        window=20,
        min_n=3,
        threshold="0.9",
    )
    labeler = make_labeler(vendor=vendor_a)
    webhook_endpoint_create(actor=manager_a, vendor=vendor_a, url="https://93.184.215.14/hook")
    return {
        "project": project,
        "gold_set": gold_set,
        "items": {item.pk: i for i, item in enumerate(items)},
        "training": training,
        "labeler": labeler,
        "client": token_client(labeler.user),
        "manager": token_client(manager_a),
        "senior": token_client(senior_labeler.user),
        "ops_user": ops_user,
    }


def take_training(world) -> set[int]:
    """The labeler takes the training quiz over the API; returns the gold items it showed with
    their answers (the canaries in its responses say which)."""
    client, quiz = world["client"], world["training"]
    started = client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/")
    assert started.status_code in (200, 201), started.content
    attempt = QuizAttempt.objects.get(pk=started.json()["id"])
    seen: set[int] = set()
    for question in attempt.questions.order_by("position"):
        reply = client.post(
            f"/api/v1/quiz-attempts/{attempt.pk}/answers/",
            {"question": question.pk, "answer": "ok"},
            format="json",
        )
        assert reply.status_code in (200, 201), reply.content
        seen.add(question.gold_item_id)
    client.post(f"/api/v1/quiz-attempts/{attempt.pk}/finish/")
    review = client.get(f"/api/v1/quiz-attempts/{attempt.pk}/").content.decode()
    shown = {pk for pk, i in world["items"].items() if canary(i) in review}
    assert shown <= seen
    return seen


def work_loop(world, calls: int) -> dict[bool, list[dict]]:
    """``calls`` next-task → submit rounds over HTTP; what each kind looked and cost."""
    client, project = world["client"], world["project"]
    seen: dict[bool, list[dict]] = defaultdict(list)
    for _ in range(calls):
        nxt = client.post(f"/api/v1/projects/{project.pk}/next-task/")
        assert nxt.status_code == 201, nxt.content
        body = nxt.json()
        assignment_id = body.get("id", body.get("assignment"))
        is_control = Assignment.objects.get(pk=assignment_id).is_control
        with (
            CaptureQueriesContext(connection) as queries,
            TestCase.captureOnCommitCallbacks(execute=False) as messages,
        ):
            sub = client.post(
                f"/api/v1/assignments/{assignment_id}/submit/", {"answer": "ok"}, format="json"
            )
        for message in messages:
            message()
        seen[is_control].append(
            {
                "next": (nxt.status_code, url_shape(body)),
                "submit": (sub.status_code, url_shape(sub.json())),
                "statements": len(queries),
                "messages": len(messages),
                "body": body,
            }
        )
    return seen


def assert_same(rows: dict[bool, list[dict]], key: str) -> None:
    real = {json.dumps(r[key], sort_keys=True, default=str) for r in rows[False]}
    control = {json.dumps(r[key], sort_keys=True, default=str) for r in rows[True]}
    assert rows[True] and rows[False], "both kinds must have been met"
    assert control == real, f"{key} separates control from real tasks"


def lease_of_kind(world, control: bool) -> int:
    """Take tasks over HTTP, releasing each, until one of the wanted kind is leased; its id."""
    client, project = world["client"], world["project"]
    for _ in range(60):
        body = client.post(f"/api/v1/projects/{project.pk}/next-task/").json()
        assignment_id = body.get("id", body.get("assignment"))
        if Assignment.objects.get(pk=assignment_id).is_control == control:
            return assignment_id
        client.post(f"/api/v1/assignments/{assignment_id}/release/")
    raise AssertionError(f"never leased a {'control' if control else 'real'} task")


def test_nothing_a_labeler_senior_or_manager_sees_tells_control_from_real(world):
    client, project = world["client"], world["project"]
    taught = take_training(world)
    assert len(taught) == TAUGHT

    rows = work_loop(world, calls=30)
    for key in ("next", "submit", "statements", "messages"):
        assert_same(rows, key)

    # A taught item is never served to this labeler as a control task.
    served = set(
        Assignment.objects.filter(labeler=world["labeler"], is_control=True).values_list(
            "task__gold_item_id", flat=True
        )
    )
    assert served and not served & taught

    # Same day: the control answers (all wrong) breach the pausing rule, but nothing shows it.
    assert client.post(f"/api/v1/projects/{project.pk}/next-task/").status_code == 201
    mine = client.get("/api/v1/rule-firings/").json()
    assert mine["results"] == []
    Assignment.objects.filter(labeler=world["labeler"], status="leased").update(status="released")

    # Late submissions, releases and flags answer alike for both kinds.
    late = {}
    for kind in (True, False):
        assignment_id = lease_of_kind(world, kind)
        Assignment.objects.filter(pk=assignment_id).update(
            leased_at=timezone.now() - timedelta(hours=2),
            expires_at=timezone.now() - timedelta(hours=1),
            status="leased",
        )
        reply = client.post(
            f"/api/v1/assignments/{assignment_id}/submit/", {"answer": "ok"}, format="json"
        )
        late[kind] = (reply.status_code, url_shape(reply.json()))
    assert late[True] == late[False]

    released = {}
    for kind in (True, False):
        assignment_id = lease_of_kind(world, kind)
        reply = client.post(f"/api/v1/assignments/{assignment_id}/release/")
        released[kind] = (reply.status_code, url_shape(reply.json()))
    assert released[True] == released[False]

    flagged = {}
    for kind in (True, False):
        assignment = Assignment.objects.filter(
            labeler=world["labeler"], is_control=kind, status="submitted"
        ).first()
        reply = client.post(
            f"/api/v1/assignments/{assignment.pk}/flag/",
            {"question": "Is the crossarm cracked or rusted?"},
            format="json",
        )
        flagged[kind] = (reply.status_code, url_shape(reply.json()))
    assert flagged[True] == flagged[False]

    # The senior meets both flags, alike.
    reviews = []
    for _ in range(4):
        reply = world["senior"].post("/api/v1/reviews/next/")
        if reply.status_code != 201 and reply.status_code != 200:
            break
        reviews.append(reply.json())
        review_id = reply.json().get("id", reply.json().get("review"))
        world["senior"].post(
            f"/api/v1/reviews/{review_id}/resolve/", {"answer": "ok", "note": "checked"}, "json"
        )
    flag_reviews = [r for r in reviews if r.get("kind") == "flag"]
    assert len(flag_reviews) == 2, reviews
    assert url_shape(flag_reviews[0]) == url_shape(flag_reviews[1])

    # The assignment list: the same fields and types for both kinds.
    listed = defaultdict(set)
    for row in walk_list(client, "/api/v1/assignments/"):
        kind = Assignment.objects.get(pk=row["id"]).is_control
        listed[kind].add(json.dumps(url_shape(row), sort_keys=True))
    assert listed[True] == listed[False]

    # Pay: the project pays per accepted label and the period under way is calculated, so the
    # walk below reads earnings, statements and the period with lines in them.
    make_rate(world["project"], "0.10", "EUR")
    now = timezone.now()
    world["period"] = make_period(now - timedelta(days=7), now + timedelta(days=7))
    period_calculate(actor=world["ops_user"], period_id=world["period"].pk)

    # Every GET route, as each of the three: no canary of an untaught item, ever.
    untaught = [canary(i) for pk, i in world["items"].items() if pk not in taught]
    for who in ("client", "manager", "senior"):
        for url, body in walk_every_get(world, world[who]):
            leaked = [c for c in untaught if c in body]
            assert not leaked, f"{who} {url} shows {leaked[:3]}"

    # The next day the rule acts, on the facts of the days before.
    tomorrow = timezone.now() + timedelta(days=1)
    rule_services.rules_sweep(now=tomorrow)
    assert RuleFiring.objects.filter(labeler=world["labeler"], status="open").exists()


def walk_list(client: APIClient, url: str) -> list[dict]:
    rows: list[dict] = []
    while url:
        page = client.get(url).json()
        rows.extend(page["results"])
        url = page.get("next")
    return rows


def _routes():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern), p.callback

    for path, callback in walk(get_resolver().url_patterns):
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if path.startswith("api/v1/") and view is not None and hasattr(view, "get"):
            yield path


def walk_every_get(world, client: APIClient):
    """Every GET route under /api/v1/, with each id the walk knows for its kind of object."""
    labeler, project, gold_set = world["labeler"], world["project"], world["gold_set"]
    attempts = list(QuizAttempt.objects.filter(labeler=labeler).values_list("pk", flat=True))
    firings = list(RuleFiring.objects.filter(labeler=labeler).values_list("pk", flat=True))
    ids = {
        "vendors": [labeler.vendor_id],
        "labelers": [labeler.pk],
        "guides": [],
        "gold-sets": [gold_set.pk],
        "quizzes": [world["training"].pk],
        "quiz-attempts": attempts,
        "rule-firings": firings,
        "rule-actions": firings,  # the deprecated alias of rule-firings/ answers the same
        "projects": [project.pk],
        "pay-periods": [world["period"].pk],
        "quality-rules": list(
            QualityRule.objects.filter(project_id=project.pk).values_list("pk", flat=True)
        ),
        # The vendor's webhook endpoints and what they were sent (notifications).
        "webhooks": list(WebhookEndpoint.objects.values_list("pk", flat=True)),
        "webhook-deliveries": list(WebhookDelivery.objects.values_list("pk", flat=True)),
    }
    for path in sorted(_routes()):
        if "<" not in path:
            url = "/" + path
            response = client.get(url)
            yield url, response.content.decode(errors="replace")
            continue
        kind = path.split("/")[2]
        assert kind in ids, f"route {path} is not in the secrecy walk: add its ids"
        for pk in ids[kind]:
            url = "/" + re.sub(r"<[^>]+>", str(pk), path)
            response = client.get(url)
            yield url, response.content.decode(errors="replace")
