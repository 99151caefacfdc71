"""Assignments API v1 for operations managers: bulk task import, bulk task updates, batches,
progress, and the project status commands. Every route here is ops only: 403 for anyone else
(401 when not signed in), checked before the project is looked up.

Routes (under /api/v1/):

* ``GET projects/{id}/batches/`` — the project's batches with their progress;
* ``POST projects/{id}/batches/`` — import a file of tasks as a new batch: a multipart ``file``
  (plus form fields ``source``, ``note``, ``priority``) or the raw body (the batch fields then
  as query parameters); ``?format=csv|jsonl``, else taken from the file name or content type.
  201 ``{"batch", "created", "seconds", "control_check"}`` (the control tasks checked again
  against the real ones, new tasks included); 400 ``import_invalid`` with ``fields.rows``; 413
  ``import_too_large``; 409 ``project_done``;
* ``POST projects/{id}/tasks/bulk-update/`` — priorities and pre-labels of existing tasks, the
  same file handling; 200 ``{"updated", "seconds"}``;
* ``GET projects/{id}/progress/`` — open, leased, done, in-review counts;
* ``GET, POST projects/{id}/control-check/`` — the control set check (do the control tasks look
  like the real ones: keys, value types, URL shapes), its override and warnings; POST checks
  again now. ``POST, DELETE projects/{id}/control-check/override/`` — accept the differences
  found, with a ``reason`` (kept with who and when), or withdraw that. Activation refuses a
  project whose control tasks differ without an override: 409 ``control_tasks_differ`` with the
  differences in ``fields`` (docs/next-task.md, "Control tasks that look like real ones");
* ``POST projects/{id}/activate/``, ``pause/``, ``resume/``, ``finish/`` — the status workflow
  (409 ``invalid_transition`` when it does not allow the move), with an optional JSON body
  ``{"reason": "…"}`` recorded in the project's status history;
* ``GET projects/{id}/status-changes/`` — that history, newest first.

Bodies of the two file routes are read up to ``TASK_IMPORT_MAX_BYTES`` (200 MB), not the global
``DATA_UPLOAD_MAX_MEMORY_SIZE``: a multipart file goes to a temporary file (Django applies that
limit to form fields only), and a raw body is spooled to one by ``RawFileParser`` below.

The input and output serializers of projects for ops (``ProjectIn``, ``ProjectPatchIn``,
``ProjectOpsOut``) live here too; the create and update views use them.
"""

from __future__ import annotations

import tempfile
from typing import IO, Any

from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, parsers, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from assignments import selectors, services
from assignments.models import Batch, ConsensusMethod, Project, ProjectStatusChange
from assignments.selectors import control_set as control_selectors
from assignments.services import control_set as control_services
from assignments.services.imports import IMPORT_FORMATS, TASK_IMPORT_MAX_BYTES, upload_file
from config.api import StrictSerializer, parse_input
from config.errors import Forbidden
from qc.control_sets import SHAPES_DIFFER, SHOWS_ANSWERS
from qc.models import AnswerType, GoldSet, Guide
from workforce.permissions import IsOps
from workforce.selectors import is_ops

OPS_ONLY = (IsAuthenticated, IsOps)


def require_ops(request) -> None:
    """For views whose other methods are open to every role (the project list and detail):
    a write by anyone but ops is a 403."""
    if not is_ops(request.user):
        raise Forbidden("Only operations managers can do this.")


# -- projects: input and output for ops ------------------------------------------------------------


class ShapeDifferenceOut(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["missing_key", "extra_key", "type", "url_shape"])
    path = serializers.CharField(help_text="The key path, e.g. metadata.camera or tags[].")
    control = serializers.CharField(help_text="The control items' type or URL shape there.")
    real = serializers.ListField(
        child=serializers.CharField(), help_text="What real tasks have there."
    )
    items = serializers.IntegerField(help_text="Control items that differ this way.")
    examples = serializers.ListField(
        child=serializers.CharField(), help_text="External ids of a few of them."
    )


class ControlCheckOut(serializers.Serializer):
    """The last comparison of the control payloads with the real tasks' (docs/next-task.md,
    "Control tasks that look like real ones")."""

    ok = serializers.BooleanField(help_text="No difference found.")
    compared = serializers.BooleanField(help_text="False while there is no real task.")
    summary = serializers.CharField()
    real_sampled = serializers.IntegerField()
    controls_checked = serializers.IntegerField()
    controls_differing = serializers.IntegerField()
    differences = ShapeDifferenceOut(many=True)
    more = serializers.IntegerField(help_text="Differences not listed.")
    checked_at = serializers.DateTimeField()
    overridden = serializers.BooleanField(help_text="An override accepts every difference.")


class ControlOverrideOut(serializers.Serializer):
    reason = serializers.CharField()
    by = serializers.CharField(allow_null=True, help_text="The username of who overrode.")
    at = serializers.DateTimeField()


class WarningOut(serializers.Serializer):
    code = serializers.ChoiceField(choices=[SHOWS_ANSWERS, SHAPES_DIFFER])
    message = serializers.CharField()


_datetime = serializers.DateTimeField()


def control_check_out(project: Project) -> dict[str, Any] | None:
    """``ControlCheckOut`` of the check stored on the project (None: no control gold set or
    not checked yet)."""
    report = control_selectors.stored_report(project)
    if report is None:
        return None
    return {
        **report.to_dict(),
        "checked_at": _datetime.to_representation(project.control_checked_at),
        "overridden": control_selectors.override_covers(project, report),
    }


def control_override_out(project: Project) -> dict[str, Any] | None:
    if project.control_override_at is None:
        return None
    by = project.control_override_by
    return {
        "reason": project.control_override_reason,
        "by": by.username if by is not None else None,
        "at": _datetime.to_representation(project.control_override_at),
    }


class ProjectOpsListOut(serializers.ListSerializer):
    """A page of projects for ops: the warnings of the whole page in one query."""

    def to_representation(self, data):
        projects = list(data.all() if hasattr(data, "all") else data)
        self.child.context["control_warnings"] = control_selectors.project_control_warnings_many(
            projects
        )
        return super().to_representation(projects)


class ProjectOpsOut(serializers.ModelSerializer):
    """The project as operations managers see it: every setting, quality ones included. The
    labeler view (``assignments.api.work.ProjectOut``) is a subset of it with the same types:
    ``guide`` is the guide's id (what ``/guides/{id}/`` takes), qualifications and the control
    gold set are slugs."""

    required_qualifications = serializers.SlugRelatedField(
        slug_field="slug", many=True, read_only=True
    )
    guide = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    control_gold_set = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    control_check = serializers.SerializerMethodField(
        help_text="The last control set check: do the control tasks look like the real ones."
    )
    control_override = serializers.SerializerMethodField(
        help_text="Ops's override of the check's differences (reason, who, when), or null."
    )
    warnings = serializers.SerializerMethodField(
        help_text="About the control tasks: a control set a quiz shows answers of, control "
        "tasks that differ from real ones."
    )

    @extend_schema_field(ControlCheckOut(allow_null=True))
    def get_control_check(self, obj: Project) -> dict[str, Any] | None:
        return control_check_out(obj)

    @extend_schema_field(ControlOverrideOut(allow_null=True))
    def get_control_override(self, obj: Project) -> dict[str, Any] | None:
        return control_override_out(obj)

    @extend_schema_field(WarningOut(many=True))
    def get_warnings(self, obj: Project) -> list[dict[str, str]]:
        page = self.context.get("control_warnings")
        if page is not None and obj.pk in page:
            return page[obj.pk]
        return control_selectors.project_control_warnings(obj)

    class Meta:
        model = Project
        list_serializer_class = ProjectOpsListOut
        fields = [
            "id",
            "slug",
            "name",
            "objective",
            "status",
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
            "control_check",
            "control_override",
            "warnings",
            "created_at",
            "updated_at",
        ]


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class GuideRefField(serializers.PrimaryKeyRelatedField):
    """A guide by id (as projects show it) or by slug."""

    def to_internal_value(self, data):
        if isinstance(data, str) and not data.isdigit():
            try:
                return self.get_queryset().get(slug=data)
            except Guide.DoesNotExist:
                self.fail("does_not_exist", pk_value=data)
        if isinstance(data, bool):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


class ProjectPatchIn(StrictSerializer):
    """Every field optional; the service checks the rules between them."""

    name = serializers.CharField(max_length=200, required=False)
    objective = serializers.CharField(allow_blank=True, max_length=20_000, required=False)
    answer_type = serializers.ChoiceField(choices=AnswerType.choices, required=False)
    # Not trimmed: the service rejects labels with surrounding spaces rather than changing them.
    classes = serializers.ListField(
        child=serializers.CharField(trim_whitespace=False, allow_blank=True, max_length=200),
        max_length=1_000,
        required=False,
    )
    iou_threshold = serializers.DecimalField(max_digits=3, decimal_places=2, required=False)
    overlap = serializers.IntegerField(required=False, help_text="Labelers per task (k), ≥ 1.")
    max_overlap = serializers.IntegerField(required=False, help_text="≥ overlap.")
    control_ratio = serializers.DecimalField(
        max_digits=4, decimal_places=3, required=False, help_text="0 to 0.5."
    )
    control_gold_set = serializers.SlugRelatedField(
        slug_field="slug", queryset=GoldSet.objects.all(), allow_null=True, required=False
    )
    lease_seconds = serializers.IntegerField(required=False, help_text="≥ 30.")
    required_qualifications = serializers.ListField(
        child=serializers.SlugField(max_length=64), max_length=100, required=False
    )
    guide = GuideRefField(
        queryset=Guide.objects.all(),
        allow_null=True,
        required=False,
        help_text="The guide's id (its slug is still accepted).",
    )
    require_guide_ack = serializers.BooleanField(required=False)
    priority = serializers.IntegerField(required=False)
    audit_percent = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)
    show_prelabels = serializers.BooleanField(
        required=False,
        help_text="Show labelers the tasks' pre-labels (control tasks get decoys).",
    )
    consensus_method = serializers.ChoiceField(choices=ConsensusMethod.choices, required=False)
    confidence_threshold = serializers.DecimalField(
        max_digits=4,
        decimal_places=3,
        required=False,
        help_text="Weighted consensus below this posterior is a disagreement; 0 to 1.",
    )
    adaptive_control = serializers.BooleanField(
        required=False, help_text="Each labeler's control rate follows their interval width."
    )
    control_floor = serializers.DecimalField(
        max_digits=4,
        decimal_places=3,
        required=False,
        help_text="The lowest adaptive control rate, 0 to the control ratio.",
    )
    refit_every = serializers.IntegerField(
        required=False,
        help_text="Refit the model after this many new labels, besides hourly; 0 or more "
        "(0: hourly only).",
    )


class ProjectIn(ProjectPatchIn):
    slug = serializers.SlugField(max_length=64)
    name = serializers.CharField(max_length=200)
    answer_type = serializers.ChoiceField(choices=AnswerType.choices)
    classes = serializers.ListField(
        child=serializers.CharField(trim_whitespace=False, allow_blank=True, max_length=200),
        max_length=1_000,
    )


def project_ops_out(project: Project) -> dict[str, Any]:
    """The project as ops see it, reloaded with its relations."""
    project = (
        Project.objects.select_related("guide", "control_gold_set", "control_override_by")
        .prefetch_related("required_qualifications")
        .get(pk=project.pk)
    )
    return ProjectOpsOut(project).data


# -- status commands -------------------------------------------------------------------------------


class ProjectStatusChangeIn(StrictSerializer):
    """An optional reason for the status change; the body may be empty."""

    reason = serializers.CharField(
        allow_blank=True,
        max_length=2_000,
        required=False,
        default="",
        help_text="Why; kept in the project's status history.",
    )


class ProjectStatusChangeOut(serializers.ModelSerializer):
    """One status transition of a project: from, to, who, why, when."""

    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ProjectStatusChange
        fields = ["id", "from_status", "to_status", "actor", "reason", "at"]


class _ProjectStatusApi(APIView):
    permission_classes = OPS_ONLY
    to_status: str = ""
    from_statuses: frozenset[str] | None = None

    @extend_schema(
        request=ProjectStatusChangeIn,
        responses={
            200: ProjectOpsOut,
            409: OpenApiResponse(
                description="invalid_transition; control_tasks_differ (activation with control "
                "tasks that differ from the real ones): fields lists the differences by kind"
            ),
        },
    )
    def post(self, request, pk: int):
        project = selectors.project_get_for(actor=request.user, pk=pk)
        data = parse_input(ProjectStatusChangeIn, request.data)
        project = services.project_set_status(
            actor=request.user,
            project=project,
            status=self.to_status,
            from_statuses=self.from_statuses,
            reason=data["reason"],
        )
        return Response(project_ops_out(project))


class ProjectActivateApi(_ProjectStatusApi):
    """Draft or paused → active (makes the control tasks of the control gold set)."""

    to_status = Project.Status.ACTIVE


class ProjectPauseApi(_ProjectStatusApi):
    """Active → paused: no work is handed out; live leases may still be submitted."""

    to_status = Project.Status.PAUSED


class ProjectResumeApi(_ProjectStatusApi):
    """Paused → active (a draft is activated, not resumed)."""

    to_status = Project.Status.ACTIVE
    from_statuses = frozenset({Project.Status.PAUSED})


class ProjectFinishApi(_ProjectStatusApi):
    """Any status → done (final)."""

    to_status = Project.Status.DONE


class ProjectStatusChangeListApi(generics.ListAPIView):
    """The project's status history, newest first (ops only)."""

    permission_classes = OPS_ONLY
    serializer_class = ProjectStatusChangeOut
    queryset = ProjectStatusChange.objects.none()  # for the schema

    def get_queryset(self):
        project = selectors.project_get_for(actor=self.request.user, pk=self.kwargs["pk"])
        return selectors.project_status_changes(project=project)


# -- the control set check ---------------------------------------------------------------------


class ControlCheckStateOut(serializers.Serializer):
    control_check = ControlCheckOut(allow_null=True)
    control_override = ControlOverrideOut(allow_null=True)
    warnings = WarningOut(many=True)


def _control_state(project: Project, *, now: bool = False) -> dict[str, Any]:
    """The check as stored on the project, or (``now``) run now without storing it."""
    project = Project.objects.select_related("control_override_by").get(pk=project.pk)
    if not now:
        check = control_check_out(project)
        warnings = control_selectors.project_control_warnings(project)
    else:
        state = control_selectors.project_control_state(project=project)
        check = None
        if state.report is not None:
            check = {
                **state.report.to_dict(),
                "checked_at": _datetime.to_representation(timezone.now()),
                "overridden": state.overridden,
            }
        warnings = state.warnings
    return {
        "control_check": check,
        "control_override": control_override_out(project),
        "warnings": warnings,
    }


class ProjectControlCheckApi(APIView):
    """GET: the control set check run now (a read: not stored), the override and the
    warnings. POST: check again and store it (an override that no longer accepts every
    difference is withdrawn); the project representation shows the stored check."""

    permission_classes = OPS_ONLY

    @extend_schema(responses=ControlCheckStateOut)
    def get(self, request, pk: int):
        project = selectors.project_get_for(actor=request.user, pk=pk)
        return Response(ControlCheckStateOut(_control_state(project, now=True)).data)

    @extend_schema(request=None, responses=ControlCheckStateOut)
    def post(self, request, pk: int):
        project = selectors.project_get_for(actor=request.user, pk=pk)
        control_services.project_control_check(actor=request.user, project=project)
        return Response(ControlCheckStateOut(_control_state(project)).data)


class ControlOverrideIn(StrictSerializer):
    reason = serializers.CharField(
        max_length=2_000, help_text="Why serving these control tasks as they are is acceptable."
    )


class ProjectControlOverrideApi(APIView):
    """POST ``{"reason"}``: accept the differences the check finds now, for the current control
    gold set (409 ``nothing_to_override`` / ``no_control_set`` / ``project_done``). DELETE:
    withdraw the override."""

    permission_classes = OPS_ONLY

    @extend_schema(
        request=ControlOverrideIn,
        responses={
            200: ControlCheckStateOut,
            400: OpenApiResponse(description="invalid: fields.reason"),
            409: OpenApiResponse(description="nothing_to_override, no_control_set or project_done"),
        },
    )
    def post(self, request, pk: int):
        project = selectors.project_get_for(actor=request.user, pk=pk)
        data = parse_input(ControlOverrideIn, request.data)
        control_services.project_control_override(
            actor=request.user, project=project, reason=data["reason"]
        )
        return Response(ControlCheckStateOut(_control_state(project)).data)

    @extend_schema(
        request=None,
        responses={
            200: ControlCheckStateOut,
            409: OpenApiResponse(description="project_done"),
        },
    )
    def delete(self, request, pk: int):
        project = selectors.project_get_for(actor=request.user, pk=pk)
        control_services.project_control_override_clear(actor=request.user, project=project)
        return Response(ControlCheckStateOut(_control_state(project)).data)


class ProgressOut(serializers.Serializer):
    total = serializers.IntegerField(help_text="Real tasks (control tasks are not counted).")
    open = serializers.IntegerField(help_text="Tasks still wanting submissions.")
    leased = serializers.IntegerField(help_text="Live leases now.")
    done = serializers.IntegerField(help_text="Tasks complete or resolved.")
    review = serializers.IntegerField(help_text="Tasks in review.")


class ProjectProgressApi(APIView):
    permission_classes = OPS_ONLY

    @extend_schema(responses=ProgressOut)
    def get(self, request, pk: int):
        progress = selectors.project_progress(actor=request.user, pk=pk)
        return Response(ProgressOut(progress).data)


# -- files -----------------------------------------------------------------------------------------


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
    path("projects/<id:pk>/progress/", ProjectProgressApi.as_view(), name="project-progress"),
    path(
        "projects/<id:pk>/control-check/",
        ProjectControlCheckApi.as_view(),
        name="project-control-check",
    ),
    path(
        "projects/<id:pk>/control-check/override/",
        ProjectControlOverrideApi.as_view(),
        name="project-control-override",
    ),
    path("projects/<id:pk>/activate/", ProjectActivateApi.as_view(), name="project-activate"),
    path("projects/<id:pk>/pause/", ProjectPauseApi.as_view(), name="project-pause"),
    path("projects/<id:pk>/resume/", ProjectResumeApi.as_view(), name="project-resume"),
    path("projects/<id:pk>/finish/", ProjectFinishApi.as_view(), name="project-finish"),
    path(
        "projects/<id:pk>/status-changes/",
        ProjectStatusChangeListApi.as_view(),
        name="project-status-changes",
    ),
]
