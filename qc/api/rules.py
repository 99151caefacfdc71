"""Rule actions API v1: what the quality rules did, and reversing it.

Routes (under /api/v1/):

* ``GET rule-actions/`` — the firings the caller may see (ops: all; vendor managers: their
  labelers'; labelers: their own), newest first, cursor-paginated; filters ``labeler``,
  ``project``, ``status``, ``action``;
* ``GET rule-actions/{id}/``;
* ``POST rule-actions/{id}/reverse/`` ``{"reason"}`` — operations managers: undo the action
  (409 ``already_reversed`` / ``already_cleared`` / ``already_lifted``). A firing the caller
  cannot see is a 404; one they can see but may not reverse (a vendor manager's labeler's, a
  labeler's own) a 403.

Every firing shows the interval it was decided on: n, successes, rate, the Wilson 95% bounds and
the rule's terms, and ``as_of``: those figures count the facts recorded before that moment (the
start of the day the periodic evaluation ran). Labelers and vendor managers see only firings
with ``as_of`` at or before the start of the current day (UTC); reversals by ops show at once.
Ops also read the bookkeeping of what the action did (``details``). A sequential rule's firing
shows the same figures over the observations since its test restarted, whole days; its status
becomes ``lifted`` when an automatic-lift pause ends on a passed quiz (``cleared_at``, and the
evidence under ``details["lift"]``) — docs/quality.md, "Sequential rules".

The rules themselves (``quality-rules/``) are served by ``assignments.api.rules``, which can
check that a project exists.
"""

from __future__ import annotations

import django_filters
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.response import Response

from config.api import parse_input
from config.errors import Forbidden
from qc.models import QualityRule, RuleAction
from qc.selectors import rules as selectors
from qc.services import rules as services
from workforce.api import ReasonIn
from workforce.selectors import is_ops

# -- output -------------------------------------------------------------------------------------


class RuleActionInputsOut(serializers.Serializer):
    metric = serializers.CharField()
    n = serializers.IntegerField()
    successes = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)
    lower = serializers.FloatField()
    upper = serializers.FloatField()
    window = serializers.IntegerField()
    min_n = serializers.IntegerField()
    threshold = serializers.CharField()
    bound = serializers.CharField()
    comparison = serializers.CharField()
    value = serializers.FloatField(allow_null=True)


class RuleActionOut(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    project = serializers.IntegerField(source="project_id", read_only=True)
    inputs = serializers.SerializerMethodField()
    details = serializers.SerializerMethodField()
    reversed_by = serializers.SerializerMethodField()

    class Meta:
        model = RuleAction
        fields = [
            "id",
            "rule",
            "rule_name",
            "labeler",
            "project",
            "action",
            "status",
            "inputs",
            "details",
            "fired_at",
            "as_of",
            "cleared_at",
            "reversed_at",
            "reversed_by",
            "reverse_reason",
        ]

    @extend_schema_field(RuleActionInputsOut)
    def get_inputs(self, obj: RuleAction) -> dict:
        return selectors.public_inputs(obj.inputs)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_details(self, obj: RuleAction) -> dict | None:
        """What the action did (ops only; null for others)."""
        if not self.context.get("ops"):
            return None
        public = set(selectors.PUBLIC_INPUT_KEYS)
        return {k: v for k, v in (obj.inputs or {}).items() if k not in public}

    def get_reversed_by(self, obj: RuleAction) -> str | None:
        return obj.reversed_by.username if obj.reversed_by_id else None


# -- views --------------------------------------------------------------------------------------


class RuleActionFilter(django_filters.FilterSet):
    labeler = django_filters.NumberFilter(field_name="labeler_id")
    project = django_filters.NumberFilter(field_name="project_id")
    status = django_filters.MultipleChoiceFilter(choices=RuleAction.Status.choices)
    action = django_filters.MultipleChoiceFilter(choices=QualityRule.Action.choices)

    class Meta:
        model = RuleAction
        fields = ["labeler", "project", "status", "action"]


class _OpsContextMixin:
    def get_serializer_context(self):
        return {**super().get_serializer_context(), "ops": is_ops(self.request.user)}


class RuleActionListApi(_OpsContextMixin, generics.ListAPIView):
    serializer_class = RuleActionOut
    filterset_class = RuleActionFilter
    queryset = RuleAction.objects.none()  # for the schema; rows come from the selector

    def get_queryset(self):
        return selectors.rule_actions_for(actor=self.request.user)


class RuleActionDetailApi(_OpsContextMixin, generics.RetrieveAPIView):
    serializer_class = RuleActionOut
    queryset = RuleAction.objects.none()

    def get_object(self):
        return selectors.rule_action_get_for(actor=self.request.user, pk=self.kwargs["pk"])


class RuleActionReverseApi(_OpsContextMixin, generics.GenericAPIView):
    """POST {"reason"} → the firing, reversed (operations managers only)."""

    serializer_class = RuleActionOut
    queryset = RuleAction.objects.none()

    @extend_schema(request=ReasonIn, responses=RuleActionOut)
    def post(self, request, pk: int):
        selectors.rule_action_get_for(actor=request.user, pk=pk)  # 404 when not visible
        if not is_ops(request.user):
            raise Forbidden("Only operations managers can reverse a rule action.")
        data = parse_input(ReasonIn, request.data)
        services.rule_action_reverse(actor=request.user, action_id=pk, reason=data["reason"])
        firing = selectors.rule_action_get_for(actor=request.user, pk=pk)
        return Response(self.get_serializer(firing).data)


urlpatterns = [
    path("rule-actions/", RuleActionListApi.as_view(), name="rule-action-list"),
    path("rule-actions/<id:pk>/", RuleActionDetailApi.as_view(), name="rule-action-detail"),
    path(
        "rule-actions/<id:pk>/reverse/",
        RuleActionReverseApi.as_view(),
        name="rule-action-reverse",
    ),
]
