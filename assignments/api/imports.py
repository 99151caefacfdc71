"""Imports API v1 for operations managers: bulk task import, bulk task updates and batches.
Every route here is ops only: 403 for anyone else (401 when not signed in), checked before the
project is looked up.

Routes (under /api/v1/):

* ``GET projects/{id}/batches/`` — the project's batches with their progress;
* ``POST projects/{id}/batches/`` — import a file of tasks as a new batch: a multipart ``file``
  (plus form fields ``source``, ``note``, ``priority``) or the raw body (the batch fields then
  as query parameters); ``?format=csv|jsonl``, else taken from the file name or content type.
  201 ``{"batch", "created", "seconds", "control_check"}`` (the control tasks checked again
  against the real ones, new tasks included); 400 ``import_invalid`` with ``fields.rows``; 413
  ``import_too_large``; 409 ``project_done``;
* ``POST projects/{id}/tasks/bulk-update/`` — priorities and pre-labels of existing tasks, the
  same file handling; 200 ``{"updated", "seconds"}``.

Bodies of the two file routes are read up to ``TASK_IMPORT_MAX_BYTES`` (200 MB), not the global
``DATA_UPLOAD_MAX_MEMORY_SIZE``: a multipart file goes to a temporary file (Django applies that
limit to form fields only), and a raw body is spooled to one (``config.uploads``, which holds
the upload parser, the format negotiation and the reading of the files for every import).
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from assignments import selectors, services
from assignments.api.projects import ControlCheckOut, ProgressOut, control_check_out
from assignments.models import Batch
from assignments.services import control_set as control_services
from assignments.services.imports import TASK_IMPORT_MAX_BYTES
from config.api import StrictSerializer, parse_input
from config.uploads import FileUploadApi, file_format, file_upload_schema
from workforce.permissions import OPS_ONLY


class BatchFieldsIn(serializers.Serializer):
    source = serializers.CharField(allow_blank=True, max_length=200, required=False, default="")
    note = serializers.CharField(allow_blank=True, max_length=10_000, required=False, default="")
    priority = serializers.IntegerField(
        required=False,
        default=0,
        min_value=-(2**31) + 1,
        max_value=2**31 - 1,
        help_text="The priority of rows that give none.",
    )


class ImportFileIn(StrictSerializer):
    file = serializers.FileField()
    source = serializers.CharField(allow_blank=True, max_length=200, required=False, default="")
    note = serializers.CharField(allow_blank=True, max_length=10_000, required=False, default="")
    priority = serializers.IntegerField(
        required=False, default=0, min_value=-(2**31) + 1, max_value=2**31 - 1
    )


class UpdateFileIn(StrictSerializer):
    file = serializers.FileField()


# The two file routes: ops only, read up to TASK_IMPORT_MAX_BYTES.
class _FileApi(FileUploadApi):
    permission_classes = OPS_ONLY
    too_large = services.ImportTooLarge

    def max_upload_bytes(self) -> int:
        return TASK_IMPORT_MAX_BYTES


class BatchOut(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Batch
        fields = ["id", "project", "source", "note", "priority", "created_by", "created_at"]


class BatchWithProgressOut(BatchOut):
    progress = serializers.SerializerMethodField()

    class Meta(BatchOut.Meta):
        fields = [*BatchOut.Meta.fields, "progress"]

    @extend_schema_field(ProgressOut)
    def get_progress(self, obj: Batch) -> dict[str, int]:
        return ProgressOut(selectors.Progress.of(obj)).data


class ImportResultOut(serializers.Serializer):
    batch = BatchOut()
    created = serializers.IntegerField()
    seconds = serializers.FloatField()
    control_check = ControlCheckOut(
        allow_null=True,
        help_text="The project's control tasks checked again against its real tasks, new ones "
        "included (null without a control gold set).",
    )


class UpdateResultOut(serializers.Serializer):
    updated = serializers.IntegerField()
    seconds = serializers.FloatField()


class BatchListImportApi(generics.ListAPIView, _FileApi):
    serializer_class = BatchWithProgressOut
    queryset = Batch.objects.none()  # for the schema

    def get_queryset(self):
        project = selectors.project_get_for(actor=self.request.user, pk=self.kwargs["pk"])
        return selectors.batch_list_with_progress(project=project)

    @file_upload_schema(
        form=ImportFileIn,
        result=ImportResultOut,
        parameters=[
            OpenApiParameter("source", str, description="Raw body only; else a form field."),
            OpenApiParameter("note", str, description="Raw body only; else a form field."),
            OpenApiParameter("priority", int, description="Raw body only; else a form field."),
        ],
        conflict="project_done",
    )
    def post(self, request, pk: int):
        project = selectors.project_get_for(actor=request.user, pk=pk)
        f, name, fields = self.uploaded_file(request, ImportFileIn)
        if fields is None:  # a raw body: the batch's fields are the query parameters
            query = {k: v for k, v in request.query_params.items() if k != "format"}
            fields = parse_input(BatchFieldsIn, query)
        result = services.tasks_import(
            actor=request.user,
            project=project,
            data=f,
            file_format=file_format(request, name),
            **fields,
        )
        # The new tasks may change what real tasks look like: check the control tasks again.
        control_services.project_control_check(actor=request.user, project=project)
        body = {
            "batch": result.batch,
            "created": result.created,
            "seconds": result.seconds,
            "control_check": control_check_out(project),
        }
        return Response(ImportResultOut(body).data, status=status.HTTP_201_CREATED)


class TaskBulkUpdateApi(_FileApi):
    @file_upload_schema(
        form=UpdateFileIn, result=UpdateResultOut, status=200, conflict="project_done"
    )
    def post(self, request, pk: int):
        project = selectors.project_get_for(actor=request.user, pk=pk)
        f, name, _ = self.uploaded_file(request, UpdateFileIn)
        result = services.tasks_bulk_update(
            actor=request.user, project=project, data=f, file_format=file_format(request, name)
        )
        return Response(UpdateResultOut(result).data)


urlpatterns = [
    path("projects/<id:pk>/batches/", BatchListImportApi.as_view(), name="project-batch-list"),
    path(
        "projects/<id:pk>/tasks/bulk-update/",
        TaskBulkUpdateApi.as_view(),
        name="project-task-bulk-update",
    ),
]
