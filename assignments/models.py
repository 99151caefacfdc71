"""Work: projects, batches of imported tasks, tasks and the assignments of labelers to them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from qc.models import AnswerType, GoldItem, GoldSet, Guide
from workforce.models import Labeler, QualificationType


class ConsensusMethod(models.TextChoices):
    MAJORITY = "majority", "Majority vote"
    # Majority until the project's first Dawid-Skene fit, then the fit's posterior; every refit
    # re-decides the tasks whose decision it changes (assignments.services.decisions).
    WEIGHTED = "weighted", "The model: majority until fitted, then the fit's posterior"


# The default number of new labels after which a project is refitted (besides the hourly refit);
# chosen from the replay of the public data sets (BENCHMARKS.md, "Labels the model believes").
DEFAULT_REFIT_EVERY = 1000


class Project(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        DONE = "done", "Done"

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    objective = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    answer_type = models.CharField(max_length=24, choices=AnswerType.choices)
    classes = models.JSONField(default=list, help_text='The labels, e.g. ["crack", "rust"].')
    iou_threshold = models.DecimalField(max_digits=3, decimal_places=2, default=0.5)
    overlap = models.PositiveSmallIntegerField(
        default=2, help_text="Labelers per task (k): 2 or more for dual labeling."
    )
    max_overlap = models.PositiveSmallIntegerField(
        default=3, help_text="Upper bound on labelers per task once disagreement adds slots."
    )
    control_ratio = models.DecimalField(
        max_digits=4, decimal_places=3, default=0, help_text="Share of control tasks, 0 to 0.5."
    )
    control_gold_set = models.ForeignKey(
        GoldSet, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lease_seconds = models.PositiveIntegerField(default=900)
    required_qualifications = models.ManyToManyField(
        QualificationType, blank=True, related_name="projects"
    )
    guide = models.ForeignKey(
        Guide, on_delete=models.PROTECT, null=True, blank=True, related_name="projects"
    )
    require_guide_ack = models.BooleanField(
        default=True, help_text="Labelers must have acknowledged the guide's current major."
    )
    priority = models.IntegerField(default=0)
    audit_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=0,
        help_text="Percent of each labeler's accepted work per week sent to audit review.",
    )
    show_prelabels = models.BooleanField(
        default=False,
        help_text="Show labelers each task's model pre-label and its confidence. Control tasks "
        "then carry decoy pre-labels copied from real tasks, never from the gold answer.",
    )
    consensus_method = models.CharField(
        max_length=16,
        choices=ConsensusMethod.choices,
        default=ConsensusMethod.WEIGHTED,
        help_text="Majority vote, or the model: majority until a model is fitted, then each "
        "task's posterior under the fit (votes weighted by each labeler's estimated confusion); "
        "every refit re-decides the tasks whose decision the new fit changes.",
    )
    confidence_threshold = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=0,
        help_text="Weighted consensus below this posterior confidence is a disagreement "
        "(an extra slot, or review past the maximum overlap). 0 accepts any decided label.",
    )
    refit_every = models.PositiveIntegerField(
        default=DEFAULT_REFIT_EVERY,
        help_text="Refit the model after this many new labels (besides the hourly refit); "
        "0 refits hourly only.",
    )
    adaptive_control = models.BooleanField(
        default=False,
        help_text="Each labeler's control rate follows the width of their accuracy interval: "
        "the project's ratio while it is wide, down to the floor once it is narrow.",
    )
    control_floor = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=0.02,
        help_text="The lowest control rate adaptive control goes down to.",
    )
    # The control set check (docs/next-task.md, "Control tasks that look like real ones"): the
    # last comparison of the control payloads with the real tasks' (``qc.payload_shape``), and
    # ops's override of its differences — who, when, why, and which differences it accepts
    # (``{"gold_set": id, "signatures": [...]}``). Written by
    # ``assignments.services.control_set`` only.
    control_check = models.JSONField(null=True, blank=True, editable=False)
    control_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    control_override_reason = models.TextField(blank=True, editable=False)
    control_override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    control_override_at = models.DateTimeField(null=True, blank=True, editable=False)
    control_override_accepts = models.JSONField(null=True, blank=True, editable=False)
    # Who may work on the project (docs/next-task.md, "Who may work"): the claim gate checks
    # these in its one query. Empty means no restriction.
    internal_only = models.BooleanField(
        default=False, help_text="Only internal staff work on this project; no vendor labelers."
    )
    allowed_vendors = models.ManyToManyField(
        "workforce.Vendor",
        blank=True,
        related_name="+",
        help_text="If any are listed, vendor labelers of these vendors only (internal staff "
        "still may, unless internal-only).",
    )
    required_skills = models.ManyToManyField(
        "workforce.Skill",
        blank=True,
        related_name="+",
        help_text="Labelers must have every skill listed.",
    )
    required_languages = models.JSONField(
        default=list,
        blank=True,
        help_text='Labelers must speak every language listed (BCP 47 codes, e.g. ["pt"]); '
        '"pt" is met by "pt-BR".',
    )
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        help_text="IANA time zone of the project's weeks and days (audit weeks, reports).",
    )
    drift_alpha = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.001"),
        help_text="A batch whose label distribution differs from the project's baseline with "
        "a chi-square p-value below this records a drift event. 0 turns drift checks off.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(overlap__gte=1), name="assignments_project_overlap_min"
            ),
            models.CheckConstraint(
                condition=Q(max_overlap__gte=F("overlap")),
                name="assignments_project_max_overlap_ge_overlap",
            ),
            models.CheckConstraint(
                condition=Q(control_ratio__gte=0, control_ratio__lte=0.5),
                name="assignments_project_control_ratio_range",
            ),
            models.CheckConstraint(
                condition=Q(control_ratio=0) | Q(control_gold_set__isnull=False),
                name="assignments_project_control_needs_gold",
            ),
            models.CheckConstraint(
                condition=Q(lease_seconds__gte=30), name="assignments_project_lease_min"
            ),
            models.CheckConstraint(
                condition=Q(confidence_threshold__gte=0, confidence_threshold__lte=1),
                name="assignments_project_confidence_range",
            ),
            models.CheckConstraint(
                condition=Q(control_floor__gte=0, control_floor__lte=F("control_ratio"))
                | Q(adaptive_control=False, control_floor__gte=0, control_floor__lte=0.5),
                name="assignments_project_control_floor_range",
            ),
            # An override is whole (a reason, when, and what it accepts) or absent.
            models.CheckConstraint(
                condition=Q(
                    control_override_reason="",
                    control_override_at__isnull=True,
                    control_override_accepts__isnull=True,
                )
                | (
                    ~Q(control_override_reason="")
                    & Q(control_override_at__isnull=False, control_override_accepts__isnull=False)
                ),
                name="assignments_project_control_override_whole",
            ),
        ]

    def __str__(self) -> str:
        return self.name


#: The settings ops choose for a project, in the order the admin form, the API and the services
#: list them; ``project_create`` and ``project_update`` take these, the admin form and the API's
#: input and output serializers are built from them. The slug is chosen once, at creation, and
#: is not among them; the control check and override are written by their own services.
PROJECT_SETTINGS = (
    "name",
    "objective",
    "answer_type",
    "classes",
    "iou_threshold",
    "overlap",
    "max_overlap",
    "control_ratio",
    "control_gold_set",
    "lease_seconds",
    "required_qualifications",
    "guide",
    "require_guide_ack",
    "priority",
    "audit_percent",
    "show_prelabels",
    "consensus_method",
    "confidence_threshold",
    "adaptive_control",
    "control_floor",
    "refit_every",
    # Who may work on the project (docs/next-task.md, "Who may work on a project").
    "internal_only",
    "allowed_vendors",
    "required_skills",
    "required_languages",
    "timezone",
    "drift_alpha",
)
#: The settings that shape the tasks, pre-labels and answers already made (the schema and the
#: overlap): they change only while the project is a draft.
PROJECT_DRAFT_ONLY_SETTINGS = ("answer_type", "classes", "overlap")


class ProjectStatusChange(models.Model):
    """One row per status transition of a project, written by ``project_set_status`` in the same
    transaction as the change. Append-only: nothing updates or deletes these rows."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, choices=Project.Status.choices)
    to_status = models.CharField(max_length=16, choices=Project.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["project", "-at"], name="assignments_psc_project_at")]

    def __str__(self) -> str:
        return f"{self.project}: {self.from_status} → {self.to_status}"


class Batch(models.Model):
    """Tasks imported together."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="batches")
    source = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)
    priority = models.IntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return f"{self.project} batch {self.pk}"


class DriftEvent(models.Model):
    """A batch whose label distribution (its tasks' final answers) differs from the project's
    baseline (the final answers of the tasks of earlier batches): a chi-square test of
    homogeneity with p-value below the project's ``drift_alpha``. Recorded once per batch
    (``assignments.services.drift``); ``rule`` is the quality rule of metric ``label_drift``
    it fired, if any, and ``action`` what that rule did."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="drift_events")
    batch = models.OneToOneField(Batch, on_delete=models.CASCADE, related_name="drift_event")
    statistic = models.FloatField()
    dof = models.PositiveIntegerField()
    p_value = models.FloatField()
    n = models.PositiveIntegerField(help_text="Decided tasks of the batch in the test.")
    baseline_n = models.PositiveIntegerField(help_text="Decided tasks of the baseline.")
    observed = models.JSONField(help_text="Per class: the batch's count.")
    expected = models.JSONField(help_text="Per class: the baseline's share.")
    rule = models.ForeignKey(
        "qc.QualityRule", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=24, blank=True)
    detected_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-detected_at", "-id"]
        indexes = [models.Index(fields=["project", "-detected_at"], name="assignments_drift_at")]

    def __str__(self) -> str:
        return f"drift in {self.batch} (p={self.p_value:.2g})"


class Task(models.Model):
    """One item to label, or — with ``gold_item`` set — a control task served from gold.

    ``target`` is how many submissions the task wants (the project's overlap, raised by one for
    each disagreement up to the maximum). ``submitted`` counts submissions; ``is_open`` is true
    while ``submitted < target`` and is what the claim index filters on. Live leases are not
    counted here: they are counted at claim time, so an expired lease frees its slot at once.
    """

    class State(models.TextChoices):
        OPEN = "open", "Open"
        COMPLETE = "complete", "Complete"
        REVIEW = "review", "In review"
        RESOLVED = "resolved", "Resolved"

    class DecidedBy(models.TextChoices):
        CONSENSUS = "consensus", "Consensus"
        MODEL = "model", "Model (re-decided by a refit)"
        REVIEW = "review", "Review"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    batch = models.ForeignKey(
        Batch, on_delete=models.CASCADE, null=True, blank=True, related_name="tasks"
    )
    gold_item = models.ForeignKey(
        GoldItem, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    external_id = models.CharField(max_length=200, blank=True)
    payload = models.JSONField()
    source = models.CharField(max_length=200, blank=True)
    complexity = models.CharField(max_length=32, blank=True)
    priority = models.FloatField(default=0.0)
    prelabel = models.JSONField(null=True, blank=True)
    prelabel_confidence = models.FloatField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    target = models.PositiveSmallIntegerField()
    submitted = models.PositiveSmallIntegerField(default=0)
    is_open = models.BooleanField(default=True)
    # The accepted label: set by the consensus service (decided_by consensus) or by a review's
    # resolution (decided_by review, final — consensus never overwrites it).
    final_answer = models.JSONField(null=True, blank=True)
    decided_by = models.CharField(max_length=16, choices=DecidedBy.choices, blank=True)
    agreement = models.FloatField(
        null=True, blank=True, help_text="Share of the labelers' answers equal to the final one."
    )
    confidence = models.FloatField(
        null=True,
        blank=True,
        help_text="Posterior probability of the final label (weighted consensus); null otherwise.",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(submitted__lte=F("target")), name="assignments_task_not_overfilled"
            ),
            # An external id names one task of a project; bulk updates look tasks up by it.
            models.UniqueConstraint(
                fields=["project", "external_id"],
                condition=~Q(external_id=""),
                name="assignments_task_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(is_open=False) | Q(submitted__lt=F("target"), gold_item__isnull=True),
                name="assignments_task_open_means_slots",
            ),
            models.CheckConstraint(
                condition=Q(decided_by="", final_answer__isnull=True, decided_at__isnull=True)
                | Q(
                    decided_by__in=["consensus", "model", "review"],
                    final_answer__isnull=False,
                    decided_at__isnull=False,
                ),
                name="assignments_task_decision_complete",
            ),
            models.CheckConstraint(
                condition=~Q(state="resolved") | ~Q(decided_by=""),
                name="assignments_task_resolved_has_answer",
            ),
            models.CheckConstraint(
                condition=Q(agreement__isnull=True) | Q(agreement__gte=0, agreement__lte=1),
                name="assignments_task_agreement_range",
            ),
        ]
        indexes = [
            # The claim queue: only real tasks with open slots, in claim order. Its predicate
            # is exactly the claim's filter so the planner walks it from the top.
            models.Index(
                F("project"),
                F("priority").desc(),
                F("id"),
                condition=Q(is_open=True),
                name="assignments_task_open_queue",
            ),
            models.Index(
                fields=["project", "gold_item"],
                condition=Q(gold_item__isnull=False),
                name="assignments_task_controls",
            ),
            models.Index(fields=["project", "state"], name="assignments_task_state"),
            # The export walks a project's decided tasks in id order.
            models.Index(
                fields=["project", "id"],
                condition=~Q(decided_by=""),
                name="assignments_task_decided",
            ),
        ]

    def __str__(self) -> str:
        return f"task {self.pk}"


class Assignment(models.Model):
    """One labeler on one task: a lease that becomes a submission, or ends released/expired."""

    class Status(models.TextChoices):
        LEASED = "leased", "Leased"
        SUBMITTED = "submitted", "Submitted"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="assignments")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    labeler = models.ForeignKey(Labeler, on_delete=models.PROTECT, related_name="assignments")
    is_control = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.LEASED)
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    answer = models.JSONField(null=True, blank=True)
    active_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Leased in advance by the labeler pages: the labeler's next task while they work on the
    # current one (docs/next-task.md, "Look-ahead lease"). A live lease like any other (it holds
    # its task's slot); the claim promotes it to the current one when that one is done.
    ahead = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["-leased_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "labeler"], name="assignments_assignment_one_per_labeler"
            ),
            # One current lease and one look-ahead lease at a time per labeler and project: a
            # retried or concurrent next-task call gets the same lease back instead of burning a
            # second task. Also the index of the gate's live-lease lookups.
            models.UniqueConstraint(
                fields=["labeler", "project", "ahead"],
                condition=Q(status="leased"),
                name="assignments_assignment_one_live_lease_per_kind",
            ),
            models.CheckConstraint(
                condition=Q(status="submitted", answer__isnull=False, submitted_at__isnull=False)
                | (~Q(status="submitted") & Q(submitted_at__isnull=True)),
                name="assignments_assignment_submission_complete",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("leased_at")), name="assignments_assignment_lease"
            ),
        ]
        indexes = [
            models.Index(
                fields=["task"],
                condition=Q(status__in=["leased", "submitted"]),
                name="assignments_task_slots",
            ),
            # The grading sweep's window: control answers by submission time (a range scan of
            # the last hours; assignments.services.submit.control_answers_grade_sweep).
            models.Index(
                fields=["submitted_at"],
                condition=Q(is_control=True, status="submitted"),
                name="assignments_control_submitted",
            ),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk}"


class Review(models.Model):
    """Work for a senior labeler on one task: a disagreement consensus could not settle, an
    audit sample of a labeler's accepted work, or a labeler's flag (a question about the guide).

    Claimed like an assignment (``open`` → ``leased`` until ``expires_at``; a lapsed lease can be
    claimed by another reviewer) and resolved once, with the final answer and a note. The
    services in ``assignments.services.review`` are the only writers, but for the disagreement
    review ``assignments.services.consensus`` opens.
    """

    class Kind(models.TextChoices):
        DISAGREEMENT = "disagreement", "Disagreement"
        AUDIT = "audit", "Audit sample"
        FLAG = "flag", "Flagged as ambiguous"
        GOLD = "gold", "Gold item under review"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        LEASED = "leased", "Leased"
        RESOLVED = "resolved", "Resolved"
        # A disagreement the model settled before a senior did: a refit became confident of
        # the task's answer (assignments.services.decisions). The reviewer, if any held the
        # lease, is kept; no answer.
        WITHDRAWN = "withdrawn", "Withdrawn (decided by the model)"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="reviews")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    reviewer = models.ForeignKey(
        Labeler, on_delete=models.PROTECT, null=True, blank=True, related_name="reviews"
    )
    leased_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    answer = models.JSONField(null=True, blank=True, help_text="The reviewer's final answer.")
    note = models.TextField(blank=True)
    question = models.TextField(blank=True, help_text="Flags: the labeler's question.")
    # Flags: the flagged assignment; audits: the sampled labeler's submission.
    assignment = models.ForeignKey(
        Assignment, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    audit_week = models.DateField(null=True, blank=True, help_text="Audits: the sampled week.")
    # A flag on a control task: answered by operations (the gold item may be at fault), never
    # served to senior labelers, who are labelers too and must not learn which tasks are gold.
    for_ops = models.BooleanField(default=False)
    decided_task = models.BooleanField(
        default=False, help_text="This resolution set the task's final answer."
    )
    gold_item = models.ForeignKey(
        GoldItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What a decision is worth (docs/operations.md, "Review queue"): the consensus confidence
    # of the task's leading label when the review opened; lowest first, under an age cap.
    confidence = models.FloatField(null=True, blank=True)
    # Flags: the resolution proposes a change to the guide; ``guide_version`` is the published
    # version that answers it, once there is one.
    proposes_guide_change = models.BooleanField(default=False)
    guide_version = models.ForeignKey(
        "qc.GuideVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    active_seconds = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task"],
                condition=Q(kind="disagreement", status__in=["open", "leased"]),
                name="assignments_review_one_live_disagreement",
            ),
            models.UniqueConstraint(
                fields=["assignment"],
                condition=Q(kind="flag"),
                name="assignments_review_one_flag_per_assignment",
            ),
            models.UniqueConstraint(
                fields=["task"],
                condition=Q(kind="audit"),
                name="assignments_review_one_audit_per_task",
            ),
            models.UniqueConstraint(
                fields=["reviewer", "project"],
                condition=Q(status="leased"),
                name="assignments_review_one_lease_per_reviewer",
            ),
            models.CheckConstraint(
                condition=Q(kind="disagreement") | Q(assignment__isnull=False),
                name="assignments_review_assignment_for_flag_audit",
            ),
            models.CheckConstraint(
                condition=~Q(kind="flag") | ~Q(question=""),
                name="assignments_review_flag_has_question",
            ),
            models.CheckConstraint(
                condition=Q(kind="audit", audit_week__isnull=False)
                | (~Q(kind="audit") & Q(audit_week__isnull=True)),
                name="assignments_review_audit_week",
            ),
            models.CheckConstraint(
                condition=Q(status="open", reviewer__isnull=True, resolved_at__isnull=True)
                | Q(
                    status="leased",
                    reviewer__isnull=False,
                    leased_at__isnull=False,
                    expires_at__gt=F("leased_at"),
                    resolved_at__isnull=True,
                )
                | Q(
                    status="resolved",
                    reviewer__isnull=False,
                    answer__isnull=False,
                    resolved_at__isnull=False,
                )
                | Q(
                    status="withdrawn",
                    kind="disagreement",
                    answer__isnull=True,
                    resolved_at__isnull=False,
                ),
                name="assignments_review_status_fields",
            ),
        ]
        indexes = [
            # The claim queues: only unresolved reviews for seniors, oldest first (all projects;
            # one project). Their predicate is the claim's filter.
            models.Index(
                fields=["id"],
                condition=Q(status__in=["open", "leased"], for_ops=False),
                name="assignments_review_queue",
            ),
            models.Index(
                fields=["project", "id"],
                condition=Q(status__in=["open", "leased"], for_ops=False),
                name="assignments_review_queue_proj",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} review {self.pk}"


class TaskDecision(models.Model):
    """One decision of a task's final answer, kept for good: the first (consensus or a review),
    and every later one (a refit's re-decision, a review overriding). The task row holds the
    current decision; these rows hold how it got there, so payments and audits can tell when
    and why a task's answer changed. Written by ``assignments.services.decisions`` only.

    ``fit_version`` and ``fit_method`` name the Dawid-Skene fit a model decision came from
    (``qc.ModelFit.version``); ``previous_answer`` is the answer this one replaced (null for the
    first decision)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="decisions")
    project_id = models.BigIntegerField()
    final_answer = models.JSONField()
    previous_answer = models.JSONField(null=True, blank=True)
    decided_by = models.CharField(max_length=16, choices=Task.DecidedBy.choices)
    confidence = models.FloatField(null=True, blank=True)
    agreement = models.FloatField(null=True, blank=True)
    fit_version = models.PositiveIntegerField(null=True, blank=True)
    fit_method = models.CharField(max_length=16, blank=True)
    reviewer = models.ForeignKey(
        Labeler, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["task_id", "decided_at", "id"]
        indexes = [
            models.Index(fields=["task", "decided_at"], name="assignments_decision_task"),
            models.Index(fields=["project_id", "decided_at"], name="assignments_decision_proj"),
        ]

    def __str__(self) -> str:
        return f"task {self.task_id}: {self.decided_by} at {self.decided_at:%Y-%m-%d %H:%M}"


class ProjectRefit(models.Model):
    """A project's refit bookkeeping: labels submitted since its last refit (counted off the
    request path, by the submission follow-up) and the refit running now, if any — one refit
    per project at a time. Written by ``assignments.services.refits`` only."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, primary_key=True, related_name="refit_state"
    )
    labels_since = models.PositiveIntegerField(default=0)
    running_since = models.DateTimeField(null=True, blank=True)
    last_refit_at = models.DateTimeField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_redecided = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"refit of project {self.project_id}"
