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
limit to form fields only), and a raw body is spooled to one by ``RawFileParser`` below.
"""

from __future__ import annotations

import tempfile
from typing import IO, Any

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, parsers, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from assignments import selectors, services
from assignments.api.projects import ControlCheckOut, ProgressOut, control_check_out
from assignments.models import Batch
from assignments.services import control_set as control_services
from assignments.services.imports import IMPORT_FORMATS, TASK_IMPORT_MAX_BYTES, upload_file
from config.api import StrictSerializer, parse_input
from workforce.permissions import OPS_ONLY


class RawFileParser(parsers.BaseParser):
    """Any body that is not multipart is the file itself, spooled to a temporary file (in memory
    up to 8 MB) and read up to ``TASK_IMPORT_MAX_BYTES``; a larger body is a 413 without reading
    the rest."""

    media_type = "*/*"
    chunk_size = 1024 * 1024

    def parse(self, stream, media_type=None, parser_context=None) -> IO[bytes]:
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
        size = 0
        while stream is not None:
            chunk = stream.read(self.chunk_size)
            if not chunk:
                break
            size += len(chunk)
            if size > TASK_IMPORT_MAX_BYTES:
                spool.close()
                raise services.ImportTooLarge()
            spool.write(chunk)
        spool.seek(0)
        return spool


class FileFormatNegotiation(DefaultContentNegotiation):
    """``?format=`` is the file's format on these routes, not a renderer choice: answer JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type


_FORMAT_BY_EXTENSION = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_FORMAT_BY_MEDIA_TYPE = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/jsonl": "jsonl",
    "application/jsonlines": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/x-ndjson": "jsonl",
    "application/ndjson": "jsonl",
}


class FileFormatQuery(serializers.Serializer):
    format = serializers.ChoiceField(choices=IMPORT_FORMATS, required=False)


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


def _file_format(request, file_name: str) -> str:
    query = parse_input(FileFormatQuery, request.query_params)
    if "format" in query:
        return query["format"]
    lowered = file_name.lower()
    for extension, file_format in _FORMAT_BY_EXTENSION.items():
        if lowered.endswith(extension):
            return file_format
    media_type = (request.content_type or "").split(";")[0].strip().lower()
    if media_type in _FORMAT_BY_MEDIA_TYPE:
        return _FORMAT_BY_MEDIA_TYPE[media_type]
    raise serializers.ValidationError(
        {"format": ["Say ?format=csv or ?format=jsonl (or name the file .csv or .jsonl)."]}
    )


def _upload(request, form_serializer) -> tuple[IO[bytes], str, dict[str, Any]]:
    """The file (binary, positioned at its start), its name, and the other form fields (for a
    raw body: the query parameters other than ``format``)."""
    if isinstance(request.data, dict):
        data = parse_input(form_serializer, request.data)
        upload = data.pop("file")
        if upload.size > TASK_IMPORT_MAX_BYTES:
            raise services.ImportTooLarge()
        return upload_file(upload), upload.name or "", data
    body: IO[bytes] = request.data
    if not body.read(1):
        raise serializers.ValidationError({"file": ["The body is empty."]})
    body.seek(0)
    fields: dict[str, Any] = {}
    if form_serializer is ImportFileIn:
        query = {k: v for k, v in request.query_params.items() if k != "format"}
        fields = parse_input(BatchFieldsIn, query)
    return body, "", fields


_FILE_REQUEST = {
    "text/csv": OpenApiTypes.STR,
    "application/x-ndjson": OpenApiTypes.STR,
}
_FORMAT_PARAM = OpenApiParameter("format", str, enum=list(IMPORT_FORMATS))


class _FileApi(APIView):
    permission_classes = OPS_ONLY
    parser_classes = (parsers.MultiPartParser, RawFileParser)
    renderer_classes = (JSONRenderer,)
    content_negotiation_class = FileFormatNegotiation


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

    @extend_schema(
        parameters=[
            _FORMAT_PARAM,
            OpenApiParameter("source", str, description="Raw body only; else a form field."),
            OpenApiParameter("note", str, description="Raw body only; else a form field."),
            OpenApiParameter("priority", int, description="Raw body only; else a form field."),
        ],
        request={"multipart/form-data": ImportFileIn, **_FILE_REQUEST},
        responses={
            201: ImportResultOut,
            400: OpenApiResponse(description="import_invalid: fields.rows lists row errors"),
            409: OpenApiResponse(description="project_done"),
            413: OpenApiResponse(description="import_too_large"),
        },
    )
    def post(self, request, pk: int):
        project = selectors.project_get_for(actor=request.user, pk=pk)
        f, name, fields = _upload(request, ImportFileIn)
        result = services.tasks_import(
            actor=request.user,
            project=project,
            data=f,
            file_format=_file_format(request, name),
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
    @extend_schema(
        parameters=[_FORMAT_PARAM],
        request={"multipart/form-data": UpdateFileIn, **_FILE_REQUEST},
        responses={
            200: UpdateResultOut,
            400: OpenApiResponse(description="import_invalid: fields.rows lists row errors"),
            409: OpenApiResponse(description="project_done"),
            413: OpenApiResponse(description="import_too_large"),
        },
    )
    def post(self, request, pk: int):
        project = selectors.project_get_for(actor=request.user, pk=pk)
        f, name, _ = _upload(request, UpdateFileIn)
        result = services.tasks_bulk_update(
            actor=request.user, project=project, data=f, file_format=_file_format(request, name)
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
