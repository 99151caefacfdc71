"""``manage.py seed_demo``: the demo operation is complete, consistent and idempotent."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from itertools import pairwise
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command
from django.db.models import Min, Sum
from django.utils import timezone
from guardian.models import UserObjectPermission

from assignments.models import Assignment, Project, Review, Task
from assignments.selectors.control_set import project_control_state
from demo.seed.boxes import BOX_GUIDE_VERSIONS, BOX_LABELERS
from demo.seed.operations import F5_SOURCE
from demo.seed.pay import FLAG_QUESTION
from demo.seed.qualification import (
    ATTEMPTS,
    GOLD_ITEMS,
    GUIDE_ACKS_1_0_ONLY,
    GUIDE_ACKS_1_0_THEN_1_1,
    GUIDE_NOT_ACKNOWLEDGED,
    QUALIFICATION_MANUAL,
    QUALIFICATION_QUIZ,
    QUALIFICATION_REVOKED,
    TRAINING_QUIZ,
    gold_payload,
)
from demo.seed.survey import F5_PHOTOS
from demo.seed.work import DEMO_PROJECT, DEMO_PROJECT_SUBMISSIONS, DEMO_PROJECT_TASKS
from demo.seed.workforce import DEMO_PASSWORD, LABELERS, LOGIN_TABLE, STORIES, VENDORS
from payments.ledger import ledger_hash
from payments.models import (
    BonusTier,
    Calculation,
    ExchangeRate,
    Invoice,
    LedgerLine,
    PaidItem,
    PayPeriod,
    PayPeriodStatusChange,
    PayPolicy,
    PayRate,
    VendorContract,
)
from payments.services.calculate import RULE_REGRADED, RULE_REVIEW
from qc.models import (
    AttemptQuestion,
    GoldItem,
    GoldItemStatusChange,
    GoldSet,
    Guide,
    GuideAcknowledgement,
    GuideVersion,
    Quiz,
    QuizAttempt,
)
from qc.selectors import quizzes as quiz_selectors
from qc.selectors.guides import guide_ack_missing
from qc.sequential import recommended_params
from workforce import roles
from workforce.models import (
    Labeler,
    LabelerStatusChange,
    Qualification,
    QualificationType,
    Skill,
    User,
    Vendor,
    VendorMembership,
)

pytestmark = pytest.mark.django_db

S = Labeler.Status


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", force=True, stdout=out)
    return out.getvalue()


def _snapshot() -> dict:
    """Everything the demo writes, in a form two runs can be compared by."""
    return {
        "counts": {
            "projects": Project.objects.count(),
            "tasks": Task.objects.count(),
            "assignments": Assignment.objects.count(),
            "submitted": Assignment.objects.filter(status="submitted").count(),
            "reviews": Review.objects.count(),
            "users": User.objects.count(),
            "vendors": Vendor.objects.count(),
            "labelers": Labeler.objects.count(),
            "status_changes": LabelerStatusChange.objects.count(),
            "memberships": VendorMembership.objects.count(),
            "skills": Skill.objects.count(),
            "object_permissions": UserObjectPermission.objects.count(),
            "guides": Guide.objects.count(),
            "guide_versions": GuideVersion.objects.count(),
            "acks": GuideAcknowledgement.objects.count(),
            "gold_sets": GoldSet.objects.count(),
            "gold_items": GoldItem.objects.count(),
            "gold_status_changes": GoldItemStatusChange.objects.count(),
            "qualification_types": QualificationType.objects.count(),
            "quizzes": Quiz.objects.count(),
            "attempts": QuizAttempt.objects.count(),
            "attempt_questions": AttemptQuestion.objects.count(),
            "answered_questions": AttemptQuestion.objects.filter(answered_at__isnull=False).count(),
            "qualifications": Qualification.objects.count(),
        },
        "statuses": dict(Labeler.objects.values_list("user__username", "status")),
        "history": sorted(
            LabelerStatusChange.objects.values_list(
                "labeler__user__username", "from_status", "to_status", "reason", "actor__username"
            )
        ),
        "groups": sorted(User.groups.through.objects.values_list("user__username", "group__name")),
        "guide_versions": sorted(
            GuideVersion.objects.values_list(
                "guide__slug", "status", "bump", "major", "minor", "change_summary", "published_at"
            ),
            key=repr,
        ),
        "acks": sorted(
            GuideAcknowledgement.objects.values_list(
                "labeler__user__username", "version__major", "version__minor", "acknowledged_at"
            )
        ),
        "gold_items": sorted(
            GoldItem.objects.values_list(
                "external_id", "status", "stratum", "difficulty", "updated_at"
            )
        ),
        "attempts": sorted(
            QuizAttempt.objects.values_list(
                "quiz__slug",
                "labeler__user__username",
                "number",
                "status",
                "end_reason",
                "answered_count",
                "correct_count",
                "score",
                "finished_at",
            )
        ),
        "qualifications": sorted(
            Qualification.objects.values_list(
                "labeler__user__username",
                "qualification_type__slug",
                "source",
                "score",
                "granted_at",
                "expires_at",
                "revoked_at",
                "revoke_reason",
                "superseded_at",
            ),
            key=repr,
        ),
    }


def test_running_twice_yields_the_same_data():
    first_output = _seed()
    first = _snapshot()
    second_output = _seed()
    second = _snapshot()

    assert first == second
    assert first["counts"]["labelers"] == len(LABELERS) >= 25
    assert first["counts"]["users"] == len(LABELERS) + 1 + len(VENDORS)
    assert first["counts"]["memberships"] == len(VENDORS)
    assert first["counts"]["guide_versions"] == 3 + len(BOX_GUIDE_VERSIONS)
    # The quizzes' forty items and the project's forty control items.
    assert first["counts"]["gold_items"] == 2 * len(GOLD_ITEMS) == 80
    assert first["counts"]["quizzes"] == 2
    assert first["counts"]["attempts"] == sum(
        len(plans) for story in ATTEMPTS.values() for plans in story.values()
    )
    assert first["counts"]["attempt_questions"] > first["counts"]["attempts"] * 5
    assert any(q[6] is not None for q in first["qualifications"])  # one revoked
    assert "30 labelers" in first_output and "19 quiz attempts" in first_output
    assert "created nothing" in second_output
    # The project is half done: half of its 60 x 2 real slots were labeled through the services
    # (flight F5, the third batch, is labeled in full: demo.seed.operations).
    real_submitted = (
        Assignment.objects.filter(project__slug=DEMO_PROJECT, is_control=False, status="submitted")
        .exclude(task__batch__source=F5_SOURCE)
        .count()
    )
    assert real_submitted == DEMO_PROJECT_SUBMISSIONS
    assert first["counts"]["tasks"] > DEMO_PROJECT_TASKS  # plus control tasks
    assert Task.objects.filter(gold_item__isnull=True, is_open=True).exists()
    assert "Quality story" in second_output


def test_ops_manager_is_staff_in_the_ops_group():
    _seed()
    ops = User.objects.get(username="ops")
    assert ops.is_staff and ops.is_active
    assert ops.groups.filter(name=roles.OPS_MANAGERS).exists()
    assert not Labeler.objects.filter(user=ops).exists()


def test_each_vendor_has_its_manager_with_the_object_permission_and_only_its_own():
    _seed()
    northwind = Vendor.objects.get(slug="northwind")
    kestrel = Vendor.objects.get(slug="kestrel")
    nw_manager = User.objects.get(username="northwind_manager")
    ks_manager = User.objects.get(username="kestrel_manager")

    assert nw_manager.has_perm(roles.MANAGE_VENDOR, northwind)
    assert ks_manager.has_perm(roles.MANAGE_VENDOR, kestrel)
    assert not nw_manager.has_perm(roles.MANAGE_VENDOR, kestrel)
    assert not ks_manager.has_perm(roles.MANAGE_VENDOR, northwind)
    assert VendorMembership.objects.filter(vendor=northwind, user=nw_manager).exists()
    assert VendorMembership.objects.filter(vendor=kestrel, user=ks_manager).exists()
    assert (northwind.country, northwind.default_currency) == ("PT", "EUR")
    assert (kestrel.country, kestrel.default_currency) == ("IN", "INR")


def test_every_status_occurs_and_there_is_a_senior_labeler():
    _seed()
    statuses = set(Labeler.objects.values_list("status", flat=True))
    assert statuses == set(S.values)
    assert Labeler.objects.filter(status=S.SUSPENDED).count() == 2
    assert Labeler.objects.filter(status=S.OFFBOARDED).count() == 1
    assert Labeler.objects.filter(status=S.ACTIVE).count() > Labeler.objects.count() / 2

    seniors = Labeler.objects.filter(seniority=Labeler.Seniority.SENIOR)
    assert list(seniors.values_list("user__username", flat=True)) == ["senior"]
    assert seniors.get().user.groups.filter(name=roles.SENIOR_LABELERS).exists()


def test_labelers_of_both_kinds_with_deterministic_external_ids():
    _seed()
    assert Labeler.objects.filter(kind=Labeler.Kind.INTERNAL, vendor__isnull=True).count() >= 3
    for vendor in Vendor.objects.all():
        ids = list(vendor.labelers.values_list("external_id", flat=True))
        assert len(ids) >= 10
        assert all(ids) and len(set(ids)) == len(ids)
    assert Labeler.objects.get(user__username="ines.costa").external_id == "NW-0001"
    assert Labeler.objects.filter(skills__isnull=False).distinct().count() > 20
    assert Labeler.objects.exclude(languages=[]).count() == Labeler.objects.count()


def test_suspensions_and_offboarding_carry_their_reasons_and_offboarding_disables_login():
    _seed()
    for labeler in Labeler.objects.filter(status__in=[S.SUSPENDED, S.OFFBOARDED]):
        last = labeler.status_changes.order_by("-created_at", "-id").first()
        assert last.to_status == labeler.status
        assert len(last.reason) > 20
        assert last.actor is not None
    offboarded = Labeler.objects.get(status=S.OFFBOARDED)
    assert offboarded.user.is_active is False

    # Every labeler's history starts at the invitation and chains without gaps.
    for labeler in Labeler.objects.all():
        steps = list(labeler.status_changes.order_by("created_at", "id"))
        assert steps[0].from_status == "" and steps[0].to_status == S.INVITED
        assert all(a.to_status == b.from_status for a, b in pairwise(steps))
        assert steps[-1].to_status == labeler.status


def test_demo_logins_use_the_demo_password_and_get_a_token(api_client):
    _seed()
    usernames = [username for _role, username, _hint in LOGIN_TABLE]
    hashes = set(User.objects.filter(username__in=usernames).values_list("password", flat=True))
    assert len(hashes) == 1  # one shared hash of the one demo password
    assert check_password(DEMO_PASSWORD, hashes.pop())

    response = api_client.post(
        "/api/v1/auth/token/",
        {"username": "northwind_manager", "password": DEMO_PASSWORD},
    )
    assert response.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api_client.get("/api/v1/me/").status_code == 200

    refused = api_client.post(
        "/api/v1/auth/token/", {"username": "lucia.marques", "password": DEMO_PASSWORD}
    )
    assert refused.status_code == 400


def test_stories_name_only_demo_labelers():
    usernames = {spec.username for spec in LABELERS}
    assert set(STORIES) <= usernames
    assert len(usernames) == len(LABELERS)


def test_refuses_without_debug_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG=1"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()


# -- the quality story ---------------------------------------------------------------------------


def _labeler(username: str) -> Labeler:
    return Labeler.objects.select_related("user").get(user__username=username)


def _quiz(slug: str) -> Quiz:
    return Quiz.objects.get(slug=slug)


def _blockers(username: str, quiz_slug: str) -> list[str]:
    quiz = _quiz(quiz_slug)
    availability = quiz_selectors.quiz_availability_for(labeler=_labeler(username), quizzes=[quiz])
    return [b.code for b in availability[quiz.pk].blocked]


def test_quality_story_names_only_active_demo_labelers():
    active = {spec.username for spec in LABELERS if spec.story and spec.story[-1][0] == S.ACTIVE}
    named = {
        *GUIDE_ACKS_1_0_THEN_1_1,
        *GUIDE_ACKS_1_0_ONLY,
        *GUIDE_NOT_ACKNOWLEDGED,
        *QUALIFICATION_REVOKED,
        *QUALIFICATION_MANUAL,
        *(u for story in ATTEMPTS.values() for u in story),
        *BOX_LABELERS,
    }
    assert named <= active
    # Everyone who takes a quiz has read the guide.
    takers = {u for story in ATTEMPTS.values() for u in story}
    assert not takers & set(GUIDE_NOT_ACKNOWLEDGED)


def test_guide_versions_and_who_acknowledged_what(client_for):
    _seed()
    guide = Guide.objects.get(slug="pole-inspection")
    versions = {(v.status, v.number, v.bump) for v in GuideVersion.objects.filter(guide=guide)}
    assert versions == {
        ("published", "1.0", "major"),
        ("published", "1.1", "minor"),
        ("draft", "draft", "major"),
    }

    def acked(username: str) -> set[str]:
        return {
            ack.version.number
            for ack in GuideAcknowledgement.objects.filter(labeler__user__username=username)
        }

    for username in GUIDE_NOT_ACKNOWLEDGED:
        assert acked(username) == set()
        assert guide_ack_missing(labeler=_labeler(username), guide=guide).number == "1.1"
    for username in GUIDE_ACKS_1_0_ONLY:
        assert acked(username) == {"1.0"}
        assert guide_ack_missing(labeler=_labeler(username), guide=guide) is None
    for username in GUIDE_ACKS_1_0_THEN_1_1:
        assert acked(username) == {"1.0", "1.1"}
    active = Labeler.objects.filter(status=S.ACTIVE)
    on_1_1 = GuideAcknowledgement.objects.filter(version__minor=1).values("labeler").distinct()
    assert on_1_1.count() > active.count() / 2  # most active labelers read 1.1

    # The printed hint: a labeler who read 1.0 is told what changed since.
    response = client_for(User.objects.get(username="rui.martins")).get(
        f"/api/v1/guides/{guide.pk}/"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["must_acknowledge"] is False
    assert [v["number"] for v in body["changes_since_ack"]] == ["1.1"]


def test_gold_set_is_deterministic_and_varied():
    _seed()
    gold_set = GoldSet.objects.get(slug="pole-gold")
    assert gold_set.answer_type == "single_choice"
    assert gold_set.classes == ["ok", "crack", "rust", "woodpecker", "missing-crossarm"]
    items = list(gold_set.items.order_by("external_id"))
    assert len(items) == 40
    for n, item in enumerate(items, start=1):
        assert item.external_id == f"POLE-{n:03d}"
        assert item.payload["image_url"] == f"/static/demo/poles/{n:03d}.svg"
        assert (
            item.payload["metadata"]
            == gold_payload(n, item.payload["metadata"]["material"])["metadata"]
        )
        assert item.explanation
        assert item.guide_version is not None
    assert {i.difficulty for i in items} == set(GoldItem.Difficulty.values)
    assert {i.stratum for i in items} == set(gold_set.classes)
    assert sum(len(i.accepted_answers) == 2 for i in items) == 2

    ops = User.objects.get(username="ops")
    for external_id, status in (("POLE-017", "quarantined"), ("POLE-033", "retired")):
        item = gold_set.items.get(external_id=external_id)
        assert item.status == status
        last = item.status_changes.first()
        assert (last.to_status, last.actor) == (status, ops)
        assert len(last.reason) > 20
    assert gold_set.items.filter(status="active").count() == 38


def test_quizzes_use_the_recommended_sequential_rule():
    _seed()
    rule = recommended_params(0.8, 20)
    quiz = _quiz(QUALIFICATION_QUIZ)
    assert quiz.kind == Quiz.Kind.QUALIFICATION and quiz.sequential
    assert (quiz.pass_mark, quiz.seq_p0) == (Decimal("0.8"), Decimal(str(rule.p0)))
    assert (quiz.seq_alpha, quiz.seq_beta) == (Decimal(str(rule.alpha)), Decimal(str(rule.beta)))
    assert (quiz.num_questions, quiz.seq_min_questions) == (rule.n_max, rule.n_min)
    assert (quiz.time_limit_seconds, quiz.max_attempts) == (1800, 3)
    assert (quiz.retry_delay_seconds, quiz.validity_days) == (86400, 180)
    assert quiz.qualification_type.slug == "pole-defects"
    assert quiz.guide.slug == quiz.gold_set.guide.slug == "pole-inspection"
    training = _quiz(TRAINING_QUIZ)
    assert (training.kind, training.num_questions) == (Quiz.Kind.TRAINING, 10)
    assert training.qualification_type is None

    # Every answer is a class of the set; the simulated labelers got some right and some wrong.
    answered = AttemptQuestion.objects.filter(answered_at__isnull=False)
    assert set(answered.values_list("answer", flat=True)) <= set(quiz.gold_set.classes)
    assert answered.filter(is_correct=True).exists() and answered.filter(is_correct=False).exists()
    assert quiz.attempts.filter(end_reason=QuizAttempt.EndReason.SEQUENTIAL).exists()


def test_each_labeler_stands_where_the_story_says():
    _seed()
    now = timezone.now()
    quiz = _quiz(QUALIFICATION_QUIZ)
    ops = User.objects.get(username="ops")

    def valid_grant(username: str) -> Qualification | None:
        return Qualification.objects.filter(
            labeler__user__username=username,
            qualification_type__slug="pole-defects",
            revoked_at__isnull=True,
            superseded_at__isnull=True,
            expires_at__gt=now,
        ).first()

    # Passed (the senior labeler among them): a valid quiz grant, so the quiz is closed.
    for username in ("senior", "ines.costa", "pedro.almeida", "deepa.krishnan", "rohan.mehta"):
        grant = valid_grant(username)
        assert grant is not None and grant.source == Qualification.Source.QUIZ
        assert grant.expires_at - grant.granted_at == timedelta(days=180)
        assert grant.score >= Decimal("0.8")
        assert _blockers(username, QUALIFICATION_QUIZ)[0] == "already_qualified"
    assert QuizAttempt.objects.filter(quiz=quiz, labeler__user__username="rohan.mehta").count() == 2

    # Failed recently: waiting out the retry delay, attempts left.
    for username in ("tiago.sousa", "sanjay.patel"):
        assert valid_grant(username) is None
        availability = quiz_selectors.quiz_availability_for(
            labeler=_labeler(username), quizzes=[quiz]
        )[quiz.pk]
        assert [b.code for b in availability.blocked] == ["retry_delay"]
        assert now < availability.next_attempt_at < now + timedelta(hours=24)
        assert availability.attempts_left == 2

    # Failed three times: no attempts left.
    assert _blockers("catarina.lopes", QUALIFICATION_QUIZ) == ["attempts_exhausted"]
    assert (
        QuizAttempt.objects.filter(
            quiz=quiz, labeler__user__username="catarina.lopes", status="failed"
        ).count()
        == 3
    )

    # Never read the guide: blocked on it, for both quizzes.
    for username in GUIDE_NOT_ACKNOWLEDGED:
        for slug in (TRAINING_QUIZ, QUALIFICATION_QUIZ):
            assert _blockers(username, slug) == ["guide_not_acknowledged"]

    # Passed, then revoked by ops with a reason: may requalify with fresh attempts.
    revoked = Qualification.objects.get(labeler__user__username="priya.sharma")
    assert revoked.source == Qualification.Source.QUIZ and revoked.revoked_by == ops
    assert revoked.revoke_reason == QUALIFICATION_REVOKED["priya.sharma"]
    assert valid_grant("priya.sharma") is None
    assert _blockers("priya.sharma", QUALIFICATION_QUIZ) == []

    # Granted by ops without a quiz.
    manual = valid_grant("kavya.reddy")
    assert manual.source == Qualification.Source.MANUAL and manual.granted_by == ops
    assert manual.reason and not QuizAttempt.objects.filter(labeler=manual.labeler).exists()

    # Trained but not qualified: the qualification quiz is open to them.
    assert (
        QuizAttempt.objects.get(quiz__slug=TRAINING_QUIZ, labeler__user__username="labeler").status
        == "passed"
    )
    assert _blockers("labeler", QUALIFICATION_QUIZ) == []
    assert QuizAttempt.objects.filter(quiz__slug=TRAINING_QUIZ).count() >= 3


def test_the_quiz_list_tells_a_blocked_labeler_why(client_for):
    _seed()
    response = client_for(User.objects.get(username="joao.ferreira")).get("/api/v1/quizzes/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert {row["slug"] for row in rows} == {
        TRAINING_QUIZ,
        QUALIFICATION_QUIZ,
    }
    for row in rows:
        assert row["availability"]["available"] is False
        assert row["availability"]["blocked"][0]["code"] == "guide_not_acknowledged"


# -- when the demo's work happened -----------------------------------------------------------

# Fields that hold a deadline or a bound, not something that happened: they may lie after now
# or before the work by design (a qualification granted by the demo is valid for 180 days; the
# review the senior labeler resolves during the seeding was leased for 30 minutes; the current
# pay period ends after now, and the first one and the rates start on the Monday of the week of
# the first label).
DEADLINES = {
    ("workforce", "qualification", "expires_at"),
    ("assignments", "review", "expires_at"),
    ("payments", "payperiod", "starts_at"),
    ("payments", "payperiod", "ends_at"),
    ("payments", "payrate", "effective_from"),
}
DEMO_SPAN = timedelta(days=28)


def _timestamps() -> list[tuple[str, object]]:
    """Every date-time value the demo wrote, as ("app.model.field", value)."""
    from django.apps import apps
    from django.db import models

    found = []
    for model in apps.get_models():
        if model._meta.app_label not in {"workforce", "qc", "assignments", "payments"}:
            continue
        for f in model._meta.concrete_fields:
            if not isinstance(f, models.DateTimeField):
                continue
            if (model._meta.app_label, model._meta.model_name, f.name) in DEADLINES:
                continue
            name = f"{model._meta.label}.{f.name}"
            found += [
                (name, value)
                for value in model.objects.exclude(**{f"{f.name}__isnull": True}).values_list(
                    f.name, flat=True
                )
            ]
    return found


# Committed transactions, as in `make demo`: grading, consensus and rule evaluation run after
# each submit commits, so their facts are there to check.
@pytest.mark.django_db(transaction=True)
def test_all_demo_work_lies_in_the_four_weeks_before_now():
    from qc.models import GoldCheck, RuleFiring

    _seed()
    now = timezone.now()
    stamps = _timestamps()
    names = {name for name, _ in stamps}
    # The facts the scores and rules read are among them.
    assert {
        "assignments.Assignment.submitted_at",
        "assignments.Assignment.leased_at",
        "assignments.Task.decided_at",
        "qc.GoldCheck.checked_at",
        "qc.LabelOutcome.submitted_at",
        "qc.QuizAttempt.started_at",
        "qc.AttemptQuestion.answered_at",
        "qc.RuleFiring.fired_at",
    } <= names
    future = sorted({name for name, value in stamps if value > now})
    assert future == []
    too_old = sorted({name for name, value in stamps if value < now - DEMO_SPAN})
    assert too_old == []
    # The work is spread over the weeks, not bunched at the end.
    submitted = sorted(
        Assignment.objects.filter(submitted_at__isnull=False).values_list("submitted_at", flat=True)
    )
    assert len(submitted) > DEMO_PROJECT_SUBMISSIONS
    assert submitted[0] < now - timedelta(days=21)
    assert submitted[len(submitted) // 2] < now - timedelta(days=7)
    assert submitted[-1] > now - timedelta(days=3)
    assert GoldCheck.objects.filter(checked_at__lt=now - timedelta(days=14)).exists()
    # The README names who a rule paused: the rule fired through the services. It reads checks
    # made before today, so the careless labeler has enough of them more than a day old for it
    # to fire at any hour of the seeding (once it depended on the hour).
    rohan_checks = GoldCheck.objects.filter(
        labeler__user__username="rohan.mehta", checked_at__lt=now - timedelta(days=1)
    ).count()
    assert rohan_checks >= 8, rohan_checks
    assert RuleFiring.objects.filter(
        action="pause_on_project", labeler__user__username="rohan.mehta", rule__isnull=False
    ).exists()


def test_suspensions_and_the_revocation_are_by_hand_and_cite_no_rule():
    _seed()
    suspensions = LabelerStatusChange.objects.filter(to_status=S.SUSPENDED)
    assert suspensions.count() == 3  # two still suspended, one reactivated
    for change in suspensions:
        assert change.actor is not None
        assert "rule" not in change.reason.lower(), change.reason
    revoked = Qualification.objects.filter(revoked_at__isnull=False)
    assert revoked.count() == len(QUALIFICATION_REVOKED)
    for grant in revoked:
        assert grant.revoked_by is not None
        assert "rule" not in grant.revoke_reason.lower(), grant.revoke_reason
    readme = " ".join((Path(settings.BASE_DIR) / "README.md").read_text().split())
    assert "suspended by hand" in readme and "by a quality rule" not in readme


# -- control tasks that stay secret ------------------------------------------------------------


def _shape(value: object, path: str = "") -> set[tuple[str, str]]:
    """(key path, JSON type or, for a URL or a path, its pattern with every digit a #) of every
    value."""
    if isinstance(value, dict):
        found = {(path, "object")}
        for key, inner in value.items():
            found |= _shape(inner, f"{path}.{key}" if path else key)
        return found
    if isinstance(value, list):
        return {(path, "array")}.union(*(_shape(v, f"{path}[]") for v in value))
    if isinstance(value, str) and ("://" in value or value.startswith("/")):
        return {(path, re.sub(r"\d", "#", value))}
    return {(path, type(value).__name__)}


@pytest.mark.django_db(transaction=True)
def test_control_tasks_look_like_the_real_tasks_and_no_quiz_teaches_them():
    _seed()
    project = Project.objects.select_related("control_gold_set").get(slug=DEMO_PROJECT)
    control_set = project.control_gold_set
    tasks = list(Task.objects.filter(project=project))
    real = [t.payload for t in tasks if t.gold_item_id is None]
    control = [t.payload for t in tasks if t.gold_item_id is not None]
    # The survey's two batches and flight F5's (demo.seed.operations: the drifting batch).
    assert len(real) == DEMO_PROJECT_TASKS + len(F5_PHOTOS) and len(control) >= 30
    assert {t.gold_item.gold_set_id for t in tasks if t.gold_item_id} == {control_set.pk}

    real_shapes = {frozenset(_shape(p)) for p in real}
    control_shapes = {frozenset(_shape(p)) for p in control}
    assert len(real_shapes) == 1  # every real task has the same keys, types and URL pattern
    assert control_shapes == real_shapes
    # The same photos are never both: a control photo is not a real task's.
    urls = [p["image_url"] for p in real + control]
    assert len(set(urls)) == len(urls)
    # Nor do control photos sit apart by number: the survey's numbers are interleaved.
    real_numbers = [int(re.sub(r"\D", "", p["image_url"])) for p in real]
    control_numbers = [int(re.sub(r"\D", "", p["image_url"])) for p in control]
    assert min(control_numbers) < max(real_numbers) and min(real_numbers) < max(control_numbers)

    # The control set is used by no quiz: none shows its items, with or without feedback.
    assert not Quiz.objects.filter(gold_set=control_set).exists()
    training = Quiz.objects.get(slug=TRAINING_QUIZ)
    assert training.kind == Quiz.Kind.TRAINING and training.gold_set_id != control_set.pk
    # No labeler was shown a control item in a quiz.
    assert not AttemptQuestion.objects.filter(gold_item__gold_set=control_set).exists()

    # The project's own control set check agrees (docs/next-task.md, "Control tasks that look
    # like real ones"): compared with the real tasks, nothing differs and nothing is warned of;
    # activation needed no override.
    state = project_control_state(project=project)
    assert state.report.compared and state.report.ok, state.report.summary()
    assert state.report.controls_checked == len(control) and state.warnings == []
    assert project.control_check["ok"] and project.control_override_at is None


# -- pay -----------------------------------------------------------------------------------------


def _pay_snapshot() -> dict:
    """The demo's pay as two runs can be compared by: each period's status and ledger hash, its
    invoices, and how many rows of each kind there are."""
    return {
        "periods": list(
            PayPeriod.objects.order_by("starts_at").values_list(
                "starts_at", "status", "ledger_hash"
            )
        ),
        "invoices": sorted(
            Invoice.objects.values_list("vendor__slug", "number", "period__starts_at", "totals"),
            key=repr,
        ),
        "counts": {
            model.__name__: model.objects.count()
            for model in (
                PayRate,
                PayPolicy,
                BonusTier,
                VendorContract,
                ExchangeRate,
                PayPeriod,
                PayPeriodStatusChange,
                Calculation,
                LedgerLine,
                PaidItem,
                Invoice,
                GoldItemStatusChange,
            )
        },
    }


def _pay_lines(output: str) -> list[str]:
    return output[output.index("Pay on ") :].splitlines()


# Committed transactions, as in `make demo`: the labels are decided and graded after each submit
# commits, so there is work to pay.
@pytest.mark.django_db(transaction=True)
def test_pay_closes_the_past_weeks_with_invoices_and_adjusts_a_closed_week_in_the_current_one():
    output = _seed()
    now = timezone.now()
    periods = list(PayPeriod.objects.order_by("starts_at"))
    *past, current = periods

    # Weekly periods in UTC, back to back, from the week of the first label (27 days ago: three
    # weeks back on a Sunday, four on other days) to this week.
    assert len(past) >= 3
    assert {(p.cadence, p.timezone) for p in periods} == {("weekly", "UTC")}
    assert all(a.ends_at == b.starts_at for a, b in pairwise(periods))
    first = Assignment.objects.aggregate(at=Min("submitted_at"))["at"]
    assert past[0].starts_at <= first < past[0].ends_at
    assert current.starts_at <= now < current.ends_at

    # The past weeks went through every step, by ops, and are closed; this week is calculated
    # (its hash is its ledger's) and not approved: it has not ended.
    assert {p.status for p in past} == {PayPeriod.Status.CLOSED}
    for period in past:
        steps = list(period.status_changes.order_by("at", "id"))
        assert [s.to_status for s in steps][-3:] == ["calculated", "approved", "closed"]
        assert {s.actor.username for s in steps} == {"ops"}
        assert period.ledger_hash == ledger_hash(period.pk)
    assert current.status == PayPeriod.Status.CALCULATED
    assert current.ledger_hash == ledger_hash(current.pk)
    assert not Invoice.objects.filter(period=current).exists()

    # Invoices: Northwind's in EUR, Kestrel's in INR, both in at least one closed week; numbered
    # 1, 2, 3… per vendor; totals are the sums of the vendor's lines in the period.
    both = [
        p
        for p in past
        if set(Invoice.objects.filter(period=p).values_list("vendor__slug", flat=True))
        == {"northwind", "kestrel"}
    ]
    assert both
    for slug, currency in (("northwind", "EUR"), ("kestrel", "INR")):
        invoices = list(Invoice.objects.filter(vendor__slug=slug).order_by("number"))
        assert [i.number for i in invoices] == list(range(1, len(invoices) + 1))
        for invoice in invoices:
            assert set(invoice.totals) == {currency}
            lines = LedgerLine.objects.filter(period=invoice.period, vendor=invoice.vendor)
            assert Decimal(invoice.totals[currency]) == lines.aggregate(s=Sum("amount"))["s"] > 0
        # Its labelers are paid at the vendor's rate, in its currency.
        paid = LedgerLine.objects.filter(labeler__vendor__slug=slug, kind="task")
        assert set(paid.values_list("currency", flat=True)) == {currency}
        assert set(paid.values_list("rate__scope", flat=True)) == {"vendor"}
    # Internal staff are paid by the hour; the fees are lines of the vendors.
    hourly = LedgerLine.objects.filter(kind="hourly")
    assert hourly.exists()
    assert set(hourly.values_list("labeler__kind", "rate__scope", "currency")) == {
        ("internal", "internal", "USD")
    }
    assert not LedgerLine.objects.filter(labeler__kind="internal", kind="task").exists()
    fees = LedgerLine.objects.filter(kind="vendor_fee")
    assert set(fees.values_list("vendor__slug", "currency")) == {
        ("northwind", "EUR"),
        ("kestrel", "INR"),
    }
    assert ExchangeRate.objects.filter(quote="USD").count() == 2
    # This week's flag, resolved by the senior labeler: a review line at the review rate.
    review = LedgerLine.objects.get(period=current, kind="review")
    assert (review.labeler.user.username, review.quantity, review.rate.unit) == (
        "senior",
        1,
        "resolved_review",
    )
    assert review.amount == review.rate.amount

    # The flag's review overturned a closed week's decision, and the gold correction made after
    # the weeks closed re-graded control labels: both are adjusted in this week, each adjustment
    # pointing at a closed week and correcting an item paid there.
    adjustments = LedgerLine.objects.filter(period=current, kind="adjustment")
    assert {line.rule for line in adjustments} == {RULE_REVIEW, RULE_REGRADED}
    flagged = Review.objects.get(kind="flag", question=FLAG_QUESTION)
    assert flagged.assignment.answer == flagged.task.final_answer  # the labeler was right
    overturned = adjustments.filter(rule=RULE_REVIEW, labeler=flagged.assignment.labeler)
    assert overturned.get().amount > 0
    closed = {p.pk for p in past}
    assert {line.detail["corrects_period"] for line in adjustments} <= closed
    corrected = PaidItem.objects.filter(line__in=adjustments)
    assert set(corrected.values_list("corrects__period", flat=True)) <= closed
    assert all(line.rule for line in adjustments)

    # What the closing report says, and a second run: nothing new, the same ledgers, the same
    # lines printed.
    lines = _pay_lines(output)
    invoiced = f"{both[0].label}  closed"
    assert any(invoiced in line and "NORTHWIND-" in line and "KESTREL-" in line for line in lines)
    assert any(current.label in line and "calculated" in line for line in lines)
    assert any(line.strip().startswith("adjustment in " + current.label) for line in lines)
    assert any("/api/v1/me/earnings/" in line for line in lines)
    before = _pay_snapshot()
    again = _seed()
    assert _pay_snapshot() == before
    assert "created nothing" in again
    assert _pay_lines(again) == lines
