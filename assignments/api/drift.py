"""``GET /api/v1/projects/{id}/drift-events/`` — operations managers: the project's label drift
events (a batch whose final answers' class distribution differs from the project's baseline;
docs/operations.md, "Drift"), newest first, cursor-paginated. Read-only: ops acknowledge an
event in the admin."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers

from assignments.models import DriftEvent
from assignments.selectors import drift as selectors
from workforce.permissions import OPS_ONLY


class DriftRuleOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    threshold = serializers.DecimalField(max_digits=4, decimal_places=3)


class DriftEventOut(serializers.ModelSerializer):
    rule = serializers.SerializerMethodField()
    acknowledged_by = serializers.SerializerMethodField()

    class Meta:
        model = DriftEvent
        fields = [
            "id",
            "project",
            "batch",
            "statistic",
            "dof",
            "p_value",
            "n",
            "baseline_n",
            "observed",
            "expected",
            "rule",
            "action",
            "detected_at",
            "acknowledged_at",
            "acknowledged_by",
        ]

    @extend_schema_field(DriftRuleOut(allow_null=True))
    def get_rule(self, obj: DriftEvent) -> dict | None:
        if obj.rule is None:
            return None
        return DriftRuleOut(
            {"id": obj.rule.pk, "name": obj.rule.name, "threshold": obj.rule.threshold}
        ).data

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_acknowledged_by(self, obj: DriftEvent) -> str | None:
        return obj.acknowledged_by.get_username() if obj.acknowledged_by else None


class DriftEventListApi(generics.ListAPIView):
    """A project's drift events (operations managers only)."""

    permission_classes = OPS_ONLY
    serializer_class = DriftEventOut
    queryset = DriftEvent.objects.none()  # for the schema; rows come from the selector

    @extend_schema(
        responses={
            200: DriftEventOut(many=True),
            403: OpenApiResponse(description="permission_denied: operations managers only"),
            404: OpenApiResponse(description="not_found: no such project"),
        }
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DriftEvent.objects.none()
        return selectors.drift_event_list_for_project(project_id=self.kwargs["pk"])


urlpatterns = [
    path(
        "projects/<id:pk>/drift-events/",
        DriftEventListApi.as_view(),
        name="project-drift-events",
    ),
]
