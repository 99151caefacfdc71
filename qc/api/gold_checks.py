"""Gold checks and gold health, API v1.

Routes (under /api/v1/):

* ``GET me/gold-checks/`` — labelers: their own checks (each written when they submitted a
  control answer, so their answer is locked): the verdict, their answer, the gold item's
  accepted answers, explanation and image, the check time, whether it counts, the contest
  state. Cursor-paginated, newest first. Filters: ``project``, ``contest``. 403
  ``not_a_labeler`` for anyone without a labeler profile.
* ``POST me/gold-checks/{id}/contest/`` ``{"note"}`` — contest the verdict of one's own check,
  once: 200 with the check; 404 for anyone else's; 409 ``already_contested``.
* ``GET gold-checks/`` (``?labeler=``, ``project``, ``contest``) — ops: every check, with the
  gold answers; vendor managers: their labelers' checks recorded before the start of the
  current day (UTC, as the labelers' own list), *without* the gold answers or explanation (a
  manager could pass them on to labelers who have not met the item yet); anyone else 403.
* ``GET gold-sets/{id}/health/`` (``?flagged=true``) — ops: per item, checks and misses (with
  the Wilson interval of accuracy on the item), strong labelers' checks and misses, the
  expected miss rate, the binomial tail p-value, open contests, and the flags.
"""

from __future__ import annotations

import django_filters
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import StrictSerializer, labeler_of, parse_input
from qc.models import GoldCheck
from qc.selectors import gold as gold_selectors
from qc.selectors import gold_health as selectors
from qc.services import gold_health as services
from workforce.permissions import OPS_ONLY, OPS_OR_VENDOR_MANAGER
from workforce.selectors import is_ops

# -- output -------------------------------------------------------------------------------------


# What every reader of a check sees, listed around each reader's own fields: where the check
# was and how the answer was graded, and the labeler's contest.
_CHECK = ["assignment", "project", "checked_at", "answer", "verdict", "counted"]
_CONTEST = ["contest", "contest_note", "contested_at"]


class _CheckBase(serializers.ModelSerializer):
    assignment = serializers.IntegerField(source="assignment_id")
    project = serializers.IntegerField(source="project_id")
    verdict = serializers.SerializerMethodField()

    def get_verdict(self, obj: GoldCheck) -> str:
        return "correct" if obj.correct else "incorrect"


class MyGoldCheckOut(_CheckBase):
    """A labeler's own check. ``accepted_answers``, ``explanation`` and ``payload`` are the
    gold item's; the labeler's answer was locked when they submitted."""

    payload = serializers.JSONField(source="gold_item.payload")
    accepted_answers = serializers.JSONField(source="gold_item.accepted_answers")
    explanation = serializers.CharField(source="gold_item.explanation")

    class Meta:
        model = GoldCheck
        fields = ["id", *_CHECK, "payload", "accepted_answers", "explanation", *_CONTEST]


class GoldCheckOut(_CheckBase):
    """A check as a vendor manager sees it: no gold answers."""

    labeler = serializers.IntegerField(source="labeler_id")
    labeler_code = serializers.CharField(source="labeler.public_code")

    class Meta:
        model = GoldCheck
        fields = ["id", "labeler", "labeler_code", *_CHECK, *_CONTEST]


class GoldCheckOpsOut(GoldCheckOut):
    gold_item = serializers.IntegerField(source="gold_item_id")
    accepted_answers = serializers.JSONField(source="gold_item.accepted_answers")

    class Meta(GoldCheckOut.Meta):
        fields = [*GoldCheckOut.Meta.fields, "gold_item", "accepted_answers"]


class IntervalOut(serializers.Serializer):
    rate = serializers.FloatField(allow_null=True)
    low = serializers.FloatField()
    high = serializers.FloatField()
    n = serializers.IntegerField()


class GoldItemHealthOut(serializers.Serializer):
    item = serializers.IntegerField(source="item_id")
    external_id = serializers.CharField()
    status = serializers.CharField()
    checks = serializers.IntegerField()
    misses = serializers.IntegerField()
    accuracy = IntervalOut()
    strong_checks = serializers.IntegerField()
    strong_misses = serializers.IntegerField()
    expected_miss_rate = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    contests_open = serializers.IntegerField()
    flagged = serializers.BooleanField()
    flags = serializers.ListField(child=serializers.CharField())


# -- input --------------------------------------------------------------------------------------


class ContestIn(StrictSerializer):
    note = serializers.CharField(max_length=services.MAX_CONTEST_NOTE_CHARS)


class HealthQuery(serializers.Serializer):
    flagged = serializers.BooleanField(required=False, default=False)


class GoldCheckFilter(django_filters.FilterSet):
    labeler = django_filters.NumberFilter(field_name="labeler_id")
    project = django_filters.NumberFilter(field_name="project_id")
    contest = django_filters.ChoiceFilter(
        choices=[(v, v) for v in GoldCheck.Contest.values if v], field_name="contest"
    )

    class Meta:
        model = GoldCheck
        fields = ["labeler", "project", "contest"]


class MyGoldCheckFilter(GoldCheckFilter):
    class Meta:
        model = GoldCheck
        fields = ["project", "contest"]


# -- views --------------------------------------------------------------------------------------


class MyGoldCheckListApi(generics.ListAPIView):
    permission_classes = (IsAuthenticated,)
    serializer_class = MyGoldCheckOut
    filterset_class = MyGoldCheckFilter
    queryset = GoldCheck.objects.none()  # for the schema

    def get_queryset(self):
        labeler = labeler_of(self.request)
        return selectors.gold_check_list_for_labeler(labeler=labeler)


class MyGoldCheckContestApi(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(request=ContestIn, responses={200: MyGoldCheckOut})
    def post(self, request, pk: int):
        labeler = labeler_of(request)
        # Someone else's check is a 404 whatever the body says.
        selectors.gold_check_get_for_labeler(labeler=labeler, pk=pk)
        data = parse_input(ContestIn, request.data)
        check = services.gold_check_contest(labeler=labeler, check_id=pk, note=data["note"])
        return Response(MyGoldCheckOut(check).data)


class GoldCheckListApi(generics.ListAPIView):
    permission_classes = OPS_OR_VENDOR_MANAGER
    filterset_class = GoldCheckFilter
    queryset = GoldCheck.objects.none()  # for the schema

    def get_serializer_class(self):
        if getattr(self, "swagger_fake_view", False) or is_ops(self.request.user):
            return GoldCheckOpsOut
        return GoldCheckOut

    def get_queryset(self):
        return selectors.gold_check_list_for(actor=self.request.user)


class GoldSetHealthApi(APIView):
    permission_classes = OPS_ONLY

    @extend_schema(
        parameters=[OpenApiParameter("flagged", bool)],
        responses={200: GoldItemHealthOut(many=True)},
    )
    def get(self, request, pk: int):
        gold_set = gold_selectors.gold_set_get_for(actor=request.user, pk=pk)
        query = parse_input(HealthQuery, request.query_params)
        rows = selectors.gold_health_for_set(gold_set=gold_set, flagged_only=query["flagged"])
        return Response(GoldItemHealthOut(rows, many=True).data)


urlpatterns = [
    path("me/gold-checks/", MyGoldCheckListApi.as_view(), name="my-gold-check-list"),
    path(
        "me/gold-checks/<id:pk>/contest/",
        MyGoldCheckContestApi.as_view(),
        name="my-gold-check-contest",
    ),
    path("gold-checks/", GoldCheckListApi.as_view(), name="gold-check-list"),
    path("gold-sets/<id:pk>/health/", GoldSetHealthApi.as_view(), name="gold-set-health"),
]
