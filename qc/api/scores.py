"""Scores: API v1 output shapes of labeler scores (used by the scorecard views of
``assignments.api.quality``) and the vendor comparison.

Every rate is ``{n, correct|agreeing, rate, low, high}``: its count and its Wilson 95% interval.
Nothing here carries an answer of a labeler or a gold answer — counts, rates and class names
only (docs/quality.md).
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import parse_input
from qc.selectors import quality_facts as selectors
from workforce.selectors import is_ops, managed_vendor_ids


class ScoreRateOut(serializers.Serializer):
    n = serializers.IntegerField(help_text="Observations the rate rests on.")
    correct = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True, help_text="correct / n; null when n is 0.")
    low = serializers.FloatField(help_text="Wilson 95% lower bound.")
    high = serializers.FloatField(help_text="Wilson 95% upper bound.")


class AgreementRateOut(serializers.Serializer):
    n = serializers.IntegerField(help_text="Pairs of answers (pairwise) or answers (final).")
    agreeing = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)
    low = serializers.FloatField()
    high = serializers.FloatField()


def windows_out(name: str, window: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The serializer class ``name`` of a figure taken over each of the selectors' time windows
    (``last_7_days``, ``last_30_days``, ``all_time``): one ``window`` per window."""
    fields = {key: window() for key, _days in selectors.WINDOWS}
    return type(name, (serializers.Serializer,), {"__module__": __name__, **fields})


GoldWindowsOut = windows_out("GoldWindowsOut", ScoreRateOut)
AgreementWindowsOut = windows_out("AgreementWindowsOut", AgreementRateOut)


class AgreementOut(serializers.Serializer):
    pairwise = AgreementWindowsOut(help_text="sum(peers agreeing) / sum(peers).")
    with_final = AgreementWindowsOut(help_text="Answers equal to the task's final label.")


class ClassRateOut(ScoreRateOut):
    class_name = serializers.CharField()


class ConfusionOut(serializers.Serializer):
    classes = serializers.ListField(child=serializers.CharField())
    counts = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="counts[i][j]: row class i (gold or final) answered as class j.",
    )


class EstimateOut(serializers.Serializer):
    project_id = serializers.IntegerField()
    accuracy = serializers.FloatField()
    method = serializers.CharField(help_text="one_coin or full")
    n_items = serializers.IntegerField(help_text="Labels the estimate rests on.")
    fitted_at = serializers.DateTimeField()


class WeeklyRateOut(ScoreRateOut):
    week = serializers.DateField(help_text="The Monday the week starts on.")


class ScoresOut(serializers.Serializer):
    gold_accuracy = GoldWindowsOut(help_text="From control tasks (counted checks).")
    contested_checks = serializers.IntegerField()
    quiz_accuracy = GoldWindowsOut(help_text="From the questions of ended quiz attempts.")
    per_class = ClassRateOut(many=True)
    confusion_vs_gold = ConfusionOut()
    confusion_vs_final = ConfusionOut()
    agreement = AgreementOut()
    estimates = EstimateOut(many=True)
    gold_weekly = WeeklyRateOut(many=True)


class VendorComparisonOut(serializers.Serializer):
    vendor_id = serializers.IntegerField(allow_null=True, help_text="null: internal labelers.")
    vendor_name = serializers.CharField()
    labelers_checked = serializers.IntegerField()
    labelers_decided = serializers.IntegerField()
    gold_last_30_days = ScoreRateOut()
    gold_all_time = ScoreRateOut()
    pairwise = AgreementRateOut()
    with_final = AgreementRateOut()
    estimated_labelers = serializers.IntegerField()
    mean_estimated_accuracy = serializers.FloatField(allow_null=True)


class ProjectFilterIn(serializers.Serializer):
    project = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


PROJECT_PARAMETER = OpenApiParameter(
    "project", OpenApiTypes.INT, description="Only this project's facts."
)


def project_filter(request) -> int | None:
    """``?project=`` as an int, or None; a 400 naming the field when it is not one."""
    return parse_input(ProjectFilterIn, request.query_params).get("project")


class VendorComparisonApi(APIView):
    """GET: quality per vendor — ops see every vendor and the internal labelers; a vendor
    manager sees their vendors only; anyone else gets an empty list. ``?project=`` names a
    project the caller may see, else 404 (as on the scorecards).

    Projects live in ``assignments``, which qc may not import: the route is served by
    ``assignments.api.quality``, whose subclass supplies ``project_id`` (checking that the
    caller sees the project)."""

    def project_id(self, request) -> int | None:
        raise NotImplementedError("served by assignments.api.quality.VendorComparisonApi")

    @extend_schema(
        parameters=[PROJECT_PARAMETER],
        responses={
            200: VendorComparisonOut(many=True),
            404: OpenApiResponse(description="not_found: no such project for the caller"),
        },
    )
    def get(self, request):
        project_id = self.project_id(request)
        before = None
        if is_ops(request.user):
            vendor_ids = None
        else:
            vendor_ids = managed_vendor_ids(request.user)
            if not vendor_ids:
                return Response([])
            # A manager's figures stop at the start of the day, like their labelers' cards.
            before = selectors.start_of_day(timezone.now())
        rows = selectors.vendor_comparison(
            vendor_ids=vendor_ids, project_id=project_id, before=before
        )
        return Response(VendorComparisonOut(rows, many=True).data)


# vendor-comparison/ is routed by assignments.api.quality (see VendorComparisonApi).
urlpatterns: list = []
