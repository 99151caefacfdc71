"""The hot path's fixed statements (``assignments/sql.py``) against the ORM: for each statement
a small world with rows in every state that matters, the statement's answer, and an ORM
queryset that states the same rule on the same data — compared row for row. (The control-rate
upsert, the one other fixed statement of the path, has its own equality test against the pure
rule: tests/qc/test_control_rate.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from assignments import sql
from assignments.models import Assignment, Project, Task
from assignments.selectors.gate import language_met
from qc.models import (
    ControlRate,
    GoldCheck,
    GoldExposure,
    GoldItem,
    GuideAcknowledgement,
    GuideVersion,
    QualityRule,
    RuleFiring,
)
from tests.assignments.factories import make_project, with_gold
from tests.factories import make_labeler
from tests.qc.factories import acknowledge, make_published_guide, publish_version
from workforce import services as workforce_services
from workforce.models import Labeler, Qualification, QualificationType, Skill

pytestmark = pytest.mark.django_db

NOW = timezone.now()
S = Assignment.Status


def fetch(statement: sql.Statement, params: dict) -> list[tuple]:
    """The statement's rows, each read as the statement says (models first)."""
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        rows = cursor.fetchall() if cursor.description else []
    return [statement.read(row) for row in rows]


def at(when):
    return connection.ops.adapt_datetimefield_value(when)


def values(instance) -> dict:
    """Every concrete field's value, as the model holds it."""
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def orm_holds_slot(now) -> Q:
    return Q(status=S.SUBMITTED) | Q(status=S.LEASED, expires_at__gt=now)


def assign(task, labeler, status, *, expires_in=timedelta(minutes=10), control=False, ahead=False):
    return Assignment.objects.create(
        ahead=ahead,
        task=task,
        project_id=task.project_id,
        labeler=labeler,
        status=status,
        is_control=control,
        leased_at=NOW - timedelta(hours=1),
        expires_at=NOW + expires_in,
        submitted_at=NOW if status == S.SUBMITTED else None,
        answer="ok" if status == S.SUBMITTED else None,
    )


# -- fragments ----------------------------------------------------------------------------------


def test_a_literal_doubles_quotes_and_escapes_the_parameter_marker():
    assert sql.literal("leased") == "'leased'"
    assert sql.literal("it's 5%") == "'it''s 5%%'"
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + sql.literal("it's 5%") + ", %(x)s", {"x": 1})
        assert cursor.fetchone() == ("it's 5%", 1)


def test_the_lock_clause_is_there_only_where_rows_can_be_locked():
    expected = "FOR UPDATE" if connection.features.has_select_for_update else ""
    assert sql.lock_clause("FOR UPDATE") == expected


# -- the slot rule and the claim ----------------------------------------------------------------


@pytest.fixture
def queue():
    """Tasks (target 2) in every state the slot rule tells apart, for five labelers:

    * t0: two submissions — full;
    * t1: a live lease and an expired (not yet tidied) one — one slot used;
    * t2: released, tidied-expired and submitted — one slot used;
    * t3: untouched; t4: untouched but closed (the highest priority);
    * t5: a live lease that runs out within the hour.
    A task of another project with the highest priority is never a candidate.
    """
    project = make_project(tasks=6, overlap=2)
    other = make_project(tasks=1, overlap=2, slug="other")
    Task.objects.filter(project=other).update(priority=9)
    t = list(Task.objects.filter(project=project).order_by("id"))
    Task.objects.filter(pk=t[4].pk).update(is_open=False, priority=9)
    ls = [make_labeler() for _ in range(5)]
    assign(t[0], ls[0], S.SUBMITTED)
    assign(t[0], ls[1], S.SUBMITTED)
    assign(t[1], ls[0], S.LEASED)
    assign(t[1], ls[1], S.LEASED, expires_in=-timedelta(minutes=1))
    assign(t[2], ls[2], S.RELEASED)
    assign(t[2], ls[3], S.EXPIRED, expires_in=-timedelta(minutes=5))
    assign(t[2], ls[4], S.SUBMITTED)
    assign(t[5], ls[2], S.LEASED, expires_in=timedelta(minutes=30))
    Task.objects.filter(pk=t[5].pk).update(priority=5)
    return project, ls


WHENS = [NOW, NOW + timedelta(hours=1)]  # the hour later: every lease has run out


@pytest.mark.parametrize("when", WHENS)
def test_holds_slot_is_the_orm_rule(queue, when):
    a = Assignment._meta.db_table
    holds = sql.holds_slot("x")
    statement = sql.Statement(f"SELECT x.id FROM {a} x WHERE {holds} ORDER BY x.id")  # noqa: S608
    raw = [row[0] for row in fetch(statement, {"now": at(when)})]
    orm = list(
        Assignment.objects.filter(orm_holds_slot(when)).order_by("id").values_list("id", flat=True)
    )
    assert raw == orm
    assert len(raw) == (5 if when == NOW else 3)  # the world has leases on both sides of it


def orm_claim(project, labeler, now):
    used = Count(
        "assignments",
        filter=Q(assignments__status=S.SUBMITTED)
        | Q(assignments__status=S.LEASED, assignments__expires_at__gt=now),
    )
    return (
        Task.objects.filter(project=project, is_open=True)
        .exclude(Exists(Assignment.objects.filter(task=OuterRef("pk"), labeler=labeler)))
        .annotate(used=used)
        .filter(used__lt=F("target"))
        .order_by("-priority", "id")
        .first()
    )


@pytest.mark.parametrize("when", WHENS)
@pytest.mark.parametrize("lock", [True, False])
@pytest.mark.parametrize("ties", [False, True])
def test_the_claim_is_the_orm_queue(queue, when, lock, ties):
    project, labelers = queue
    if ties:  # one priority for all: the task id decides
        Task.objects.filter(project=project).update(priority=1)
    picked = []
    for labeler in [*labelers, make_labeler()]:
        params = {"project": project.pk, "labeler": labeler.pk, "now": at(when)}
        rows = fetch(sql.claim(lock=lock), params)
        expected = orm_claim(project, labeler, when)
        if expected is None:
            assert rows == []
            continue
        (task,) = rows[0]
        assert task.pk == expected.pk
        shown = {name: getattr(task, name) for name in sql.TASK_SHOWN}
        assert shown == {name: getattr(expected, name) for name in sql.TASK_SHOWN}
        picked.append(task.pk)
    assert len(set(picked)) > 1  # the labelers' histories send them to different tasks


# -- the lease ----------------------------------------------------------------------------------


def orm_has_free_slot(task, now) -> bool:
    return task.assignments.filter(orm_holds_slot(now)).count() < task.target


@pytest.mark.parametrize("control", [False, True])
def test_the_lease_goes_in_exactly_when_the_orm_counts_a_free_slot(queue, control):
    project, _ = queue
    newcomer = make_labeler()
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    leased = 0
    for task in tasks:
        free = orm_has_free_slot(task, NOW)
        params = {
            "project": project.pk,
            "labeler": newcomer.pk,
            "control": control,
            "now": at(NOW),
            "expires": at(NOW + timedelta(minutes=10)),
            "task": task.pk,
        }
        rows = fetch(sql.lease(control=control), params)
        if not (free or control):
            assert rows == []
            assert not Assignment.objects.filter(task=task, labeler=newcomer).exists()
            continue
        (assignment,) = rows[0]
        assert values(assignment) == values(Assignment.objects.get(task=task, labeler=newcomer))
        assert (assignment.status, assignment.is_control) == (S.LEASED, control)
        leased += 1
        # One live lease per labeler and project: hand it back before the next.
        Assignment.objects.filter(pk=assignment.pk).update(status=S.RELEASED)
    assert leased == (len(tasks) if control else len(tasks) - 1)  # t0 is full


# -- the control claim --------------------------------------------------------------------------


def orm_eligible_controls(project, labeler):
    met = Q(gold_item_id=OuterRef("gold_item_id"), labeler=labeler)
    return (
        Task.objects.filter(
            project=project, gold_item__isnull=False, gold_item__status=GoldItem.Status.ACTIVE
        )
        .exclude(
            Exists(
                Assignment.objects.filter(
                    labeler=labeler, task__gold_item_id=OuterRef("gold_item_id")
                )
            )
        )
        .exclude(Exists(GoldExposure.objects.filter(met)))
        .exclude(Exists(GoldCheck.objects.filter(met)))
        .order_by("gold_item_id")
    )


@pytest.fixture
def controls():
    """Six control items g0…g5; the labeler met g0 (a lease of its task), g1 (an exposure) and
    g3 (a gold check, in another project), and g4 is quarantined: g2 and g5 are left."""
    project = make_project(tasks=2, overlap=1)
    gold_set = with_gold(project, n=6)
    items = list(GoldItem.objects.filter(gold_set=gold_set).order_by("id"))
    assert [i.pk - items[0].pk for i in items] == list(range(6))
    labeler = make_labeler()
    assign(Task.objects.get(gold_item=items[0]), labeler, S.SUBMITTED, control=True)
    GoldExposure.objects.create(
        labeler=labeler, gold_item=items[1], reason=GoldExposure.Reason.QUIZ_TRAINING, at=NOW
    )
    GoldCheck.objects.create(
        labeler=labeler,
        gold_item=items[3],
        project_id=project.pk + 1000,
        assignment_id=990_001,
        answer="ok",
        correct=True,
        checked_at=NOW,
    )
    GoldItem.objects.filter(pk=items[4].pk).update(status=GoldItem.Status.QUARANTINED)
    return project, labeler, items


@pytest.mark.parametrize("u", [0.0, 0.2, 0.6, 0.8])
def test_the_control_claim_picks_the_first_eligible_item_from_its_pivot(controls, u):
    project, labeler, items = controls
    eligible = list(orm_eligible_controls(project, labeler))
    assert [t.gold_item_id for t in eligible] == [items[2].pk, items[5].pk]
    lo, hi = items[0].pk, items[-1].pk
    pivot = lo + int(u * (hi - lo))  # u * 5 is a whole number here: no rounding to differ on
    expected = next((t for t in eligible if t.gold_item_id >= pivot), eligible[0])
    params = {
        "project": project.pk,
        "labeler": labeler.pk,
        "gold_set": project.control_gold_set_id,
        "u": u,
    }
    ((task,),) = fetch(sql.control_claim(), params)
    assert task.pk == expected.pk
    assert task.payload == expected.payload


def test_the_control_claim_finds_nothing_when_the_orm_finds_nothing(controls):
    project, labeler, items = controls
    for item in (items[2], items[5]):
        GoldExposure.objects.create(
            labeler=labeler, gold_item=item, reason=GoldExposure.Reason.REVIEWED, at=NOW
        )
    assert not orm_eligible_controls(project, labeler).exists()
    params = {
        "project": project.pk,
        "labeler": labeler.pk,
        "gold_set": project.control_gold_set_id,
        "u": 0.5,
    }
    assert fetch(sql.control_claim(), params) == []
    # Another labeler has met none of them: every active item is eligible for them.
    fresh = make_labeler()
    got = fetch(sql.control_claim(), {**params, "labeler": fresh.pk, "u": 0.0})
    assert got[0][0].pk == orm_eligible_controls(project, fresh).first().pk


# -- the gate -----------------------------------------------------------------------------------


def orm_gate(project_id, labeler, now) -> tuple:
    project = Project.objects.get(pk=project_id)
    valid = Qualification.objects.valid(now).filter(labeler=labeler)
    missing = (
        project.required_qualifications.exclude(pk__in=valid.values("qualification_type_id"))
        .order_by("name")
        .values_list("name", flat=True)
        .first()
    )
    published = GuideVersion.objects.filter(
        guide_id=project.guide_id, status=GuideVersion.Status.PUBLISHED
    )
    major = published.order_by("-major").values_list("major", flat=True).first()
    acknowledged = (
        major is not None
        and GuideAcknowledgement.objects.filter(
            labeler=labeler, version__guide_id=project.guide_id, version__major=major
        ).exists()
    )
    mine = Assignment.objects.filter(labeler=labeler, project_id=project_id, status=S.LEASED)
    rate = ControlRate.objects.filter(labeler=labeler, project_id=project_id)
    if not project.adaptive_control:
        rate = rate.filter(reason__startswith="rule:")
    return (
        values(project),
        Labeler.objects.get(pk=labeler.pk).status,
        missing,
        published.exists(),
        acknowledged,
        mine.filter(ahead=False, expires_at__gt=now).values_list("id", flat=True).first(),
        mine.filter(expires_at__lte=now).exists(),
        RuleFiring.objects.filter(
            labeler=labeler,
            project_id=project_id,
            status=RuleFiring.Status.OPEN,
            action=QualityRule.Action.PAUSE_ON_PROJECT,
        ).exists(),
        rate.values_list("rate", flat=True).first(),
        mine.filter(ahead=True, expires_at__gt=now).values_list("id", flat=True).first(),
        *orm_access(project, labeler),
    )


def orm_access(project, labeler) -> tuple:
    """Who may work on the project, as the gate's last four columns read it: the vendor's
    status, why the project is closed to the labeler, a missing skill, a missing language."""
    labeler = Labeler.objects.select_related("vendor").get(pk=labeler.pk)
    excluded = None
    if labeler.kind != Labeler.Kind.INTERNAL:
        allowed = set(project.allowed_vendors.values_list("pk", flat=True))
        if project.internal_only:
            excluded = "internal_only"
        elif allowed and labeler.vendor_id not in allowed:
            excluded = "vendor_not_allowed"
    skill = (
        project.required_skills.exclude(pk__in=labeler.skills.values("pk"))
        .order_by("name", "id")
        .values_list("name", flat=True)
        .first()
    )
    unmet = sorted(
        code
        for code in project.required_languages
        if not any(language_met(code, spoken) for spoken in labeler.languages)
    )
    return (
        labeler.vendor.status if labeler.vendor_id else None,
        excluded,
        skill,
        unmet[0] if unmet else None,
    )


def raw_gate(project_id, labeler, now) -> tuple:
    params = {"labeler": labeler.pk, "project": project_id, "now": at(now)}
    rows = fetch(sql.gate(), params)
    if not rows:
        return ()
    project, *standing = rows[0]
    return (values(project), *standing)


def grant(labeler, qtype, *, now=NOW, valid_days=None):
    return workforce_services.qualification_grant(
        actor=None,
        labeler=labeler,
        qualification_type=qtype,
        source=Qualification.Source.MANUAL,
        reason="test",
        valid_days=valid_days,
        now=now,
    )


def firing(labeler, project, action, status=RuleFiring.Status.OPEN):
    from tests.qc.factories import make_rule

    rule = make_rule(action, project_id=project.pk, name=f"{action} {status}")
    RuleFiring.objects.create(
        rule=rule,
        labeler=labeler,
        project_id=project.pk,
        action=action,
        status=status,
        inputs={},
        fired_at=NOW,
        as_of=NOW,
    )


def test_the_gate_is_the_orm_standing_of_every_labeler():
    """Labelers in every standing the gate reports, on a project with a guide and two required
    qualifications, read before and after the guide's next major and with adaptive control off
    and on."""
    guide, _ = make_published_guide()
    project = make_project(tasks=3, overlap=1, guide=guide, require_guide_ack=True)
    alpha, beta = (
        QualificationType.objects.create(slug=s, name=s.title()) for s in ("alpha", "beta")
    )
    project.required_qualifications.set([alpha, beta])
    tasks = list(Task.objects.filter(project=project).order_by("id"))

    ready = make_labeler()  # both grants, acknowledged, a live lease, an adaptive rate
    grant(ready, alpha), grant(ready, beta)
    acknowledge(ready, guide)
    assign(tasks[0], ready, S.LEASED)
    assign(tasks[2], ready, S.LEASED, ahead=True)  # the labeler pages' look-ahead lease
    ControlRate.objects.create(
        labeler=ready, project_id=project.pk, rate=0.03, reason="adaptive:narrow", updated_at=NOW
    )

    lapsed = make_labeler()  # alpha expired, beta revoked; a stale lease; paused; rule rate
    grant(lapsed, alpha, now=NOW - timedelta(days=3), valid_days=1)
    revoked = grant(lapsed, beta)
    workforce_services.qualification_revoke(actor=None, qualification=revoked, reason="test")
    assign(tasks[1], lapsed, S.LEASED, expires_in=-timedelta(minutes=1))
    firing(lapsed, project, QualityRule.Action.PAUSE_ON_PROJECT)
    ControlRate.objects.create(
        labeler=lapsed, project_id=project.pk, rate=0.01, reason="rule:1 firing:1", updated_at=NOW
    )

    newcomer = make_labeler(status=Labeler.Status.SUSPENDED)  # nothing; a cleared pause, a warn
    grant(newcomer, beta)
    firing(newcomer, project, QualityRule.Action.PAUSE_ON_PROJECT, RuleFiring.Status.CLEARED)
    firing(newcomer, project, QualityRule.Action.WARN)

    superseded = make_labeler()  # alpha; beta's grant superseded by one since revoked
    grant(superseded, alpha), grant(superseded, beta)
    workforce_services.qualification_revoke(
        actor=None, qualification=grant(superseded, beta), reason="test"
    )

    people = [ready, lapsed, newcomer, superseded]
    seen = []
    for step in ("as built", "next major", "adaptive"):
        if step == "next major":
            publish_version(guide, bump=GuideVersion.Bump.MAJOR)
        if step == "adaptive":
            with_gold(project, n=2)  # adapting needs control tasks
            Project.objects.filter(pk=project.pk).update(adaptive_control=True)
        for labeler in people:
            for when in WHENS:
                raw = raw_gate(project.pk, labeler, when)
                assert raw == orm_gate(project.pk, labeler, when), (step, labeler, when)
                seen.append(raw[1:10])  # who may work: test_the_gate_reads_who_may_work
    # The standings differ: every column but "published" (always, here) takes several values.
    for column, taken in enumerate(zip(*seen, strict=True)):
        assert len(set(taken)) > (0 if column == 2 else 1), column
    assert raw_gate(project.pk + 1000, ready, NOW) == ()  # no such project


def test_the_gate_without_a_guide_or_requirements():
    project = make_project(tasks=1, overlap=1)
    labeler = make_labeler()
    raw = raw_gate(project.pk, labeler, NOW)
    assert raw == orm_gate(project.pk, labeler, NOW)
    assert raw[1:] == (
        Labeler.Status.ACTIVE,
        *(None, False, False, None, False, False, None, None),
        *(None, None, None, None),
    )


def test_the_gate_reads_who_may_work_as_the_orm_does():
    """Internal staff and vendor labelers of an allowed, another and a suspended vendor, with
    and without the skills and languages, on projects open to all, internal only, restricted
    to one vendor, needing skills, needing languages."""
    from tests.factories import VendorFactory

    allowed, other = VendorFactory(slug="allowed"), VendorFactory(slug="other")
    suspended = VendorFactory(slug="stopped")
    people = [
        make_labeler(skills=("medical", "bbox")),
        make_labeler(vendor=allowed, skills=("bbox",)),
        make_labeler(vendor=other),
        make_labeler(vendor=suspended, skills=("medical",)),
    ]
    languages = [["pt-BR", "en"], ["PT"], ["de"], []]
    for labeler, spoken in zip(people, languages, strict=True):
        Labeler.objects.filter(pk=labeler.pk).update(languages=spoken)
    workforce_services.vendor_suspend(actor=None, vendor=suspended, reason="test")
    medical, bbox = (Skill.objects.get(slug=s) for s in ("medical", "bbox"))
    open_to_all = make_project(tasks=1, overlap=1, slug="open")
    internal = make_project(tasks=1, overlap=1, slug="internal", internal_only=True)
    restricted = make_project(tasks=1, overlap=1, slug="restricted")
    restricted.allowed_vendors.set([allowed])
    skilled = make_project(tasks=1, overlap=1, slug="skilled")
    skilled.required_skills.set([medical, bbox])
    lingual = make_project(tasks=1, overlap=1, slug="lingual", required_languages=["pt", "en"])
    seen = []
    for project in (open_to_all, internal, restricted, skilled, lingual):
        for labeler in people:
            raw = raw_gate(project.pk, labeler, NOW)
            assert raw == orm_gate(project.pk, labeler, NOW), (project.slug, labeler)
            seen.append(raw[10:])
    for column, taken in enumerate(zip(*seen, strict=True)):
        assert len(set(taken)) > 1, column
    assert raw_gate(lingual.pk, people[0], NOW)[10:] == (None, None, None, None)
    assert raw_gate(lingual.pk, people[1], NOW)[13] == "en"  # "PT" meets "pt", not "en"
    assert raw_gate(skilled.pk, people[1], NOW)[12] == "Medical"


# -- the submit ---------------------------------------------------------------------------------


def test_the_submit_lock_reads_the_orm_assignment_and_project(queue):
    project, labelers = queue
    for assignment in Assignment.objects.filter(project=project):
        params = {"assignment": assignment.pk, "labeler": assignment.labeler_id}
        ((got, got_project),) = fetch(sql.submit_lock(), params)
        expected = Assignment.objects.select_related("project").get(pk=assignment.pk)
        assert values(got) == values(expected)
        assert values(got_project) == values(expected.project)
        someone_else = next(x for x in labelers if x.pk != assignment.labeler_id)
        assert fetch(sql.submit_lock(), {**params, "labeler": someone_else.pk}) == []


def test_the_follow_up_read_is_the_orm_one(queue):
    """``sql.follow_up`` against the queryset it replaced: the submitted assignment's flag,
    task and task state, and the task's last submission time; nothing for the rest."""
    project, _ = queue
    last = (
        Assignment.objects.filter(task_id=OuterRef("task_id"), status=S.SUBMITTED)
        .order_by("-submitted_at")
        .values("submitted_at")[:1]
    )
    seen = 0
    for assignment in Assignment.objects.filter(project=project):
        rows = fetch(sql.follow_up(), sql.id_params("assignment", [assignment.pk]))
        expected = (
            Assignment.objects.filter(pk=assignment.pk, status=S.SUBMITTED)
            .annotate(completed_at=Subquery(last))
            .values_list("is_control", "task_id", "task__state", "completed_at")
            .first()
        )
        if expected is None:
            assert rows == []
            continue
        ((got, task, latest),) = rows
        assert got.pk == assignment.pk
        assert (got.is_control, got.task_id, task.state, latest.submitted_at) == expected
        seen += 1
    assert seen == 3  # t0's two submissions and t2's one


def raw_store(params) -> tuple | None:
    """The store as ``assignment_submit`` runs it: one statement on PostgreSQL, the count then
    the store on SQLite."""
    statements = sql.store()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(statements.both.sql, params)
            return cursor.fetchone()
        cursor.execute(statements.count.sql, params)
        row = cursor.fetchone()
        if row is not None or params["control"]:
            cursor.execute(statements.store.sql, params)
            row = row or (None,)
        return row


def orm_store(*, task_id, assignment_id, control, answer, now, active) -> tuple | None:
    """The same rule with the ORM: count a real task's submission while it has room, then store
    the answer (a control task: store only)."""
    filled = None
    if not control:
        counted = Task.objects.filter(pk=task_id, submitted__lt=F("target")).update(
            submitted=F("submitted") + 1,
            is_open=ExpressionWrapper(
                Q(submitted__lt=F("target") - 1), output_field=BooleanField()
            ),
            state=Case(
                When(submitted__gte=F("target") - 1, then=Value(Task.State.COMPLETE)),
                default=F("state"),
            ),
        )
        if not counted:
            return None
        task = Task.objects.get(pk=task_id)
        filled = task.submitted >= task.target
    Assignment.objects.filter(pk=assignment_id).update(
        status=S.SUBMITTED, answer=answer, submitted_at=now, active_seconds=active
    )
    return (filled,)


def store_world():
    """Two identical projects (one for the statement, one for the ORM), each with a task of
    target 2 holding one submission and two leases (the second lease's submit finds it full),
    and a control task with a lease."""
    worlds = []
    for slug in ("raw", "orm"):
        project = make_project(tasks=1, overlap=2, slug=slug)
        with_gold(project, n=1, slug=f"{slug}-gold", name=slug)
        task = Task.objects.get(project=project, gold_item__isnull=True)
        control = Task.objects.get(project=project, gold_item__isnull=False)
        done, first, second, ctl = (make_labeler() for _ in range(4))
        assign(task, done, S.SUBMITTED)
        Task.objects.filter(pk=task.pk).update(submitted=1)
        leases = [assign(task, first, S.LEASED), assign(task, second, S.LEASED)]
        leases.append(assign(control, ctl, S.LEASED, control=True))
        worlds.append(leases)
    return worlds


def test_the_store_counts_and_stores_as_the_orm_does():
    raw_world, orm_world = store_world()
    answers = []
    for raw_lease, orm_lease, answer in zip(
        raw_world, orm_world, ["ok", "rust", "crack"], strict=True
    ):
        common = {"answer": answer, "now": NOW, "active": 42, "control": raw_lease.is_control}
        field = Assignment._meta.get_field("answer")
        raw = raw_store(
            {
                **common,
                "task": raw_lease.task_id,
                "assignment": raw_lease.pk,
                "answer": field.get_db_prep_value(answer, connection),
                "now": at(NOW),
            }
        )
        orm = orm_store(task_id=orm_lease.task_id, assignment_id=orm_lease.pk, **common)
        assert raw == orm, answer
        answers.append(orm)
        for model, raw_pk, orm_pk in (
            (Task, raw_lease.task_id, orm_lease.task_id),
            (Assignment, raw_lease.pk, orm_lease.pk),
        ):
            got, want = values(model.objects.get(pk=raw_pk)), values(model.objects.get(pk=orm_pk))
            ignore = {"id", "task_id", "project_id", "labeler_id", "gold_item_id", "created_at"}
            assert {k: v for k, v in got.items() if k not in ignore} == {
                k: v for k, v in want.items() if k not in ignore
            }
    # The first fills the task, the second finds no slot, the control one is stored uncounted.
    assert answers == [(True,), None, (None,)]


# -- the worker's consensus ----------------------------------------------------------------------


def test_the_consensus_lock_reads_the_orm_task_and_project(queue):
    project, _ = queue
    tasks = list(Task.objects.filter(project=project).order_by("-id"))
    ids = [t.pk for t in tasks] + [0]  # an unknown id: no row
    rows = fetch(sql.consensus_lock(len(ids)), sql.id_params("task", ids))
    assert [got.pk for got, _ in rows] == sorted(t.pk for t in tasks)  # locked in id order
    for got, got_project in rows:
        expected = Task.objects.select_related("project").get(pk=got.pk)
        assert values(got) == values(expected)
        assert values(got_project) == values(expected.project)


def test_the_task_answers_are_the_orm_ones_in_submission_order(queue):
    project, _ = queue
    ids = list(Task.objects.filter(project=project).values_list("id", flat=True))
    expected = list(
        Assignment.objects.filter(task_id__in=ids, status=S.SUBMITTED, is_control=False)
        .order_by("task_id", "submitted_at", "id")
        .values_list("id", "task_id", "labeler_id", "answer", "submitted_at", "active_seconds")
    )
    got = [
        (a.pk, a.task_id, a.labeler_id, a.answer, a.submitted_at, a.active_seconds)
        for (a,) in fetch(sql.task_answers(len(ids)), sql.id_params("task", ids))
    ]
    assert got == expected
    assert len(got) == 3


def test_a_project_is_finished_as_the_orm_says(queue):
    from qc.models import ModelFit

    project, _ = queue

    def orm(pk):
        return (
            not Project.objects.filter(pk=pk, refit_every=0).exists()
            and ModelFit.objects.filter(project_id=pk).exists()
            and not Task.objects.filter(project_id=pk, is_open=True).exists()
        )

    def raw(pk):
        rows = fetch(sql.project_finished(), {"project": pk})
        return bool(rows and rows[0][0])

    Project.objects.filter(pk=project.pk).update(refit_every=50)
    assert raw(project.pk) is orm(project.pk) is False  # open tasks, never fitted
    ModelFit.objects.create(
        project_id=project.pk,
        method="one_coin",
        n_items=0,
        n_labels=0,
        iterations=0,
        fitted_at=timezone.now(),
    )
    assert raw(project.pk) is orm(project.pk) is False  # open tasks
    Task.objects.filter(project=project).update(is_open=False)
    assert raw(project.pk) is orm(project.pk) is True
    Project.objects.filter(pk=project.pk).update(refit_every=0)
    assert raw(project.pk) is orm(project.pk) is False  # hourly only
    assert fetch(sql.project_finished(), {"project": 0}) == []
