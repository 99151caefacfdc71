"""The operations admin for quizzes and attempts.

Quizzes are created and changed through ``quiz_create`` / ``quiz_update`` (their errors shown on
the form's fields), and (de)activated by actions; they are never deleted. Attempts are
read-only, with every question's result for staff; the one action ends attempts through
``quiz_attempt_finish``. Qualification types and grants are workforce models: their admins are
in ``workforce/admin.py``.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from config.admin import (
    NeverDeletedMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceActionsMixin,
    ServiceFormAdminMixin,
    ServiceModelForm,
    annotation_column,
    delegating_action,
    person_column,
)
from qc.models import AttemptQuestion, Quiz, QuizAttempt
from qc.services import quizzes as services
from workforce.admin import PANEL_ROWS, labeler_panel, panel_link, panel_table, panel_time


class QuizForm(ServiceModelForm):
    """The quiz's settings. Saving is the services' job: the input is neither copied onto the
    instance nor model-validated here (``quiz_create`` / ``quiz_update`` validate everything and
    report on the fields)."""

    class Meta:
        model = Quiz
        fields = services.QUIZ_FIELDS


@admin.register(Quiz)
class QuizAdmin(NeverDeletedMixin, ServiceActionsMixin, ServiceFormAdminMixin, admin.ModelAdmin):
    # Never deleted: attempts refer to their quiz, which is deactivated instead.
    form = QuizForm
    create_service = staticmethod(services.quiz_create)
    update_service = staticmethod(services.quiz_update)
    update_target = "quiz"
    editable_fields = services.QUIZ_FIELDS
    list_display = (
        "title",
        "slug",
        "kind",
        "gold_set",
        "num_questions",
        "pass_mark",
        "sequential",
        "qualification_type",
        "is_active",
        "attempt_count",
    )
    list_filter = ("kind", "is_active", "sequential", "qualification_type")
    search_fields = ("title", "slug", "description")
    list_select_related = ("gold_set", "qualification_type")
    # Gold sets and guides are short lists; qualification types are many (autocomplete).
    autocomplete_fields = ("qualification_type",)
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("created_at",)
    fieldsets = (
        (None, {"fields": ("title", "slug", "description", "kind", "is_active")}),
        ("Questions", {"fields": ("gold_set", "guide", "num_questions", "pass_mark")}),
        (
            "Rules",
            {"fields": ("time_limit_seconds", "max_attempts", "retry_delay_seconds")},
        ),
        ("Qualification", {"fields": ("qualification_type", "validity_days")}),
        (
            "Sequential decision (qualification quizzes)",
            {
                "fields": ("sequential", "seq_p0", "seq_alpha", "seq_beta", "seq_min_questions"),
                "classes": ("collapse",),
                "description": "A truncated sequential probability ratio test: the attempt ends "
                "as soon as accuracy >= the pass mark or <= p0 is decided with error rates "
                "alpha and beta, after at least the minimum number of questions.",
            },
        ),
        ("Record", {"fields": ("created_at",), "classes": ("collapse",)}),
    )
    actions = ("activate_quizzes", "deactivate_quizzes")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(attempt_count=Count("attempts"))

    attempt_count = annotation_column("attempt_count", "attempts")

    def _set_active(self, request, queryset, active: bool) -> None:
        done = self.apply_each(
            request,
            queryset,
            lambda quiz: services.quiz_update(
                actor=request.user, quiz=quiz, data={"is_active": active}
            ),
        )
        verb = "Activated" if active else "Deactivated"
        self.message_user(request, f"{verb} {done} quiz(zes).", messages.SUCCESS)

    activate_quizzes = delegating_action(
        "_set_active", description="Activate selected quizzes", active=True
    )
    deactivate_quizzes = delegating_action(
        "_set_active", description="Deactivate selected quizzes", active=False
    )


def _json(value) -> str:
    return "—" if value is None else json.dumps(value, ensure_ascii=False)


class AttemptQuestionInline(ReadOnlyInline):
    """Every question of the attempt with the answer given and the accepted answers: staff
    only (this admin is never shown to labelers)."""

    model = AttemptQuestion
    fields = ("position", "gold_item", "given", "is_correct", "answered_at", "accepted")
    readonly_fields = fields
    ordering = ("position",)
    related = ("gold_item__gold_set",)
    verbose_name = "question"
    verbose_name_plural = "questions and results"

    @admin.display(description="answer")
    def given(self, obj: AttemptQuestion) -> str:
        return _json(obj.answer)

    @admin.display(description="accepted answers")
    def accepted(self, obj: AttemptQuestion) -> str:
        return _json(obj.gold_item.accepted_answers)


@admin.register(QuizAttempt)
class QuizAttemptAdmin(ServiceActionsMixin, ReadOnlyAdmin):
    """Attempts are the labelers' record: read-only. Ending one goes through the service."""

    list_display = (
        "id",
        "quiz",
        "person",
        "number",
        "status",
        "progress",
        "score",
        "started_at",
    )
    list_filter = ("status", "end_reason", "quiz__kind", "quiz")
    search_fields = (
        "labeler__public_code",
        "labeler__user__username",
        "labeler__user__first_name",
        "labeler__user__last_name",
        "quiz__slug",
        "quiz__title",
    )
    list_select_related = ("quiz", "labeler__user")
    person = person_column()
    date_hierarchy = "started_at"
    fields = (
        "quiz",
        "person",
        "number",
        "status",
        "end_reason",
        *services.ATTEMPT_PROGRESS_FIELDS,
        "score",
        "sequential_llr",
        "qualification_link",
    )
    readonly_fields = fields
    related = ("quiz", "labeler__user", "qualification")
    inlines = (AttemptQuestionInline,)
    actions = ("end_attempts",)

    @admin.display(description="answered")
    def progress(self, obj: QuizAttempt) -> str:
        return f"{obj.correct_count}/{obj.answered_count} of {obj.question_count}"

    @admin.display(description="qualification granted")
    def qualification_link(self, obj: QuizAttempt) -> str:
        if obj.qualification_id is None:
            return "—"
        url = reverse("admin:workforce_qualification_change", args=[obj.qualification_id])
        return format_html('<a href="{}">{}</a>', url, obj.qualification)

    def has_end_permission(self, request) -> bool:
        return request.user.has_perm("qc.change_quizattempt")

    @admin.action(description="End selected attempts now", permissions=["end"])
    def end_attempts(self, request, queryset):
        done = self.apply_each(
            request,
            queryset.filter(status=QuizAttempt.Status.IN_PROGRESS),
            lambda attempt: services.quiz_attempt_finish(actor=request.user, attempt=attempt),
        )
        self.message_user(request, f"Ended {done} attempt(s).", messages.SUCCESS)


# -- the labeler's page --------------------------------------------------------------------------


@labeler_panel("Quiz attempts", order=30)
def quiz_attempts_panel(request, labeler):
    """The labeler's latest quiz attempts (one query)."""
    attempts = list(
        QuizAttempt.objects.filter(labeler_id=labeler.pk)
        .select_related("quiz")
        .order_by("-started_at", "-id")[:PANEL_ROWS]
    )
    rows = [
        (
            panel_link("qc_quizattempt_change", a.pk, panel_time(a.started_at)),
            a.quiz.title,
            a.number,
            a.get_status_display(),
            f"{a.correct_count}/{a.answered_count} of {a.question_count}",
        )
        for a in attempts
    ]
    return panel_table(
        ("started", "quiz", "attempt", "status", "correct"),
        rows,
        empty="No quiz attempts.",
        more_url=reverse("admin:qc_quizattempt_changelist") + f"?q={labeler.public_code}",
    )
