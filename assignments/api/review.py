"""Review API v1: the senior labelers' review queue, labelers' flags, and the export of accepted
labels. Views parse input, call one service or selector and render output.

Routes (under /api/v1/):

* ``POST reviews/next/`` (``?project=id`` optional) — senior labelers: 201 with a new lease,
  200 with the caller's live lease handed back, 204 when nothing is left. The body has the
  review, the task's payload and schema, the labelers' answers by public code (disagreement and
  audit reviews) or the flag's question.
* ``POST reviews/{id}/resolve/`` ``{"answer", "note", "promote_to_gold"?: gold set slug,
  "proposes_guide_change"?: bool (flags), "active_seconds"?: int}`` — the reviewer of the
  lease; 409 ``already_resolved`` for a different second resolution.
* ``GET reviews/queue/`` (``?project=id`` optional) — senior labelers (the queue they claim
  from) and operations managers (all of it): size, overdue count and oldest age, per kind.
* ``POST reviews/{id}/guide-version/`` ``{"guide_version": id}`` — operations managers: link a
  resolved flag that proposes a guide change to the published version that answers it.
* ``GET reviews/`` — operations managers: all; senior labelers: their own; others 403.
* ``POST assignments/{id}/flag/`` ``{"note"}`` (``question``: its deprecated old name) — the
  labeler's own assignment (404 otherwise): 201 new, 200 the same flag again.
* ``GET me/flags/`` — the labeler's own flags and their answers (cursor-paginated); a flag on
  a control task reads exactly like any other.
* ``GET projects/{id}/export/?format=csv|jsonl`` — operations managers; streamed (CSV by
  default). ``?format=`` is the file format here, not DRF's renderer override.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from assignments.models import Review
from assignments.selectors import projects as project_selectors
from assignments.selectors import review as selectors
from assignments.services import review as services
from config.api import (
    StrictSerializer,
    created_or_ok,
    labeler_input,
    labeler_of,
    parse_input,
)
from config.downloads import FileExportApi
from workforce.permissions import OPS_ONLY

BIGINT_MAX = 2**63 - 1

# -- input -------------------------------------------------------------------------------------


class ReviewNextQuery(StrictSerializer):
    project = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX, required=False)


class ResolveIn(StrictSerializer):
    """``note`` is the reviewer's comment (``reason`` names why a status changes, elsewhere)."""

    answer = serializers.JSONField()
    note = serializers.CharField(max_length=services.MAX_NOTE_CHARS)
    promote_to_gold = serializers.SlugField(max_length=64, required=False)
    proposes_guide_change = serializers.BooleanField(
        required=False, default=False, help_text="Flags: the answer proposes a guide change."
    )
    active_seconds = serializers.IntegerField(
        min_value=0,
        max_value=services.MAX_ACTIVE_SECONDS,
        required=False,
        help_text="Seconds the reviewer actively worked on it, as the client measured; "
        "clamped to the time since the lease.",
    )

    def to_internal_value(self, data):
        if isinstance(data, dict) and "reason" in data:
            raise serializers.ValidationError(
                {"reason": ["Not accepted here: the reviewer's comment is `note`."]}
            )
        return super().to_internal_value(data)


@extend_schema_serializer(deprecate_fields=["question"])
class FlagIn(StrictSerializer):
    """The labeler's ``note`` (what is unclear). ``question`` is its old name, accepted for one
    release (deprecated, docs/api.md); giving both is a 400."""

    note = serializers.CharField(max_length=services.MAX_QUESTION_CHARS, required=False)
    question = serializers.CharField(
        max_length=services.MAX_QUESTION_CHARS,
        required=False,
        help_text="Deprecated: use note.",
    )

    def validate(self, attrs):
        if "note" in attrs and "question" in attrs:
            raise serializers.ValidationError(
                {"question": ["Give note only (question is its deprecated name)."]}
            )
        text = attrs.get("note", attrs.get("question"))
        if text is None:
            raise serializers.ValidationError({"note": ["This field is required."]})
        return {"note": text}


class GuideVersionLinkIn(StrictSerializer):
    guide_version = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)


class ExportQuery(StrictSerializer):
    format = serializers.ChoiceField(choices=selectors.EXPORT_FORMATS, required=False)


# -- output ------------------------------------------------------------------------------------


class LabelerAnswerOut(serializers.Serializer):
    labeler = serializers.CharField(help_text="The labeler's public code.")
    answer = serializers.JSONField()


@extend_schema_serializer(deprecate_fields=["lease_expires_at"])
class ReviewForReviewerOut(serializers.Serializer):
    """A leased review as its reviewer works on it."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    project = serializers.IntegerField()
    task = serializers.IntegerField()
    expires_at = serializers.DateTimeField(help_text="When the lease lapses.")
    lease_expires_at = serializers.DateTimeField(help_text="Deprecated: use expires_at.")
    payload = serializers.JSONField()
    answer_type = serializers.CharField()
    classes = serializers.ListField(child=serializers.CharField())
    answers = LabelerAnswerOut(many=True)
    question = serializers.CharField()


class ReviewOut(serializers.ModelSerializer):
    reviewer = serializers.SlugRelatedField(slug_field="public_code", read_only=True)

    class Meta:
        model = Review
        fields = ["id", *selectors.REVIEW_FIELDS]


class ResolutionOut(ReviewOut):
    task_final_answer = serializers.JSONField(source="task.final_answer", read_only=True)
    task_decided_by = serializers.CharField(source="task.decided_by", read_only=True)

    class Meta(ReviewOut.Meta):
        fields = [*ReviewOut.Meta.fields, "task_final_answer", "task_decided_by"]


@extend_schema_serializer(deprecate_fields=["question"])
class FlagOut(serializers.Serializer):
    """What the labeler sees of their flag: the same for real and control tasks (both go to the
    senior queue; no status, so no resolution tells them apart either). ``question``
    repeats ``note`` under its old name (deprecated)."""

    id = serializers.IntegerField(source="pk")
    assignment = serializers.IntegerField(source="assignment_id")
    note = serializers.CharField(source="question")
    question = serializers.CharField(help_text="Deprecated: use note.")
    created_at = serializers.DateTimeField()


class FlagGuideVersionOut(serializers.Serializer):
    id = serializers.IntegerField()
    guide = serializers.IntegerField(source="guide_id")
    number = serializers.CharField()
    url = serializers.SerializerMethodField()

    def get_url(self, version) -> str:
        return f"/api/v1/guides/{version.guide_id}/?version={version.pk}"


class MyFlagOut(serializers.Serializer):
    """One of the labeler's flags and its answer. The same keys, in the same order, with the
    same kinds of value, for a flag on a control task as on a real one: the reviewer's answer
    (the label), the reviewer, the gold answer and anything that tells a control task are never
    in it. ``status``: ``open`` until answered, then ``answered`` with ``answer_note`` and
    ``answered_at``; ``guide_version`` once ops linked the version that answers a proposed guide
    change, else null."""

    id = serializers.IntegerField()
    project = serializers.IntegerField()
    task = serializers.IntegerField()
    assignment = serializers.IntegerField()
    question = serializers.CharField()
    created_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=[selectors.FLAG_OPEN, selectors.FLAG_ANSWERED])
    answer_note = serializers.CharField(allow_null=True)
    answered_at = serializers.DateTimeField(allow_null=True)
    proposes_guide_change = serializers.BooleanField()
    guide_version = FlagGuideVersionOut(allow_null=True)

    def to_representation(self, instance):
        return super().to_representation(my_flag(instance))


def my_flag(review: Review) -> dict:
    """The fields of ``MyFlagOut`` from a flag review: nothing of the answer until it is
    answered; nothing else of the review ever."""
    answered = selectors.flag_status(review) == selectors.FLAG_ANSWERED
    version = review.guide_version if answered else None
    return {
        "id": review.pk,
        "project": review.project_id,
        "task": review.task_id,
        "assignment": review.assignment_id,
        "question": review.question,
        "created_at": review.created_at,
        "status": selectors.flag_status(review),
        "answer_note": review.note if answered else None,
        "answered_at": review.resolved_at if answered else None,
        "proposes_guide_change": bool(answered and review.proposes_guide_change),
        "guide_version": version,
    }


class QueueKindOut(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Review.Kind.choices)
    count = serializers.IntegerField()
    overdue = serializers.IntegerField(help_text="Older than the age cap: these come first.")
    oldest_created_at = serializers.DateTimeField(allow_null=True)
    oldest_age_seconds = serializers.IntegerField(allow_null=True)


class ReviewQueueOut(serializers.Serializer):
    count = serializers.IntegerField()
    overdue = serializers.IntegerField()
    oldest_age_seconds = serializers.IntegerField(allow_null=True)
    age_cap_hours = serializers.FloatField()
    kinds = QueueKindOut(many=True)


def review_for_reviewer(claim: services.ReviewClaim) -> dict:
    review = claim.review
    project = review.project
    return {
        "id": review.pk,
        "kind": review.kind,
        "status": review.status,
        "project": project.pk,
        "task": review.task_id,
        "expires_at": review.expires_at,
        "lease_expires_at": review.expires_at,  # deprecated alias of expires_at
        "payload": review.task.payload,
        "answer_type": project.answer_type,
        "classes": project.classes,
        "answers": claim.answers,
        "question": review.question,
    }


# -- views -------------------------------------------------------------------------------------


class ReviewNextApi(APIView):
    """Lease the next review (senior labelers): 201 new, 200 handed back, 204 none left."""

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("project", int, required=False)],
        responses={
            200: ReviewForReviewerOut,
            201: ReviewForReviewerOut,
            204: OpenApiResponse(description="No review left for you."),
        },
    )
    def post(self, request):
        labeler = labeler_of(request)
        query = parse_input(ReviewNextQuery, request.query_params)
        claim = services.review_claim_next(reviewer=labeler, project_id=query.get("project"))
        if claim is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return created_or_ok(
            ReviewForReviewerOut(review_for_reviewer(claim)).data, created=claim.created
        )


class ReviewResolveApi(APIView):
    @extend_schema(request=ResolveIn, responses=ResolutionOut)
    def post(self, request, pk: int):
        labeler, data = labeler_input(request, ResolveIn)
        result = services.review_resolve(
            reviewer=labeler,
            review_id=pk,
            answer=data["answer"],
            note=data["note"],
            promote_to_gold=data.get("promote_to_gold"),
            proposes_guide_change=data["proposes_guide_change"],
            active_seconds=data.get("active_seconds"),
        )
        return Response(ResolutionOut(result.review).data)


class ReviewQueueApi(APIView):
    """The queue's size and age, per kind, before a senior takes one (senior labelers: the
    queue they claim from; operations managers: all of it)."""

    @extend_schema(
        parameters=[OpenApiParameter("project", int, required=False)], responses=ReviewQueueOut
    )
    def get(self, request):
        query = parse_input(ReviewNextQuery, request.query_params)
        summary = selectors.review_queue_summary(
            actor=request.user, project_id=query.get("project")
        )
        return Response(ReviewQueueOut(summary).data)


class FlagGuideVersionApi(APIView):
    """Link a resolved flag proposing a guide change to the published version answering it."""

    permission_classes = OPS_ONLY

    @extend_schema(request=GuideVersionLinkIn, responses=ReviewOut)
    def post(self, request, pk: int):
        data = parse_input(GuideVersionLinkIn, request.data)
        review = services.flag_link_guide_version(
            actor=request.user, review_id=pk, guide_version_id=data["guide_version"]
        )
        return Response(ReviewOut(review).data)


class MyFlagListApi(generics.ListAPIView):
    """The caller's own flags and their answers (labelers)."""

    serializer_class = MyFlagOut
    queryset = Review.objects.none()  # for the schema

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Review.objects.none()
        return selectors.flag_list_for_labeler(labeler=labeler_of(self.request))


class ReviewListApi(generics.ListAPIView):
    """Every review (operations managers) or the caller's own (senior labelers)."""

    serializer_class = ReviewOut
    filterset_fields = ["status", "kind", "project"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no caller
            return Review.objects.none()
        return selectors.review_list_for(actor=self.request.user)


class AssignmentFlagApi(APIView):
    @extend_schema(request=FlagIn, responses={200: FlagOut, 201: FlagOut})
    def post(self, request, pk: int):
        labeler, data = labeler_input(request, FlagIn)
        flag = services.assignment_flag(labeler=labeler, assignment_id=pk, question=data["note"])
        return created_or_ok(FlagOut(flag.review).data, created=flag.created)


class ProjectExportApi(FileExportApi):
    # The project's accepted labels as <slug>-labels.csv or .jsonl.
    permission_classes = OPS_ONLY
    query_serializer = ExportQuery
    file_suffix = "labels"

    def export_object(self, request, pk: int):
        return project_selectors.project_get_for(actor=request.user, pk=pk)

    def export_rows(self, obj, file_format: str):
        return selectors.project_export(project=obj, file_format=file_format)


urlpatterns = [
    path("reviews/", ReviewListApi.as_view(), name="review-list"),
    path("reviews/next/", ReviewNextApi.as_view(), name="review-next"),
    path("reviews/queue/", ReviewQueueApi.as_view(), name="review-queue"),
    path(
        "reviews/<id:pk>/guide-version/",
        FlagGuideVersionApi.as_view(),
        name="review-guide-version",
    ),
    path("me/flags/", MyFlagListApi.as_view(), name="my-flag-list"),
    path("reviews/<id:pk>/resolve/", ReviewResolveApi.as_view(), name="review-resolve"),
    path("assignments/<id:pk>/flag/", AssignmentFlagApi.as_view(), name="assignment-flag"),
    path("projects/<id:pk>/export/", ProjectExportApi.as_view(), name="project-export"),
]
