"""Work API v1: the next-task call, submit, release, and the caller's assignments (the projects
themselves are in ``assignments.api.projects``). Views parse input, call one service or selector
and render output.

What a labeler receives for a task is the same shape whether the task is real or a control
(gold) task: the assignment id (ids of both come from one sequence, in claim order), the
payload, the schema and the lease — never a task id, a gold item id or a flag. When the project
shows pre-labels, every task also carries ``prelabel`` and ``prelabel_confidence`` (null when
it has none); a control task's are a decoy copied from a real task (docs/next-task.md).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from assignments import selectors, services
from assignments.models import Assignment, Project
from config.api import StrictSerializer, created_or_ok, error_body, labeler_input, labeler_of
from config.errors import ApplicationError


@extend_schema_serializer(deprecate_fields=["assignment", "lease_expires_at"])
class TaskForLabelerOut(serializers.Serializer):
    """The one shape of a leased task, real or control. ``id``, ``project``, ``status`` and
    ``expires_at`` are named as in the assignment list; ``assignment`` and
    ``lease_expires_at`` are the same values under their old names, deprecated (docs/api.md)."""

    id = serializers.IntegerField(help_text="The assignment's id.")
    project = serializers.IntegerField()
    status = serializers.CharField()
    expires_at = serializers.DateTimeField(help_text="When the lease lapses.")
    assignment = serializers.IntegerField(help_text="Deprecated: use id.")
    lease_expires_at = serializers.DateTimeField(help_text="Deprecated: use expires_at.")
    payload = serializers.JSONField()
    answer_type = serializers.CharField()
    classes = serializers.ListField(child=serializers.CharField())
    prelabel = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="Only when the project shows pre-labels: the model's suggested answer, or null.",
    )
    prelabel_confidence = serializers.FloatField(
        required=False,
        allow_null=True,
        help_text="Only when the project shows pre-labels: the pre-label's confidence, or null.",
    )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if "prelabel" not in instance:
            # The project does not show pre-labels: the keys are absent for every task alike.
            data.pop("prelabel", None)
            data.pop("prelabel_confidence", None)
        return data


class AssignmentOut(serializers.ModelSerializer):
    class Meta:
        model = Assignment
        fields = ["id", "project", "status", "leased_at", "expires_at", "submitted_at", "answer"]


class NextRefusedOut(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    retry_after = serializers.IntegerField(
        required=False, help_text="claim_contended only: seconds before asking next-task again."
    )


class SubmitOut(AssignmentOut):
    """The submitted assignment; with ``next: true``, also what next-task would have answered:
    ``next`` is the next task (or null when none is left), ``next_created`` whether it is a new
    lease, and ``next_refused`` why no task was handed out when the claim refused (the
    submission stands either way)."""

    next = TaskForLabelerOut(required=False, allow_null=True)
    next_created = serializers.BooleanField(required=False)
    next_refused = NextRefusedOut(required=False)

    class Meta(AssignmentOut.Meta):
        fields = [*AssignmentOut.Meta.fields, "next", "next_created", "next_refused"]


_datetime = serializers.DateTimeField()


def assignment_out(assignment: Assignment) -> dict:
    """``AssignmentOut`` rendered directly: the submit response is on every label's path, and
    building a model serializer per call cost more than the rest of the response."""
    return {
        "id": assignment.pk,
        "project": assignment.project_id,
        "status": assignment.status,
        "leased_at": _datetime.to_representation(assignment.leased_at),
        "expires_at": _datetime.to_representation(assignment.expires_at),
        "submitted_at": _datetime.to_representation(assignment.submitted_at)
        if assignment.submitted_at
        else None,
        "answer": assignment.answer,
    }


class SubmitIn(StrictSerializer):
    answer = serializers.JSONField()
    next = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Also lease the next task of the project in the same request (submit-and-next).",
    )


def task_for_labeler(assignment: Assignment, project: Project) -> dict:
    """The task as its labeler sees it (pre-labels only when the project shows them)."""
    expires_at = _datetime.to_representation(assignment.expires_at)
    body = {
        "id": assignment.pk,
        "project": project.pk,
        "status": assignment.status,
        "expires_at": expires_at,
        "assignment": assignment.pk,  # deprecated alias of id
        "lease_expires_at": expires_at,  # deprecated alias of expires_at
        "payload": assignment.task.payload,
        "answer_type": project.answer_type,
        "classes": project.classes,
    }
    if project.show_prelabels:
        # Both claim paths (a new lease, a lease handed back) load the task's pre-label with
        # the task, alike for real and control tasks: no lookup that could differ in timing.
        body["prelabel"] = assignment.task.prelabel
        body["prelabel_confidence"] = assignment.task.prelabel_confidence
    return body


class NextTaskApi(APIView):
    """Lease the next task: 201 with a new lease, 200 with the caller's live lease handed back,
    204 when no task is available to the caller (never because a race was lost: that is a 409
    ``claim_contended`` with ``Retry-After``). A project the caller cannot read is a 404."""

    @extend_schema(
        request=None,
        responses={
            200: TaskForLabelerOut,
            201: TaskForLabelerOut,
            204: OpenApiResponse(description="No task left for you in this project."),
        },
    )
    def post(self, request, pk: int):
        labeler = labeler_of(request)
        try:
            claim = services.assignment_claim_next(labeler=labeler, project_id=pk)
        except services.ClaimContended as exc:
            return Response(
                error_body(exc.detail, exc.code),
                status=exc.status,
                headers={"Retry-After": str(exc.retry_after)},
            )
        if claim is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        project = claim.project
        # task_for_labeler renders TaskForLabelerOut's shape itself (the schema names it).
        return created_or_ok(task_for_labeler(claim.assignment, project), created=claim.created)


class AssignmentSubmitApi(APIView):
    """Submit an answer (idempotent: the same answer again is the same 200). With
    ``"next": true`` the same request then leases the next task of the project, as
    ``POST /projects/{id}/next-task/`` would: the submission commits first and the lease is a
    transaction of its own, so a refused or contended claim leaves the submission standing
    (``next_refused``), and a retried submit-and-next gets the same next lease back."""

    @extend_schema(request=SubmitIn, responses=SubmitOut)
    def post(self, request, pk: int):
        labeler, data = labeler_input(request, SubmitIn)
        result = services.assignment_submit(
            labeler=labeler, assignment_id=pk, answer=data["answer"]
        )
        body = assignment_out(result.assignment)
        if data.get("next"):
            body.update(_next_for(labeler, result.assignment.project_id))
        return Response(body)


def _next_for(labeler, project_id: int) -> dict:
    """The ``next`` part of a submit-and-next answer (``SubmitOut``)."""
    try:
        claim = services.assignment_claim_next(labeler=labeler, project_id=project_id)
    except services.ClaimContended as exc:
        refused = {"code": exc.code, "detail": str(exc.detail), "retry_after": exc.retry_after}
        return {"next": None, "next_refused": refused}
    except ApplicationError as exc:
        return {"next": None, "next_refused": {"code": exc.code, "detail": str(exc.detail)}}
    if claim is None:
        return {"next": None, "next_created": False}
    return {
        "next": task_for_labeler(claim.assignment, claim.project),
        "next_created": claim.created,
    }


class AssignmentReleaseApi(APIView):
    @extend_schema(request=None, responses=AssignmentOut)
    def post(self, request, pk: int):
        labeler = labeler_of(request)
        assignment = services.assignment_release(labeler=labeler, assignment_id=pk)
        return Response(AssignmentOut(assignment).data)


class AssignmentListApi(generics.ListAPIView):
    """The caller's own assignments (labelers), their labelers' (vendor managers), all (ops)."""

    serializer_class = AssignmentOut

    def get_queryset(self):
        return selectors.assignment_list_for(actor=self.request.user)
