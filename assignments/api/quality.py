"""Quality: API v1 — a labeler's scorecard (qc's scores plus throughput from the work records)
and a project's quality page.

Who sees what (docs/quality.md):

* ``GET /labelers/{id}/scorecard/`` — ops: any labeler, up to now; a vendor manager: their
  vendors' labelers, and a labeler: their own card only, both as of the start of the day (the
  view of ``/me/scorecard/``); any other labeler is a 404.
* ``GET /me/scorecard/`` — the calling labeler's own card (403 ``not_a_labeler`` for others).
  The own view leaves out gold checks and outcomes of the current day (``as_of``).
* ``GET /projects/{id}/quality/`` — ops: everything; a vendor manager: the whole project's
  aggregates, but only their own labelers in the per-labeler table, and other labelers shown
  as null in the pairs; labelers: 403 (they see the project, not its quality page).
* ``GET /vendor-comparison/`` — qc's vendor comparison, routed here so that ``?project=`` is
  checked like the scorecards' (qc may not import projects), with each vendor's active time
  (labeling, reviewing, quizzes; ``assignments.selectors.active_time``).

All take ``?project=`` (the scorecards) to narrow to one project the caller may see (404
otherwise).
"""

from __future__ import annotations

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from assignments.selectors import project_get_for
from assignments.selectors import quality_pages as selectors
from assignments.selectors.active_time import active_time_row, vendor_active_time
from config.api import labeler_of
from config.errors import Forbidden
from qc.api import scores as scores_api
from qc.api.scores import (
    PROJECT_PARAMETER,
    AgreementRateOut,
    ScoreRateOut,
    ScoresOut,
    project_filter,
    windows_out,
)
from qc.selectors import quality_facts
from workforce.selectors import is_ops, labeler_get_for, managed_vendor_ids

# -- output ------------------------------------------------------------------------------------


class ThroughputWindowOut(serializers.Serializer):
    submissions = serializers.IntegerField()
    per_day = serializers.FloatField()
    active_seconds = serializers.IntegerField()


ThroughputWindowsOut = windows_out("ThroughputWindowsOut", ThroughputWindowOut)


class DailyOut(serializers.Serializer):
    day = serializers.DateField()
    submissions = serializers.IntegerField()
    active_seconds = serializers.IntegerField()


class ThroughputOut(serializers.Serializer):
    windows = ThroughputWindowsOut()
    timed_submissions = serializers.IntegerField()
    median_seconds_per_label = serializers.FloatField(allow_null=True)
    daily = DailyOut(many=True)


class ScorecardLabelerOut(serializers.Serializer):
    id = serializers.IntegerField()
    public_code = serializers.CharField()


class ScorecardOut(serializers.Serializer):
    labeler = ScorecardLabelerOut()
    project = serializers.IntegerField(allow_null=True)
    as_of = serializers.DateTimeField(help_text="Facts recorded before this time are counted.")
    scores = ScoresOut()
    throughput = ThroughputOut()


class HistogramBinOut(serializers.Serializer):
    low = serializers.FloatField()
    high = serializers.FloatField()
    tasks = serializers.IntegerField()


class HistogramOut(serializers.Serializer):
    bins = HistogramBinOut(many=True)
    missing = serializers.IntegerField(help_text="Tasks without a value.")


class DecisionsOut(serializers.Serializer):
    consensus = serializers.IntegerField()
    model = serializers.IntegerField(help_text="Re-decided by a refit of the model.")
    review = serializers.IntegerField()
    undecided = serializers.IntegerField()


class PairOut(serializers.Serializer):
    labeler_a = serializers.IntegerField(allow_null=True, help_text="null: not your labeler.")
    labeler_b = serializers.IntegerField(allow_null=True)
    n = serializers.IntegerField(help_text="Tasks the two share.")
    cohen_kappa = serializers.FloatField(allow_null=True)
    box_f1 = serializers.FloatField(allow_null=True)


class CoefficientsOut(serializers.Serializer):
    tasks = serializers.IntegerField()
    fleiss_kappa = serializers.FloatField(allow_null=True)
    fleiss_tasks = serializers.IntegerField()
    krippendorff_alpha = serializers.FloatField(allow_null=True)
    note = serializers.CharField()


class BatchLabelOut(serializers.Serializer):
    class_name = serializers.CharField()
    tasks = serializers.IntegerField()


class BatchDriftOut(serializers.Serializer):
    batch = serializers.IntegerField()
    tasks = serializers.IntegerField()
    labels = BatchLabelOut(many=True)
    chi_square = serializers.FloatField(allow_null=True)
    dof = serializers.IntegerField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    drift = serializers.BooleanField()


class DriftOut(serializers.Serializer):
    batches = BatchDriftOut(many=True)
    note = serializers.CharField()


class LabelerEstimateBriefOut(serializers.Serializer):
    accuracy = serializers.FloatField()
    method = serializers.CharField()
    n_items = serializers.IntegerField()


class ProjectLabelerOut(serializers.Serializer):
    labeler = serializers.IntegerField()
    public_code = serializers.CharField()
    gold_last_30_days = ScoreRateOut()
    gold_all_time = ScoreRateOut()
    pairwise = AgreementRateOut()
    with_final = AgreementRateOut()
    estimate = LabelerEstimateBriefOut(allow_null=True)


class ProjectQualityOut(serializers.Serializer):
    project = serializers.IntegerField()
    consensus_method = serializers.CharField()
    confidence_threshold = serializers.FloatField()
    decisions = DecisionsOut()
    agreement = HistogramOut()
    confidence = HistogramOut()
    pairs = PairOut(many=True)
    coefficients = CoefficientsOut()
    drift = DriftOut()
    labelers = ProjectLabelerOut(many=True)
    computed_at = serializers.DateTimeField()


# -- views -------------------------------------------------------------------------------------


def _project_id(request) -> int | None:
    project_id = project_filter(request)
    if project_id is not None:
        project_get_for(actor=request.user, pk=project_id)  # 404 unless the caller sees it
    return project_id


class ActiveTimeOut(serializers.Serializer):
    labeling_hours = serializers.FloatField()
    review_hours = serializers.FloatField()
    quiz_hours = serializers.FloatField(help_text="Over all quizzes, whatever ?project= says.")
    timed_labels = serializers.IntegerField(help_text="Submissions with an active time.")
    seconds_per_label = serializers.FloatField(allow_null=True)


class VendorComparisonWithTimeOut(scores_api.VendorComparisonOut):
    active_time = ActiveTimeOut()


class VendorComparisonApi(scores_api.VendorComparisonApi):
    """qc's vendor comparison, with ``?project=`` checked like the scorecards' (404), and each
    listed vendor's active time (``assignments.selectors.active_time``), scoped as qc's rows
    are: a vendor manager's figures stop at the start of the day."""

    def project_id(self, request) -> int | None:
        self.checked_project_id = _project_id(request)
        return self.checked_project_id

    @extend_schema(
        parameters=[PROJECT_PARAMETER],
        responses={
            200: VendorComparisonWithTimeOut(many=True),
            404: OpenApiResponse(description="not_found: no such project for the caller"),
        },
    )
    def get(self, request):
        response = super().get(request)
        ops = is_ops(request.user)
        vendor_ids = None if ops else managed_vendor_ids(request.user)
        if vendor_ids is not None and not vendor_ids:
            return response  # qc's empty list: not a vendor's manager
        times = vendor_active_time(
            vendor_ids=vendor_ids,
            project_id=self.checked_project_id,
            before=None if ops else quality_facts.start_of_day(timezone.now()),
        )
        rows = list(response.data)
        listed = {row["vendor_id"] for row in rows}
        # A vendor with timed work but no quality fact yet (labels not decided) is listed too.
        padding = quality_facts.vendor_comparison_empty_rows(v for v in times if v not in listed)
        if padding:
            rows += scores_api.VendorComparisonOut(padding, many=True).data
            rows.sort(key=lambda row: (row["vendor_id"] is None, row["vendor_name"]))
        for row in rows:
            row["active_time"] = ActiveTimeOut(
                times.get(row["vendor_id"]) or active_time_row()
            ).data
        response.data = rows
        return response


class LabelerScorecardApi(APIView):
    """GET: a labeler's scorecard (ops: any; vendor managers: their labelers; a labeler: their
    own, as ``/me/scorecard/`` shows it)."""

    @extend_schema(parameters=[PROJECT_PARAMETER], responses=ScorecardOut)
    def get(self, request, pk: int):
        labeler = labeler_get_for(actor=request.user, pk=pk)
        # Only ops see today's facts; a vendor manager sees the card as their labeler does, or
        # could pass on which of today's answers were control and how they were graded.
        card = selectors.labeler_scorecard(
            labeler=labeler, project_id=_project_id(request), own_view=not is_ops(request.user)
        )
        return Response(ScorecardOut(card).data)


class MeScorecardApi(APIView):
    """GET: the calling labeler's own scorecard."""

    @extend_schema(parameters=[PROJECT_PARAMETER], responses=ScorecardOut)
    def get(self, request):
        labeler = labeler_of(request)
        card = selectors.labeler_scorecard(
            labeler=labeler, project_id=_project_id(request), own_view=True
        )
        return Response(ScorecardOut(card).data)


class ProjectQualityApi(APIView):
    """GET: a project's quality page (ops; vendor managers without other vendors' labelers)."""

    @extend_schema(responses=ProjectQualityOut)
    def get(self, request, pk: int):
        project = project_get_for(actor=request.user, pk=pk)
        if is_ops(request.user):
            vendor_ids = None
        else:
            vendor_ids = managed_vendor_ids(request.user)
            if not vendor_ids:
                raise Forbidden("Only operations and vendor managers see a project's quality.")
        data = selectors.project_quality(project=project, vendor_ids=vendor_ids)
        return Response(ProjectQualityOut(data).data)


urlpatterns = [
    path("labelers/<id:pk>/scorecard/", LabelerScorecardApi.as_view(), name="labeler-scorecard"),
    path("me/scorecard/", MeScorecardApi.as_view(), name="me-scorecard"),
    path("projects/<id:pk>/quality/", ProjectQualityApi.as_view(), name="project-quality"),
    path("vendor-comparison/", VendorComparisonApi.as_view(), name="vendor-comparison"),
]
