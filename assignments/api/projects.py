"""Projects API v1: the projects a caller may see, and for operations managers creating and
changing them, their status workflow, their control set check and their progress. Every route
but the list and the detail is ops only: 403 for anyone else (401 when not signed in), checked
before the project is looked up.

Routes (under /api/v1/):

* ``GET projects/`` and ``GET projects/{id}/`` — ops get ``ProjectOpsOut`` (every setting),
  labelers and vendor managers ``ProjectOut``; ``POST projects/`` creates a project in draft and
  ``PATCH projects/{id}/`` changes its settings (ops only);
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
"""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from assignments import selectors, services
from assignments.models import PROJECT_SETTINGS, Project, ProjectStatusChange
from assignments.selectors import control_set as control_selectors
from assignments.services import control_set as control_services
from config.api import StrictSerializer, parse_input
from config.errors import NotFound
from qc.control_sets import SHAPES_DIFFER, SHOWS_ANSWERS
from qc.models import GoldSet, Guide
from workforce.permissions import OPS_ONLY, require_ops
from workforce.selectors import is_ops

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
    allowed_vendors = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    required_skills = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
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
            "status",
            *PROJECT_SETTINGS,
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


#: Numbers the service bounds (its messages name the project's limits), not the column types.
_SERVICE_BOUNDED = ("overlap", "max_overlap", "lease_seconds", "priority", "refit_every")


class ProjectPatchIn(StrictSerializer, serializers.ModelSerializer):
    """Every setting (``PROJECT_SETTINGS``) optional; the service checks the rules, between
    fields too. The types come from the model but for the relations (by slug; the guide by id
    or slug) and the class list, whose labels the service checks."""

    objective = serializers.CharField(allow_blank=True, max_length=20_000, required=False)
    # Not trimmed: the service rejects labels with surrounding spaces rather than changing them.
    classes = serializers.ListField(
        child=serializers.CharField(trim_whitespace=False, allow_blank=True, max_length=200),
        max_length=1_000,
        required=False,
    )
    control_gold_set = serializers.SlugRelatedField(
        slug_field="slug", queryset=GoldSet.objects.all(), allow_null=True, required=False
    )
    required_qualifications = serializers.ListField(
        child=serializers.SlugField(max_length=64), max_length=100, required=False
    )
    guide = GuideRefField(
        queryset=Guide.objects.all(),
        allow_null=True,
        required=False,
        help_text="The guide's id (its slug is still accepted).",
    )
    # Who may work on the project (docs/next-task.md, "Who may work on a project"): the service
    # checks that the slugs exist, the codes are BCP 47 and the time zone is an IANA name.
    allowed_vendors = serializers.ListField(
        child=serializers.SlugField(max_length=64),
        max_length=100,
        required=False,
        help_text="Vendor slugs. If any, only these vendors' labelers (and internal staff) "
        "may work on the project.",
    )
    required_skills = serializers.ListField(
        child=serializers.SlugField(max_length=64),
        max_length=100,
        required=False,
        help_text="Skill slugs: a labeler must have every one.",
    )
    required_languages = serializers.ListField(
        child=serializers.CharField(max_length=35),
        max_length=50,
        required=False,
        help_text='BCP 47 codes a labeler must speak, each (e.g. ["pt"]): "pt" is met by '
        '"pt-BR", not the reverse; case is ignored.',
    )
    timezone = serializers.CharField(
        max_length=64,
        required=False,
        help_text="IANA time zone of the project's days and weeks, e.g. Europe/Lisbon.",
    )

    class Meta:
        model = Project
        fields = PROJECT_SETTINGS
        extra_kwargs = {
            **{name: {"required": False} for name in PROJECT_SETTINGS},
            **{
                name: {"required": False, "min_value": None, "max_value": None}
                for name in _SERVICE_BOUNDED
            },
            "drift_alpha": {
                "required": False,
                "help_text": "Chi-square p-value below which a batch's label distribution "
                "counts as drifted; 0 turns drift checks off. Below 1, at most four decimals.",
            },
            "lease_seconds": {
                "required": False,
                "min_value": None,
                "max_value": None,
                "help_text": "≥ 30.",
            },
        }


class ProjectIn(ProjectPatchIn):
    """A new project: the slug, the name, the answer type and the classes are required."""

    slug = serializers.SlugField(max_length=64)

    class Meta(ProjectPatchIn.Meta):
        fields = ("slug", *PROJECT_SETTINGS)

    def get_fields(self):
        fields = super().get_fields()
        for name in ("name", "answer_type", "classes"):
            fields[name].required = True
        return fields


# The relations ``ProjectOpsOut`` lists, loaded once per page.
OPS_PREFETCH = ("required_qualifications", "allowed_vendors", "required_skills")


def project_ops_out(project: Project) -> dict[str, Any]:
    """The project as ops see it, reloaded with its relations."""
    project = (
        Project.objects.select_related("guide", "control_gold_set", "control_override_by")
        .prefetch_related(*OPS_PREFETCH)
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


class ProjectOut(serializers.ModelSerializer):
    required_qualifications = serializers.SlugRelatedField(
        slug_field="slug", many=True, read_only=True
    )
    guide = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Project
        fields = [
            "id",
            "slug",
            "name",
            "objective",
            "status",
            "answer_type",
            "classes",
            "overlap",
            "lease_seconds",
            "required_qualifications",
            "guide",
            "priority",
        ]


@extend_schema_serializer(deprecate_fields=["assignment", "lease_expires_at"])
class _ProjectByRoleMixin:
    """One representation per role: operations managers get ``ProjectOpsOut`` (every setting)
    in every reply — list, detail, create, update; labelers and vendor managers get
    ``ProjectOut``. Both render ``guide`` as an id."""

    def get_serializer_class(self):
        if getattr(self, "swagger_fake_view", False):
            return ProjectOut
        return ProjectOpsOut if is_ops(self.request.user) else ProjectOut

    def get_queryset(self):
        qs = selectors.project_list_for(actor=self.request.user)
        if is_ops(self.request.user):
            qs = qs.select_related("control_gold_set").prefetch_related(*OPS_PREFETCH)
        return qs


def _project_by_role(*, many: bool = False) -> PolymorphicProxySerializer:
    return PolymorphicProxySerializer(
        component_name="ProjectByRole",
        serializers=[ProjectOpsOut, ProjectOut],
        resource_type_field_name=None,
        many=many,
    )


class ProjectListApi(_ProjectByRoleMixin, generics.ListAPIView):
    """GET: the projects the caller may see (ops: ``ProjectOpsOut``; others: ``ProjectOut``).
    POST: create a project, in draft (ops only)."""

    @extend_schema(responses=_project_by_role(many=True))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=ProjectIn, responses={201: ProjectOpsOut})
    def post(self, request):
        require_ops(request)
        data = parse_input(ProjectIn, request.data)
        project = services.project_create(actor=request.user, **data)
        return Response(project_ops_out(project), status=status.HTTP_201_CREATED)


class ProjectDetailApi(_ProjectByRoleMixin, generics.RetrieveAPIView):
    """GET: one project (ops: ``ProjectOpsOut``; others: ``ProjectOut``). PATCH: change its
    fields (ops only; the status changes through POST
    projects/{id}/activate|pause|resume|finish/)."""

    def get_object(self):
        try:
            return self.get_queryset().get(pk=self.kwargs["pk"])
        except Project.DoesNotExist:
            raise NotFound() from None

    @extend_schema(responses=_project_by_role())
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=ProjectPatchIn, responses=ProjectOpsOut)
    def patch(self, request, pk: int):
        require_ops(request)
        project = selectors.project_get_for(actor=request.user, pk=pk)
        data = parse_input(ProjectPatchIn, request.data, partial=True)
        project = services.project_update(actor=request.user, project=project, data=data)
        return Response(project_ops_out(project))


urlpatterns = [
    path("projects/", ProjectListApi.as_view(), name="project-list"),
    path("projects/<id:pk>/", ProjectDetailApi.as_view(), name="project-detail"),
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
