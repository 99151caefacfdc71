"""Rule firings API v1: what the quality rules did (each firing of a rule on a labeler), and
reversing it.

Routes (under /api/v1/):

* ``GET rule-firings/`` — the firings the caller may see (ops: all; vendor managers: their
  labelers'; labelers: their own), newest first, cursor-paginated; filters ``labeler``,
  ``project``, ``status``, ``action``;
* ``GET rule-firings/{id}/``;
* ``POST rule-firings/{id}/reverse/`` ``{"reason"}`` — operations managers: undo the action
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

``rule-actions/`` (and its ``{id}/``, ``{id}/reverse/``) is the routes' earlier name, kept as an
alias for one release: the same views and answers, marked deprecated in the schema, with a
``Deprecation: true`` header and a ``Link`` to the ``rule-firings/`` route.

The rules themselves (``quality-rules/``) are served by ``assignments.api.rules``, which can
check that a project exists.
"""

from __future__ import annotations

import django_filters
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.response import Response

from config.api import parse_input
from config.errors import Forbidden
from qc.models import QualityRule, RuleFiring
from qc.selectors import rules as selectors
from qc.services import rules as services
from workforce.api import ReasonIn
from workforce.selectors import is_ops

# -- output -------------------------------------------------------------------------------------


class RuleFiringInputsOut(serializers.Serializer):
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


class RuleFiringOut(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    project = serializers.IntegerField(source="project_id", read_only=True)
    inputs = serializers.SerializerMethodField()
    details = serializers.SerializerMethodField()
    reversed_by = serializers.SerializerMethodField()

    class Meta:
        model = RuleFiring
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

    @extend_schema_field(RuleFiringInputsOut)
    def get_inputs(self, obj: RuleFiring) -> dict:
        return selectors.public_inputs(obj.inputs)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_details(self, obj: RuleFiring) -> dict | None:
        """What the action did (ops only; null for others)."""
        if not self.context.get("ops"):
            return None
        public = set(selectors.PUBLIC_INPUT_KEYS)
        return {k: v for k, v in (obj.inputs or {}).items() if k not in public}

    def get_reversed_by(self, obj: RuleFiring) -> str | None:
        return obj.reversed_by.username if obj.reversed_by_id else None


# -- views --------------------------------------------------------------------------------------


class RuleFiringFilter(django_filters.FilterSet):
    labeler = django_filters.NumberFilter(field_name="labeler_id")
    project = django_filters.NumberFilter(field_name="project_id")
    status = django_filters.MultipleChoiceFilter(choices=RuleFiring.Status.choices)
    action = django_filters.MultipleChoiceFilter(choices=QualityRule.Action.choices)

    class Meta:
        model = RuleFiring
        fields = ["labeler", "project", "status", "action"]


class _OpsContextMixin:
    def get_serializer_context(self):
        return {**super().get_serializer_context(), "ops": is_ops(self.request.user)}


class RuleFiringListApi(_OpsContextMixin, generics.ListAPIView):
    serializer_class = RuleFiringOut
    filterset_class = RuleFiringFilter
    queryset = RuleFiring.objects.none()  # for the schema; rows come from the selector

    def get_queryset(self):
        return selectors.rule_firings_for(actor=self.request.user)


class RuleFiringDetailApi(_OpsContextMixin, generics.RetrieveAPIView):
    serializer_class = RuleFiringOut
    queryset = RuleFiring.objects.none()

    def get_object(self):
        return selectors.rule_firing_get_for(actor=self.request.user, pk=self.kwargs["pk"])


class RuleFiringReverseApi(_OpsContextMixin, generics.GenericAPIView):
    """POST {"reason"} → the firing, reversed (operations managers only)."""

    serializer_class = RuleFiringOut
    queryset = RuleFiring.objects.none()

    @extend_schema(request=ReasonIn, responses=RuleFiringOut)
    def post(self, request, pk: int):
        selectors.rule_firing_get_for(actor=request.user, pk=pk)  # 404 when not visible
        if not is_ops(request.user):
            raise Forbidden("Only operations managers can reverse a rule firing.")
        data = parse_input(ReasonIn, request.data)
        services.rule_firing_reverse(actor=request.user, firing_id=pk, reason=data["reason"])
        firing = selectors.rule_firing_get_for(actor=request.user, pk=pk)
        return Response(self.get_serializer(firing).data)


class _DeprecatedAliasMixin:
    """Answers as the view it extends, plus the headers that tell a client to move to the
    ``rule-firings/`` route (RFC 9745 ``Deprecation``, RFC 8288 ``successor-version``)."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Deprecation"] = "true"
        successor = request.path.replace(f"/{ALIAS_PREFIX}", f"/{PREFIX}", 1)
        response["Link"] = f'<{successor}>; rel="successor-version"'
        return response


def _alias(view_class: type) -> type:
    """``view_class`` under the old route: same behaviour, deprecated in the schema."""
    alias = type(f"{view_class.__name__}Alias", (_DeprecatedAliasMixin, view_class), {})
    methods = [m for m in ("get", "post") if hasattr(view_class, m)]
    return extend_schema_view(
        **{
            m: extend_schema(deprecated=True, description=f"Deprecated: use {PREFIX}.")
            for m in methods
        }
    )(alias)


PREFIX = "rule-firings/"
ALIAS_PREFIX = "rule-actions/"  # the earlier name; removed in the release after this one


def _routes(prefix: str, name: str, wrap=lambda view: view) -> list:
    return [
        path(prefix, wrap(RuleFiringListApi).as_view(), name=f"{name}-list"),
        path(f"{prefix}<id:pk>/", wrap(RuleFiringDetailApi).as_view(), name=f"{name}-detail"),
        path(
            f"{prefix}<id:pk>/reverse/",
            wrap(RuleFiringReverseApi).as_view(),
            name=f"{name}-reverse",
        ),
    ]


urlpatterns = [*_routes(PREFIX, "rule-firing"), *_routes(ALIAS_PREFIX, "rule-action", _alias)]
