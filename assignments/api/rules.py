"""Quality rules API v1, for operations managers only (a 403 for anyone else, 401 when not
signed in). The rules and their evaluation live in ``qc.services.rules``; these views sit in
``assignments`` because a rule names a project, and only this app can check that the project
exists (qc sits below it and stores a plain ``project_id``).

Routes (under /api/v1/):

* ``GET quality-rules/`` — filters ``project``, ``is_active``, ``action``;
* ``POST quality-rules/`` — define a rule on a project (an unknown project is a 400 on
  ``project``); without ``test``, a rule that pauses, suspends or revokes is ``sequential``,
  any other ``interval`` (``qc.services.rules.default_test``);
* ``GET, PATCH quality-rules/{id}/`` — read or change a rule (the project never changes;
  ``is_active: false`` turns it off, clearing its open warnings and lowered control rates).

The firings are under ``rule-firings/`` (``qc.api.rules``).
"""

from __future__ import annotations

import django_filters
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from assignments.models import Project
from config.api import StrictSerializer, parse_input
from qc.models import QualityRule
from qc.selectors import rules as selectors
from qc.services import rules as services
from workforce.models import QualificationType
from workforce.permissions import OPS_ONLY

BIGINT_MAX = 2**63 - 1


class QualityRuleOut(serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id", read_only=True)
    qualification_type = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    lift_quiz = serializers.PrimaryKeyRelatedField(read_only=True)
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = QualityRule
        fields = ["id", "project", *services.RULE_SETTINGS, "created_by", "created_at"]

    def get_created_by(self, obj: QualityRule) -> str | None:
        return obj.created_by.username if obj.created_by_id else None


class _RuleFieldsIn(StrictSerializer, serializers.ModelSerializer):
    """A rule's settings (``RULE_SETTINGS``): the name, the threshold and the action required
    (a PATCH takes any). The types come from the model but for the qualification type (by slug)
    and the window and minimum, bounded here; the service checks the rules between fields."""

    qualification_type = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=QualificationType.objects.all(),
        required=False,
        allow_null=True,
    )

    class Meta:
        model = QualityRule
        fields = services.RULE_SETTINGS
        extra_kwargs = {
            name: {"min_value": 1, "max_value": 1_000_000} for name in ("window", "min_n")
        }


class QualityRuleCreateIn(_RuleFieldsIn):
    project = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)

    class Meta(_RuleFieldsIn.Meta):
        fields = (*services.RULE_SETTINGS, "project")


class QualityRuleUpdateIn(_RuleFieldsIn):
    pass


class QualityRuleFilter(django_filters.FilterSet):
    project = django_filters.NumberFilter(field_name="project_id")
    is_active = django_filters.BooleanFilter()
    action = django_filters.MultipleChoiceFilter(choices=QualityRule.Action.choices)

    class Meta:
        model = QualityRule
        fields = ["project", "is_active", "action"]


def _project_exists(project_id: int) -> bool:
    return Project.objects.filter(pk=project_id).exists()


class QualityRuleListCreateApi(generics.ListAPIView):
    permission_classes = OPS_ONLY
    serializer_class = QualityRuleOut
    filterset_class = QualityRuleFilter
    queryset = QualityRule.objects.none()  # for the schema; rows come from the selector

    def get_queryset(self):
        return selectors.quality_rule_list_for(actor=self.request.user)

    @extend_schema(request=QualityRuleCreateIn, responses={201: QualityRuleOut})
    def post(self, request):
        data = parse_input(QualityRuleCreateIn, request.data)
        data.setdefault("test", services.default_test(data["action"]))
        rule = services.rule_create(
            actor=request.user,
            project_id=data.pop("project"),
            project_exists=_project_exists,
            **data,
        )
        rule = selectors.quality_rule_get_for(actor=request.user, pk=rule.pk)
        return Response(QualityRuleOut(rule).data, status=status.HTTP_201_CREATED)


class QualityRuleDetailApi(generics.RetrieveAPIView):
    permission_classes = OPS_ONLY
    serializer_class = QualityRuleOut
    queryset = QualityRule.objects.none()

    def get_object(self):
        return selectors.quality_rule_get_for(actor=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request=QualityRuleUpdateIn, responses=QualityRuleOut)
    def patch(self, request, pk: int):
        rule = selectors.quality_rule_get_for(actor=request.user, pk=pk)
        data = parse_input(QualityRuleUpdateIn, request.data, partial=True)
        services.rule_update(actor=request.user, rule=rule, data=data)
        rule = selectors.quality_rule_get_for(actor=request.user, pk=pk)
        return Response(QualityRuleOut(rule).data)


urlpatterns = [
    path("quality-rules/", QualityRuleListCreateApi.as_view(), name="quality-rule-list"),
    path("quality-rules/<id:pk>/", QualityRuleDetailApi.as_view(), name="quality-rule-detail"),
]
