"""Quizzes, attempts and qualifications: API v1.

Labelers list the quizzes open to them (with why not, where they are blocked), start attempts,
answer one question at a time and finish. Vendor managers read their labelers' attempts and
qualifications (scores, never answers); operations read everything and grant or revoke
qualifications by hand.

What a labeler's response may hold is fixed by the serializers here and nowhere else: a
question is its id, position, payload, answer type and classes — never the gold item, its
accepted answers, explanation, difficulty or stratum; an attempt shows its score and pass/fail
once ended and nothing per question; training feedback comes only from the answer service's
outcome for the question just answered.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import StrictSerializer, created_or_ok, labeler_of, labeler_or_none, parse_input
from config.errors import Forbidden, NotFound
from qc.models import AttemptQuestion, Quiz, QuizAttempt
from qc.selectors import quizzes as selectors
from qc.services import quizzes as services
from workforce import services as workforce_services
from workforce.api import ReasonIn
from workforce.models import Labeler, Qualification, QualificationType
from workforce.permissions import IsOps
from workforce.selectors import QUALIFICATION_FIELDS, is_ops, qualification_list_for

BIGINT_MAX = 2**63 - 1

# -- output: quizzes ----------------------------------------------------------------------------


class BlockerOut(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    until = serializers.DateTimeField(allow_null=True)


class HeldQualificationOut(serializers.Serializer):
    id = serializers.IntegerField()
    granted_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)


class AvailabilityOut(serializers.Serializer):
    available = serializers.BooleanField()
    blocked = BlockerOut(many=True)
    attempts_used = serializers.IntegerField()
    attempts_left = serializers.IntegerField(allow_null=True)
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    open_attempt = serializers.IntegerField(source="open_attempt_id", allow_null=True)
    holds_qualification = HeldQualificationOut(allow_null=True)


class QuizOut(serializers.ModelSerializer):
    """A quiz as anyone may read it. ``availability`` is the caller's own gating when the caller
    is a labeler (null otherwise)."""

    guide = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    qualification_type = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    answer_type = serializers.CharField(source="gold_set.answer_type", read_only=True)
    classes = serializers.JSONField(source="gold_set.classes", read_only=True)
    availability = serializers.SerializerMethodField()

    class Meta:
        model = Quiz
        fields = [
            "id",
            "slug",
            "title",
            "description",
            "kind",
            "guide",
            "answer_type",
            "classes",
            *services.QUIZ_TERMS,
            "sequential",
            "is_active",
            "availability",
        ]

    @extend_schema_field(AvailabilityOut(allow_null=True))
    def get_availability(self, obj: Quiz) -> dict | None:
        availability = self.context.get("availability", {}).get(obj.pk)
        return AvailabilityOut(availability).data if availability is not None else None


class QuizStaffOut(QuizOut):
    gold_set = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta(QuizOut.Meta):
        fields = [
            *QuizOut.Meta.fields,
            "gold_set",
            "seq_p0",
            "seq_alpha",
            "seq_beta",
            "seq_min_questions",
            "created_at",
        ]


# -- output: attempts ---------------------------------------------------------------------------


class QuestionOut(serializers.Serializer):
    """One question as the labeler sees it. Built from an AttemptQuestion whose gold item was
    loaded with its payload only (``selectors.attempt_next_question``)."""

    id = serializers.IntegerField()
    position = serializers.IntegerField()
    payload = serializers.JSONField(source="gold_item.payload")
    answer_type = serializers.CharField(source="attempt.quiz.gold_set.answer_type")
    classes = serializers.JSONField(source="attempt.quiz.gold_set.classes")


class ResultOut(serializers.Serializer):
    score = serializers.DecimalField(max_digits=5, decimal_places=4)
    passed = serializers.SerializerMethodField()
    end_reason = serializers.CharField()
    qualification = serializers.IntegerField(source="qualification_id", allow_null=True)

    def get_passed(self, obj: QuizAttempt) -> bool:
        return obj.status == QuizAttempt.Status.PASSED


class StaffQuestionOut(serializers.ModelSerializer):
    """A question with its gold item and the labeler's answer: operations only."""

    gold_item = serializers.IntegerField(source="gold_item_id")
    external_id = serializers.CharField(source="gold_item.external_id")
    accepted_answers = serializers.JSONField(source="gold_item.accepted_answers")

    class Meta:
        model = AttemptQuestion
        fields = [
            "id",
            "position",
            "gold_item",
            "external_id",
            "answer",
            "is_correct",
            "answered_at",
            "accepted_answers",
        ]


class AttemptOut(serializers.ModelSerializer):
    """An attempt. To its own labeler: the counts, the next question while it is open and the
    result once it has ended. To their vendor manager and to operations: also the number
    correct (never the answers, except to operations with ``?include=questions``)."""

    quiz_slug = serializers.CharField(source="quiz.slug", read_only=True)
    quiz_kind = serializers.CharField(source="quiz.kind", read_only=True)
    labeler_code = serializers.CharField(source="labeler.public_code", read_only=True)
    result = serializers.SerializerMethodField()
    next_question = serializers.SerializerMethodField()
    correct_count = serializers.SerializerMethodField()
    questions = serializers.SerializerMethodField()

    class Meta:
        model = QuizAttempt
        fields = [
            "id",
            "quiz",
            "quiz_slug",
            "quiz_kind",
            "labeler",
            "labeler_code",
            "number",
            "status",
            *services.ATTEMPT_PROGRESS_FIELDS,
            "result",
            "next_question",
            "questions",
        ]
        # Left out for some callers by to_representation (config.schema: not required).
        optional_fields = ("correct_count", "next_question", "questions")

    def _own(self, obj: QuizAttempt) -> bool:
        return obj.labeler.user_id == self.context["request"].user.pk

    def to_representation(self, obj: QuizAttempt) -> dict[str, Any]:
        data = super().to_representation(obj)
        own = self._own(obj)
        if own:
            data.pop("correct_count")
        if not own or "next_question" not in self.context:
            data.pop("next_question")
        if "questions" not in self.context:
            data.pop("questions")
        return data

    @extend_schema_field(ResultOut(allow_null=True))
    def get_result(self, obj: QuizAttempt) -> dict | None:
        if obj.status == QuizAttempt.Status.IN_PROGRESS:
            return None
        return ResultOut(obj).data

    @extend_schema_field(QuestionOut(allow_null=True))
    def get_next_question(self, obj: QuizAttempt) -> dict | None:
        question = self.context.get("next_question")
        return QuestionOut(question).data if question is not None and self._own(obj) else None

    @extend_schema_field(OpenApiTypes.INT)
    def get_correct_count(self, obj: QuizAttempt) -> int | None:
        return None if self._own(obj) else obj.correct_count

    @extend_schema_field(StaffQuestionOut(many=True))
    def get_questions(self, obj: QuizAttempt) -> list | None:
        questions = self.context.get("questions")
        return StaffQuestionOut(questions, many=True).data if questions is not None else None


def _attempt_body(request, attempt: QuizAttempt, *, questions=None) -> dict[str, Any]:
    """The attempt as the caller may see it, with the next question when it is the caller's
    own open attempt."""
    context: dict[str, Any] = {"request": request}
    if attempt.labeler.user_id == request.user.pk:
        question = selectors.attempt_next_question(attempt=attempt)
        if question is not None:
            question.attempt = attempt  # the question's type and classes come from the quiz
        context["next_question"] = question
    if questions is not None:
        context["questions"] = questions
    return AttemptOut(attempt, context=context).data


class FeedbackOut(serializers.Serializer):
    correct = serializers.BooleanField()
    accepted_answers = serializers.JSONField()
    explanation = serializers.CharField()


AnswerResponse = inline_serializer(
    "AttemptAnswerResponse",
    {
        "question": serializers.IntegerField(),
        "feedback": FeedbackOut(required=False, help_text="Training quizzes only."),
        "attempt": AttemptOut(),
    },
)


# -- output: qualifications ---------------------------------------------------------------------


class QualificationTypeOut(serializers.ModelSerializer):
    class Meta:
        model = QualificationType
        fields = ["id", "slug", "name", "description"]


class QualificationOut(serializers.ModelSerializer):
    labeler_code = serializers.CharField(source="labeler.public_code", read_only=True)
    qualification_type = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = Qualification
        fields = ["id", "labeler", "labeler_code", *QUALIFICATION_FIELDS]

    def get_state(self, obj: Qualification) -> str:
        if obj.revoked_at is not None:
            return "revoked"
        if obj.superseded_at is not None:
            return "superseded"
        if obj.expires_at is not None and obj.expires_at <= timezone.now():
            return "expired"
        return "valid"


# -- input --------------------------------------------------------------------------------------


class NoFieldsIn(StrictSerializer):
    """A command that takes no input: any field sent is an error."""


class AnswerIn(StrictSerializer):
    question = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)
    answer = serializers.JSONField(
        help_text="A label (single choice), a list of labels (multiple choice) or a list of "
        '{"label", "x", "y", "w", "h"} boxes.'
    )
    active_seconds = serializers.IntegerField(
        min_value=0,
        max_value=services.MAX_ACTIVE_SECONDS,
        required=False,
        help_text="Seconds the labeler actively worked on the question, as the client "
        "measured; clamped to the time since the question was served.",
    )


class QualificationGrantIn(StrictSerializer):
    labeler = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)
    qualification_type = serializers.SlugField(max_length=64)
    valid_days = serializers.IntegerField(
        min_value=1, max_value=36500, required=False, allow_null=True
    )
    reason = serializers.CharField(max_length=2000)


# -- helpers ------------------------------------------------------------------------------------


def _caller_labeler(request) -> Labeler:
    """The caller's labeler profile; routes that only a labeler can call are a 403 for anyone
    else, whatever the id in the URL (so the answer confirms nothing)."""
    return labeler_of(
        request, detail="Only labelers take quizzes: this login has no labeler profile."
    )


def _availability(request, quizzes) -> dict[int, selectors.Availability]:
    labeler = labeler_or_none(request.user)
    if labeler is None:
        return {}
    return selectors.quiz_availability_for(labeler=labeler, quizzes=list(quizzes))


def _quiz_serializer(request):
    return QuizStaffOut if is_ops(request.user) else QuizOut


# -- views: quizzes -----------------------------------------------------------------------------


class QuizFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Quiz.Kind.choices)
    qualification_type = django_filters.CharFilter(field_name="qualification_type__slug")

    class Meta:
        model = Quiz
        fields = ["kind", "qualification_type"]


class QuizListApi(generics.ListAPIView):
    """Quizzes the caller may see; for a labeler each carries their availability (whether they
    may start it now, and every reason they may not)."""

    serializer_class = QuizOut
    filterset_class = QuizFilter
    queryset = Quiz.objects.none()  # for the schema; rows come from the selector

    def get_queryset(self):
        return selectors.quiz_list_for(actor=self.request.user)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        context = {**self.get_serializer_context(), "availability": _availability(request, page)}
        data = _quiz_serializer(request)(page, many=True, context=context).data
        return self.get_paginated_response(data)


class QuizDetailApi(APIView):
    @extend_schema(responses=QuizOut)
    def get(self, request, pk: int):
        quiz = selectors.quiz_get_for(actor=request.user, pk=pk)
        context = {"request": request, "availability": _availability(request, [quiz])}
        return Response(_quiz_serializer(request)(quiz, context=context).data)


class QuizAttemptStartApi(APIView):
    """Start an attempt (201), or get back the one in progress (200). The questions are fixed
    now; the response holds the first one and never an answer."""

    @extend_schema(request=NoFieldsIn, responses={200: AttemptOut, 201: AttemptOut})
    def post(self, request, pk: int):
        labeler = _caller_labeler(request)
        quiz = selectors.quiz_get_for(actor=request.user, pk=pk)
        parse_input(NoFieldsIn, request.data)
        attempt, created = services.quiz_attempt_start(
            actor=request.user, quiz=quiz, labeler=labeler
        )
        attempt = selectors.attempt_get_own(actor=request.user, pk=attempt.pk)
        return created_or_ok(_attempt_body(request, attempt), created=created)


# -- views: attempts ----------------------------------------------------------------------------


class AttemptFilter(django_filters.FilterSet):
    quiz = django_filters.NumberFilter(field_name="quiz_id")
    labeler = django_filters.NumberFilter(field_name="labeler_id")
    status = django_filters.ChoiceFilter(choices=QuizAttempt.Status.choices)

    class Meta:
        model = QuizAttempt
        fields = ["quiz", "labeler", "status"]


class AttemptListApi(generics.ListAPIView):
    """Attempts the caller may read (own, their vendors' labelers', or all for operations)."""

    serializer_class = AttemptOut
    filterset_class = AttemptFilter
    queryset = QuizAttempt.objects.none()

    def get_queryset(self):
        return selectors.attempt_list_for(actor=self.request.user)


class AttemptDetailApi(APIView):
    @extend_schema(
        responses=AttemptOut,
        parameters=[
            OpenApiParameter(
                "include",
                str,
                enum=["questions"],
                description="Operations only: every question with the answer given and the "
                "accepted answers.",
            )
        ],
    )
    def get(self, request, pk: int):
        attempt = selectors.attempt_get_for(actor=request.user, pk=pk)
        questions = None
        if request.query_params.get("include") == "questions" and is_ops(request.user):
            questions = selectors.attempt_questions_for_staff(attempt=attempt)
        return Response(_attempt_body(request, attempt, questions=questions))


class AttemptAnswerApi(APIView):
    """Answer the current question of one's own attempt. Training: the response carries the
    feedback for this question. Qualification: nothing about correctness."""

    @extend_schema(request=AnswerIn, responses=AnswerResponse)
    def post(self, request, pk: int):
        _caller_labeler(request)
        attempt = selectors.attempt_get_own(actor=request.user, pk=pk)
        data = parse_input(AnswerIn, request.data)
        outcome = services.quiz_attempt_answer(
            actor=request.user,
            attempt=attempt,
            question_id=data["question"],
            answer=data["answer"],
            active_seconds=data.get("active_seconds"),
        )
        body: dict[str, Any] = {"question": outcome.question_id}
        if outcome.feedback is not None:
            body["feedback"] = FeedbackOut(outcome.feedback).data
        body["attempt"] = _attempt_body(request, outcome.attempt)
        return Response(body)


class AttemptFinishApi(APIView):
    """End one's own attempt now; an attempt already ended is returned as it is."""

    @extend_schema(request=NoFieldsIn, responses=AttemptOut)
    def post(self, request, pk: int):
        _caller_labeler(request)
        attempt = selectors.attempt_get_own(actor=request.user, pk=pk)
        parse_input(NoFieldsIn, request.data)
        attempt = services.quiz_attempt_finish(actor=request.user, attempt=attempt)
        return Response(_attempt_body(request, attempt))


# -- views: qualifications ----------------------------------------------------------------------


class QualificationFilter(django_filters.FilterSet):
    labeler = django_filters.NumberFilter(field_name="labeler_id")
    qualification_type = django_filters.CharFilter(field_name="qualification_type__slug")
    valid = django_filters.BooleanFilter(method="filter_valid")

    class Meta:
        model = Qualification
        fields = ["labeler", "qualification_type", "valid"]

    def filter_valid(self, queryset, name, value):
        return queryset.valid() if value else queryset.not_valid()


class QualificationListCreateApi(generics.ListAPIView):
    """GET: grants the caller may read. POST (operations): grant a qualification by hand, with a
    reason; it supersedes the labeler's live grant of that type."""

    serializer_class = QualificationOut
    filterset_class = QualificationFilter
    queryset = Qualification.objects.none()

    def get_permissions(self):
        if self.request.method == "POST":
            return [*super().get_permissions(), IsOps()]
        return super().get_permissions()

    def get_queryset(self):
        return qualification_list_for(actor=self.request.user)

    @extend_schema(request=QualificationGrantIn, responses={201: QualificationOut})
    def post(self, request):
        data = parse_input(QualificationGrantIn, request.data)
        labeler = Labeler.objects.filter(pk=data["labeler"]).first()
        qtype = QualificationType.objects.filter(slug=data["qualification_type"]).first()
        errors = {}
        if labeler is None:
            errors["labeler"] = ["Unknown labeler."]
        if qtype is None:
            errors["qualification_type"] = ["Unknown qualification type."]
        if errors:
            raise ValidationError(errors)
        qualification = workforce_services.qualification_grant_manual(
            actor=request.user,
            labeler=labeler,
            qualification_type=qtype,
            reason=data["reason"],
            valid_days=data.get("valid_days"),
        )
        qualification = qualification_list_for(actor=request.user).get(pk=qualification.pk)
        return Response(QualificationOut(qualification).data, status=status.HTTP_201_CREATED)


class QualificationRevokeApi(APIView):
    """Revoke a live grant (operations), with a reason; the labeler must requalify. A grant the
    caller cannot see is a 404; one they can see but not revoke, a 403."""

    @extend_schema(request=ReasonIn, responses=QualificationOut)
    def post(self, request, pk: int):
        qualification = _qualification_for(request, pk)
        if not is_ops(request.user):
            raise Forbidden("Only operations managers can revoke a qualification.")
        data = parse_input(ReasonIn, request.data)
        workforce_services.qualification_revoke(
            actor=request.user, qualification=qualification, reason=data["reason"]
        )
        return Response(QualificationOut(_qualification_for(request, pk)).data)


def _qualification_for(request, pk: int) -> Qualification:
    try:
        return qualification_list_for(actor=request.user).get(pk=pk)
    except Qualification.DoesNotExist:
        raise NotFound() from None


class QualificationTypeListApi(generics.ListAPIView):
    serializer_class = QualificationTypeOut
    queryset = QualificationType.objects.none()

    def get_queryset(self):
        return selectors.qualification_type_list()


urlpatterns = [
    path("quizzes/", QuizListApi.as_view(), name="quiz-list"),
    path("quizzes/<id:pk>/", QuizDetailApi.as_view(), name="quiz-detail"),
    path("quizzes/<id:pk>/attempts/", QuizAttemptStartApi.as_view(), name="quiz-attempt-start"),
    path("quiz-attempts/", AttemptListApi.as_view(), name="quiz-attempt-list"),
    path("quiz-attempts/<id:pk>/", AttemptDetailApi.as_view(), name="quiz-attempt-detail"),
    path("quiz-attempts/<id:pk>/answers/", AttemptAnswerApi.as_view(), name="quiz-attempt-answer"),
    path("quiz-attempts/<id:pk>/finish/", AttemptFinishApi.as_view(), name="quiz-attempt-finish"),
    path("qualifications/", QualificationListCreateApi.as_view(), name="qualification-list"),
    path(
        "qualifications/<id:pk>/revoke/",
        QualificationRevokeApi.as_view(),
        name="qualification-revoke",
    ),
    path(
        "qualification-types/",
        QualificationTypeListApi.as_view(),
        name="qualification-type-list",
    ),
]
