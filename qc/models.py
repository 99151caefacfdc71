"""Quality: labeling guides and their versions, acknowledgements, gold sets and gold items,
quizzes (training and qualification), attempts and their questions."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from workforce.models import Labeler, QualificationType


class AnswerType(models.TextChoices):
    SINGLE_CHOICE = "single_choice", "Single choice"
    MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
    BOXES = "boxes", "Bounding boxes"


class Guide(models.Model):
    """A labeling guide for a project family. Its content lives in versions."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    project_family = models.CharField(max_length=120, blank=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class GuideVersion(models.Model):
    """A draft or published version of a guide.

    A draft has no number; publishing numbers it after the current version: a *major* bump
    (2.0 after 1.3) requires labelers to acknowledge again, a *minor* bump (1.4) only notifies.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    class Bump(models.TextChoices):
        MAJOR = "major", "Major (labelers must acknowledge again)"
        MINOR = "minor", "Minor (labelers are notified)"

    guide = models.ForeignKey(Guide, on_delete=models.CASCADE, related_name="versions")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    bump = models.CharField(max_length=8, choices=Bump.choices, default=Bump.MINOR)
    major = models.PositiveIntegerField(null=True, blank=True)
    minor = models.PositiveIntegerField(null=True, blank=True)
    body = models.TextField(help_text="Markdown.")
    label_definitions = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"label": "crack", "definition": "...", "examples": ["https://..."]}]',
    )
    change_summary = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["guide", "-major", "-minor", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["guide", "major", "minor"],
                condition=Q(status="published"),
                name="qc_guideversion_unique_number",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="draft", major__isnull=True, minor__isnull=True)
                    | Q(status="published", major__isnull=False, minor__isnull=False)
                ),
                name="qc_guideversion_published_has_number",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.guide} v{self.number}"

    @property
    def number(self) -> str:
        return f"{self.major}.{self.minor}" if self.major is not None else "draft"


class GuideAcknowledgement(models.Model):
    """A labeler confirmed they read a published version. Acknowledging any version of a major
    line covers that major line."""

    labeler = models.ForeignKey(Labeler, on_delete=models.CASCADE, related_name="guide_acks")
    version = models.ForeignKey(GuideVersion, on_delete=models.CASCADE, related_name="acks")
    acknowledged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-acknowledged_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["labeler", "version"], name="qc_guideacknowledgement_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.labeler} read {self.version}"


class GoldSet(models.Model):
    """A set of items with known answers, for quizzes and control tasks."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    guide = models.ForeignKey(
        Guide, on_delete=models.PROTECT, null=True, blank=True, related_name="gold_sets"
    )
    answer_type = models.CharField(max_length=24, choices=AnswerType.choices)
    classes = models.JSONField(default=list, help_text='The labels, e.g. ["crack", "rust"].')
    iou_threshold = models.DecimalField(
        max_digits=3, decimal_places=2, default=0.5, help_text="Box answers: IoU to match."
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(iou_threshold__gt=0, iou_threshold__lte=1),
                name="qc_goldset_iou_threshold_range",
            )
        ]

    def __str__(self) -> str:
        return self.name


class GoldItem(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        QUARANTINED = "quarantined", "Quarantined"
        RETIRED = "retired", "Retired"

    class Difficulty(models.TextChoices):
        EASY = "easy", "Easy"
        MEDIUM = "medium", "Medium"
        HARD = "hard", "Hard"

    gold_set = models.ForeignKey(GoldSet, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=128)
    payload = models.JSONField(help_text="What the labeler sees: an image reference and metadata.")
    accepted_answers = models.JSONField(help_text="A list of answers; any of them is right.")
    explanation = models.TextField(blank=True)
    guide_version = models.ForeignKey(
        GuideVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    difficulty = models.CharField(
        max_length=8, choices=Difficulty.choices, default=Difficulty.MEDIUM
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    stratum = models.CharField(
        max_length=200, blank=True, help_text="The class used to stratify quizzes (derived)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["gold_set", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gold_set", "external_id"], name="qc_golditem_external_id_unique"
            )
        ]
        indexes = [
            models.Index(fields=["gold_set", "status", "stratum"], name="qc_golditem_draw"),
            # A set's lowest and highest item ids in two probes: the control claim's random
            # pivot (assignments.services.claim._claim_control).
            models.Index(fields=["gold_set", "id"], name="qc_golditem_set_id"),
        ]

    def __str__(self) -> str:
        return f"{self.gold_set.slug}:{self.external_id}"


class GoldItemStatusChange(models.Model):
    """One row per gold item status change (or initial status set by an import), written in the
    same transaction as the change: who quarantined or retired an item, and why."""

    gold_item = models.ForeignKey(GoldItem, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, choices=GoldItem.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["gold_item", "-created_at"], name="qc_gisc_item_at")]

    def __str__(self) -> str:
        return f"{self.gold_item}: {self.from_status or '∅'} → {self.to_status}"


class Quiz(models.Model):
    class Kind(models.TextChoices):
        TRAINING = "training", "Training (feedback after each answer)"
        QUALIFICATION = "qualification", "Qualification (score only, at the end)"

    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    gold_set = models.ForeignKey(GoldSet, on_delete=models.PROTECT, related_name="quizzes")
    guide = models.ForeignKey(
        Guide,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="quizzes",
        help_text="If set, labelers must have acknowledged its current major version.",
    )
    num_questions = models.PositiveIntegerField(
        help_text="Questions per attempt (the maximum, for a sequential quiz)."
    )
    pass_mark = models.DecimalField(
        max_digits=4, decimal_places=3, help_text="Fraction correct to pass, e.g. 0.800."
    )
    time_limit_seconds = models.PositiveIntegerField(null=True, blank=True)
    max_attempts = models.PositiveIntegerField(null=True, blank=True)
    retry_delay_seconds = models.PositiveIntegerField(default=0)
    qualification_type = models.ForeignKey(
        QualificationType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="quizzes",
        help_text="Granted on passing (qualification quizzes).",
    )
    validity_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How long a granted qualification is valid; empty = no expiry.",
    )
    is_active = models.BooleanField(default=True)
    # Sequential decision (qualification quizzes): a truncated SPRT, see qc/sequential.py.
    sequential = models.BooleanField(default=False)
    seq_p0 = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="Accuracy at or below which a labeler should fail (below the pass mark).",
    )
    seq_alpha = models.DecimalField(max_digits=4, decimal_places=3, default=0.05)
    seq_beta = models.DecimalField(max_digits=4, decimal_places=3, default=0.05)
    seq_min_questions = models.PositiveIntegerField(default=5)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "quizzes"
        constraints = [
            models.CheckConstraint(
                condition=Q(pass_mark__gt=0, pass_mark__lte=1), name="qc_quiz_pass_mark_range"
            ),
            models.CheckConstraint(condition=Q(num_questions__gte=1), name="qc_quiz_has_questions"),
            models.CheckConstraint(
                condition=Q(sequential=False)
                | Q(
                    kind="qualification",
                    seq_p0__isnull=False,
                    seq_p0__gt=0,
                    seq_p0__lt=F("pass_mark"),
                ),
                name="qc_quiz_sequential_is_qualification_with_p0",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class QuizAttempt(models.Model):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    class EndReason(models.TextChoices):
        FINISHED = "finished", "Finished by the labeler"
        ALL_ANSWERED = "all_answered", "All questions answered"
        TIME_LIMIT = "time_limit", "Time limit reached"
        SEQUENTIAL = "sequential", "Decided early by the sequential test"

    quiz = models.ForeignKey(Quiz, on_delete=models.PROTECT, related_name="attempts")
    labeler = models.ForeignKey(Labeler, on_delete=models.CASCADE, related_name="quiz_attempts")
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.IN_PROGRESS, db_index=True
    )
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)
    started_at = models.DateTimeField()
    deadline = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    question_count = models.PositiveIntegerField()
    answered_count = models.PositiveIntegerField(default=0)
    correct_count = models.PositiveIntegerField(default=0)
    score = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    sequential_llr = models.FloatField(null=True, blank=True)
    qualification = models.ForeignKey(
        "workforce.Qualification",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["quiz", "labeler", "number"], name="qc_quizattempt_number_unique"
            ),
            models.UniqueConstraint(
                fields=["quiz", "labeler"],
                condition=Q(status="in_progress"),
                name="qc_quizattempt_one_open",
            ),
            models.CheckConstraint(
                condition=Q(correct_count__lte=F("answered_count"))
                & Q(answered_count__lte=F("question_count")),
                name="qc_quizattempt_counts_consistent",
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=1),
                name="qc_quizattempt_score_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quiz} #{self.number} by {self.labeler}"


class AttemptQuestion(models.Model):
    """One question of an attempt, fixed when the attempt starts. The answer is written once."""

    attempt = models.ForeignKey(QuizAttempt, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveIntegerField()
    gold_item = models.ForeignKey(GoldItem, on_delete=models.PROTECT, related_name="+")
    answer = models.JSONField(null=True, blank=True)
    is_correct = models.BooleanField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    active_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["attempt", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["attempt", "position"], name="qc_attemptquestion_position_unique"
            ),
            models.UniqueConstraint(
                fields=["attempt", "gold_item"], name="qc_attemptquestion_item_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.attempt} Q{self.position}"


# -- quality facts and scores ------------------------------------------------------------------
# qc keeps its own facts about work and never reaches up into ``assignments``: a project and a
# task are referenced by their plain ids (``project_id``, ``task_id``, ``assignment_id``), handed
# down by the caller, so the layering ``workforce ← qc ← assignments`` holds.


class GoldCheck(models.Model):
    """One answer on a control task graded against gold at submission.

    ``counted`` is false while the gold item is quarantined (the check stops counting in every
    score); correcting the gold item re-grades its checks. A labeler may contest the verdict
    once, with a note, after submitting.
    """

    class Contest(models.TextChoices):
        NONE = "", "Not contested"
        OPEN = "open", "Contested"
        UPHELD = "upheld", "Verdict upheld"
        OVERTURNED = "overturned", "Verdict overturned"

    labeler = models.ForeignKey(Labeler, on_delete=models.CASCADE, related_name="gold_checks")
    gold_item = models.ForeignKey(GoldItem, on_delete=models.PROTECT, related_name="checks")
    project_id = models.BigIntegerField(help_text="The project the control task belongs to.")
    assignment_id = models.BigIntegerField(unique=True)
    answer = models.JSONField()
    correct = models.BooleanField()
    expected_class = models.CharField(
        max_length=200, blank=True, help_text="The gold class (choice answers), for confusion."
    )
    answer_class = models.CharField(max_length=200, blank=True)
    counted = models.BooleanField(default=True)
    checked_at = models.DateTimeField()
    contest = models.CharField(max_length=12, choices=Contest.choices, blank=True, default="")
    contest_note = models.TextField(blank=True)
    contested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-checked_at", "-id"]
        indexes = [
            models.Index(
                fields=["labeler", "project_id", "-checked_at"], name="qc_goldcheck_labeler"
            ),
            models.Index(fields=["project_id", "-checked_at"], name="qc_goldcheck_project"),
            models.Index(fields=["gold_item", "counted"], name="qc_goldcheck_item"),
            # The control claim's probe "has this labeler a check on this gold item (in any
            # project)?" (assignments.services.claim._claim_control).
            models.Index(fields=["labeler", "gold_item"], name="qc_goldcheck_labeler_item"),
        ]

    def __str__(self) -> str:
        return f"{self.labeler} on {self.gold_item}: {'right' if self.correct else 'wrong'}"


class GoldExposure(models.Model):
    """A labeler has met a gold item outside a control task of their own — shown it with its
    answer (training feedback, a quiz), written its answer (a review promoted to gold, a gold
    review), labeled the real task it was made from, or reviewed a flag on a control task of
    it. Such an item is never served to that labeler as a
    control task (``assignments.services.claim._claim_control`` probes this table): they would
    know its answer, or recognise it and so know the task is a control. Written with
    ``INSERT … ON CONFLICT DO NOTHING`` (``qc.services.exposures.gold_exposures_record``); the
    first exposure is the one kept."""

    class Reason(models.TextChoices):
        QUIZ_TRAINING = "quiz_training", "Training quiz question (feedback shows the answer)"
        QUIZ_QUALIFICATION = "quiz_qualification", "Qualification quiz question"
        AUTHORED = "authored", "Wrote the gold answer (a review promoted to gold)"
        LABELED_SOURCE = "labeled_source", "Labeled the real task the item was made from"
        REVIEWED = "reviewed", "Reviewed a flag on a control task of the item"

    labeler = models.ForeignKey(Labeler, on_delete=models.CASCADE, related_name="gold_exposures")
    gold_item = models.ForeignKey(GoldItem, on_delete=models.CASCADE, related_name="exposures")
    reason = models.CharField(max_length=24, choices=Reason.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            # Also the index of the claim's probe (labeler, gold item).
            models.UniqueConstraint(fields=["labeler", "gold_item"], name="qc_goldexposure_once")
        ]

    def __str__(self) -> str:
        return f"{self.labeler} met {self.gold_item} ({self.reason})"


class LabelOutcome(models.Model):
    """A labeler's answer on a real task, recorded when the task is decided (by consensus or by
    review), with how it compares to the final label and to the other labelers' answers.

    ``peers`` is how many other labelers answered the task and ``peers_agreeing`` how many of
    them gave the same answer, so pairwise agreement over any set of outcomes is
    ``sum(peers_agreeing) / sum(peers)``. A review's resolution replaces the consensus verdict
    (one row per assignment, updated in place).
    """

    project_id = models.BigIntegerField()
    task_id = models.BigIntegerField()
    assignment_id = models.BigIntegerField(unique=True)
    labeler = models.ForeignKey(Labeler, on_delete=models.CASCADE, related_name="label_outcomes")
    answer = models.JSONField()
    answer_class = models.CharField(max_length=200, blank=True)
    final_class = models.CharField(max_length=200, blank=True)
    agrees_final = models.BooleanField()
    peers = models.PositiveSmallIntegerField()
    peers_agreeing = models.PositiveSmallIntegerField()
    decided_by = models.CharField(max_length=16)
    submitted_at = models.DateTimeField()
    decided_at = models.DateTimeField()
    active_seconds = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [
            models.Index(
                fields=["labeler", "project_id", "-submitted_at"], name="qc_outcome_labeler"
            ),
            models.Index(fields=["project_id", "task_id"], name="qc_outcome_task"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(peers_agreeing__lte=F("peers")), name="qc_outcome_peers_range"
            )
        ]

    def __str__(self) -> str:
        return f"{self.labeler} on task {self.task_id}"


class ModelFit(models.Model):
    """The latest Dawid-Skene fit of a project's overlapping answers: which model was used and
    how well it converged. Refitting replaces the row."""

    project_id = models.BigIntegerField(unique=True)
    method = models.CharField(max_length=16, help_text="one_coin or full")
    classes = models.JSONField(default=list)
    n_items = models.PositiveIntegerField()
    n_labels = models.PositiveIntegerField()
    n_gold = models.PositiveIntegerField(default=0, help_text="Items anchored on gold.")
    iterations = models.PositiveIntegerField()
    log_likelihood = models.FloatField(null=True, blank=True)
    priors = models.JSONField(default=list)
    fitted_at = models.DateTimeField()
    # Counts the project's fits (1 for the first): a model decision names the fit it came from.
    version = models.PositiveIntegerField(default=1)
    # How the method was chosen: the held-out scores of each candidate model and the number of
    # labels the choice was made on (qc.dawid_skene, "Model choice").
    choice = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"project {self.project_id}: {self.method}"


class LabelerEstimate(models.Model):
    """A labeler's accuracy on a project estimated without gold (Dawid-Skene), with the
    confusion matrix (rows: true class, columns: answered class) and the items it rests on."""

    project_id = models.BigIntegerField()
    labeler = models.ForeignKey(Labeler, on_delete=models.CASCADE, related_name="estimates")
    method = models.CharField(max_length=16)
    accuracy = models.FloatField()
    n_items = models.PositiveIntegerField()
    confusion = models.JSONField(default=list)
    fitted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project_id", "labeler"], name="qc_labelerestimate_unique"
            ),
            models.CheckConstraint(
                condition=Q(accuracy__gte=0, accuracy__lte=1), name="qc_labelerestimate_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.labeler} on project {self.project_id}: {self.accuracy:.3f}"


class ControlRate(models.Model):
    """A labeler's own control-task rate on a project when the project adapts it: dense while
    their gold-accuracy interval is wide, down to the floor once it is narrow, up again on
    drift; a quality rule may lower it too. Read by the claim in its one gate query."""

    project_id = models.BigIntegerField()
    labeler = models.ForeignKey(Labeler, on_delete=models.CASCADE, related_name="control_rates")
    rate = models.FloatField()
    checks = models.PositiveIntegerField(default=0)
    correct = models.PositiveIntegerField(default=0)
    recent = models.FloatField(
        null=True,
        blank=True,
        help_text="Recent gold accuracy: an exponentially weighted average of the last checks "
        "(qc.services.control).",
    )
    reason = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project_id", "labeler"], name="qc_controlrate_unique"),
            models.CheckConstraint(
                condition=Q(rate__gte=0, rate__lte=1), name="qc_controlrate_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.labeler} on project {self.project_id}: {self.rate:.3f}"


class QualityRule(models.Model):
    """A rule on a project. ``test = interval``: when the chosen bound of a labeler's interval
    for the metric, over their last ``window`` observations (at least ``min_n``), is below/above
    the threshold, the action fires — once per breach (see ``RuleFiring``). ``test =
    sequential``: a sequential test of "accuracy at or above the threshold" against "at or
    below threshold - delta" over all the labeler's observations in order since the last lift,
    with false-pause rate ``alpha`` (``qc.sequential.MonitorParams``, docs/quality.md, Rules)."""

    class Test(models.TextChoices):
        INTERVAL = "interval", "Wilson interval over the last window"
        SEQUENTIAL = "sequential", "Sequential test over all observations"

    class Metric(models.TextChoices):
        GOLD_ACCURACY = "gold_accuracy", "Gold accuracy (control tasks)"
        FINAL_AGREEMENT = "final_agreement", "Agreement with the final label"
        # A project-level rule: fires on a batch's drift event (threshold = the p-value below
        # which it fires), never on a labeler; its actions are warn and pause_project.
        LABEL_DRIFT = "label_drift", "Label distribution drift (batch p-value)"

    class Bound(models.TextChoices):
        LOWER = "lower", "Lower bound"
        UPPER = "upper", "Upper bound"
        RATE = "rate", "Observed rate"

    class Comparison(models.TextChoices):
        BELOW = "below", "is below"
        ABOVE = "above", "is above"

    class Action(models.TextChoices):
        WARN = "warn", "Warn"
        PAUSE_ON_PROJECT = "pause_on_project", "Pause on this project"
        REVOKE_QUALIFICATION = "revoke_qualification", "Revoke qualification"
        SUSPEND = "suspend", "Suspend the labeler"
        LOWER_CONTROL_RATE = "lower_control_rate", "Lower the control-task rate"
        PAUSE_PROJECT = "pause_project", "Pause the project (drift rules)"

    project_id = models.BigIntegerField()
    name = models.CharField(max_length=200)
    metric = models.CharField(max_length=24, choices=Metric.choices, default=Metric.GOLD_ACCURACY)
    window = models.PositiveIntegerField(default=50, help_text="The last N observations.")
    min_n = models.PositiveIntegerField(
        default=10, help_text="The rule is not evaluated on fewer observations."
    )
    bound = models.CharField(max_length=8, choices=Bound.choices, default=Bound.UPPER)
    comparison = models.CharField(
        max_length=8, choices=Comparison.choices, default=Comparison.BELOW
    )
    threshold = models.DecimalField(max_digits=4, decimal_places=3)
    action = models.CharField(max_length=24, choices=Action.choices)
    qualification_type = models.ForeignKey(
        QualificationType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The qualification revoked (revoke action).",
    )
    control_rate = models.FloatField(
        null=True, blank=True, help_text="The rate set by the lower-control-rate action."
    )
    # Existing rows stay ``interval`` (migration 0008); the API and admin default a new rule
    # that pauses, suspends or revokes to ``sequential`` (qc.services.rules.default_test).
    test = models.CharField(max_length=12, choices=Test.choices, default=Test.INTERVAL)
    alpha = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.05"),
        help_text="Sequential: the chance that a labeler exactly at the threshold is paused "
        "within the test's horizon.",
    )
    beta = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.1"),
        help_text="Sequential: sets the floor of the score (Wald's accept boundary), how much "
        "good history counts.",
    )
    delta = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.1"),
        help_text="Sequential: the test tells the threshold from threshold - delta.",
    )
    auto_lift = models.BooleanField(
        default=False,
        help_text="Sequential pauses: lifted by the sweep once the labeler passes the lift quiz "
        "after the pause; otherwise only ops lift them.",
    )
    lift_quiz = models.ForeignKey(
        Quiz,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The quiz whose pass lifts an automatic-lift pause.",
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "name"]
        indexes = [models.Index(fields=["project_id", "is_active"], name="qc_rule_project")]
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold__gte=0, threshold__lte=1), name="qc_rule_threshold_range"
            ),
            models.CheckConstraint(condition=Q(window__gte=1), name="qc_rule_window_min"),
            models.CheckConstraint(
                condition=~Q(action="revoke_qualification") | Q(qualification_type__isnull=False),
                name="qc_rule_revoke_needs_type",
            ),
            models.CheckConstraint(
                condition=~Q(action="lower_control_rate")
                | Q(control_rate__gte=0, control_rate__lte=0.5),
                name="qc_rule_control_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(alpha__gt=0, alpha__lt=Decimal("0.5"))
                & Q(beta__gt=0, beta__lt=Decimal("0.5"))
                & Q(delta__gt=0, delta__lt=1),
                name="qc_rule_sequential_rates",
            ),
            models.CheckConstraint(
                condition=Q(auto_lift=False)
                | Q(test="sequential", action="pause_on_project", lift_quiz__isnull=False),
                name="qc_rule_auto_lift_needs_quiz",
            ),
        ]

    def __str__(self) -> str:
        return self.name


#: A rule's settings, in the order the API and the admin show them (the project aside: it never
#: changes). ``rule_create`` and ``rule_update`` take these; the admin form and the API's input
#: and output serializers are built from them.
QUALITY_RULE_SETTINGS = (
    "name",
    "metric",
    "window",
    "min_n",
    "bound",
    "comparison",
    "threshold",
    "action",
    "qualification_type",
    "control_rate",
    "test",
    "alpha",
    "beta",
    "delta",
    "auto_lift",
    "lift_quiz",
    "is_active",
)


class RuleFiring(models.Model):
    """One firing of a rule on a labeler: the breach, its inputs and the interval at that moment.

    ``open`` while the breach lasts (a partial unique constraint: one open firing per rule and
    labeler, so a rule never fires twice for the same breach); ``cleared`` once the labeler is
    back within the rule (the next breach fires again); ``reversed`` when ops undid the action;
    ``lifted`` when an automatic-lift pause ended because the labeler recovered (``cleared_at``
    is then the lift, ``inputs["lift"]`` its evidence).
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLEARED = "cleared", "Cleared"
        REVERSED = "reversed", "Reversed by ops"
        LIFTED = "lifted", "Lifted (recovered)"

    rule = models.ForeignKey(QualityRule, on_delete=models.PROTECT, related_name="firings")
    labeler = models.ForeignKey(Labeler, on_delete=models.CASCADE, related_name="rule_firings")
    project_id = models.BigIntegerField()
    action = models.CharField(max_length=24, choices=QualityRule.Action.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    inputs = models.JSONField(help_text="n, successes, rate, lower, upper, window, threshold.")
    fired_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    as_of = models.DateTimeField(
        help_text="The facts the firing was decided on were all recorded before this moment "
        "(the start of the day the periodic evaluation ran: docs/quality.md, Rules)."
    )
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reverse_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-fired_at", "-id"]
        indexes = [
            models.Index(fields=["labeler", "project_id", "status"], name="qc_rulefiring_labeler"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "labeler"],
                condition=Q(status="open"),
                name="qc_rulefiring_one_open_breach",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} on {self.labeler} ({self.status})"
