"""Guides API v1: labelers read the current version of a guide and acknowledge it; operations
and vendor managers see who has acknowledged what.

Routes (under /api/v1/):

* ``GET guides/`` — guides the caller may read (labelers: those with a published version, with
  whether they must acknowledge it and what changed since they last did; ops: all, with draft
  counts);
* ``GET guides/{id}/`` — the current published version (``?version=<id>``: another published
  version; ops may also name a draft — for anyone else a draft is a 404);
* ``POST guides/{id}/acknowledge/`` — labelers only (403 for callers without a labeler
  profile); idempotent;
* ``GET guides/{id}/acknowledgements/`` — who acknowledged which version (ops: everyone;
  vendor managers: their labelers; labelers: 403);
* ``GET guides/{id}/acknowledgements/missing/`` — who has not acknowledged the current major
  version (same scoping).
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import StrictSerializer, labeler_of, parse_input
from qc.models import Guide, GuideAcknowledgement, GuideVersion
from qc.selectors import guides as selectors
from qc.services import guides as services
from workforce.models import Labeler
from workforce.permissions import LABELERS_ONLY, OPS_OR_VENDOR_MANAGER
from workforce.selectors import is_ops

# -- output -------------------------------------------------------------------------------------


class VersionSummaryOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    change_summary = serializers.CharField()
    published_at = serializers.DateTimeField()


class VersionOut(serializers.ModelSerializer):
    class Meta:
        model = GuideVersion
        fields = [
            "id",
            "number",
            "status",
            "bump",
            "body",
            "label_definitions",
            "change_summary",
            "published_at",
        ]


class VersionIndexOut(serializers.ModelSerializer):
    class Meta:
        model = GuideVersion
        fields = ["id", "number", "status", "bump", "created_at", "published_at"]


class GuideOut(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    project_family = serializers.CharField()
    description = serializers.CharField()
    current_version = VersionSummaryOut(allow_null=True)
    must_acknowledge = serializers.BooleanField(
        allow_null=True, help_text="Null when the caller is not a labeler."
    )
    acknowledged_version = serializers.CharField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    changes_since_ack = VersionSummaryOut(
        many=True, help_text="Versions published since the caller last acknowledged, newest first."
    )
    draft_count = serializers.IntegerField(required=False, help_text="Operations only.")


class GuideDetailOut(GuideOut):
    version = VersionOut(allow_null=True, help_text="The version shown (current by default).")
    versions = VersionIndexOut(many=True, required=False, help_text="Operations only.")


class AckOut(serializers.ModelSerializer):
    guide = serializers.IntegerField(source="version.guide_id")
    version = serializers.IntegerField(source="version_id")
    version_number = serializers.CharField(source="version.number")
    labeler = serializers.IntegerField(source="labeler_id")

    class Meta:
        model = GuideAcknowledgement
        fields = ["id", "guide", "version", "version_number", "labeler", "acknowledged_at"]


class AckListOut(serializers.ModelSerializer):
    labeler = serializers.IntegerField(source="labeler_id")
    public_code = serializers.CharField(source="labeler.public_code")
    username = serializers.CharField(source="labeler.user.username")
    vendor = serializers.SlugRelatedField(
        source="labeler.vendor", slug_field="slug", read_only=True
    )
    version = serializers.IntegerField(source="version_id")
    version_number = serializers.CharField(source="version.number")

    class Meta:
        model = GuideAcknowledgement
        fields = [
            "id",
            "labeler",
            "public_code",
            "username",
            "vendor",
            "version",
            "version_number",
            "acknowledged_at",
        ]


class MissingAckOut(serializers.ModelSerializer):
    labeler = serializers.IntegerField(source="pk")
    username = serializers.CharField(source="user.username")
    vendor = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Labeler
        fields = ["labeler", "public_code", "username", "kind", "vendor", "status"]


# -- input --------------------------------------------------------------------------------------


class VersionQuery(serializers.Serializer):
    version = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


class AcknowledgeIn(StrictSerializer):
    """No fields: the current published version is the one acknowledged."""


def _guide_data(guide: Guide, state: selectors.GuideState, *, ops: bool) -> dict[str, Any]:
    data = {
        "id": guide.pk,
        "slug": guide.slug,
        "name": guide.name,
        "project_family": guide.project_family,
        "description": guide.description,
        "current_version": state.current,  # a GuideVersion: VersionSummaryOut reads it
        "must_acknowledge": state.must_acknowledge,
        "acknowledged_version": (
            state.acknowledged_version.number if state.acknowledged_version else None
        ),
        "acknowledged_at": state.acknowledged_at,
        "changes_since_ack": list(state.changes_since_ack),
    }
    if ops:
        data["draft_count"] = guide.draft_count
    return data


# -- views --------------------------------------------------------------------------------------


class GuideListApi(generics.ListAPIView):
    """Guides the caller may read, with the current version and the caller's acknowledgement
    state. A constant number of queries per page."""

    serializer_class = GuideOut
    queryset = Guide.objects.none()  # for the schema; rows come from the selector

    def get_queryset(self):
        return selectors.guide_list_for(actor=self.request.user)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        states = selectors.guide_states_for(actor=request.user, guides=page)
        ops = is_ops(request.user)
        data = [_guide_data(g, states[g.pk], ops=ops) for g in page]
        return self.get_paginated_response(GuideOut(data, many=True).data)


class GuideDetailApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "version",
                int,
                description="A version id of this guide (drafts: operations only).",
            )
        ],
        responses=GuideDetailOut,
    )
    def get(self, request, pk: int):
        version_id = parse_input(VersionQuery, request.query_params).get("version")
        actor = request.user
        ops = is_ops(actor)
        guide = selectors.guide_get_for(actor=actor, pk=pk)
        state = selectors.guide_states_for(actor=actor, guides=[guide])[guide.pk]
        version = None
        if version_id is not None or state.current is not None:
            version = selectors.guide_version_for(actor=actor, guide=guide, version_id=version_id)
        data = _guide_data(guide, state, ops=ops)
        data["version"] = version
        if ops:
            data["versions"] = list(selectors.guide_versions_for_ops(guide=guide))
        return Response(GuideDetailOut(data).data)


class GuideAcknowledgeApi(APIView):
    """POST (no body) → the acknowledgement of the current version; the same row when the
    labeler already acknowledged it. 409 when nothing is published."""

    permission_classes = LABELERS_ONLY

    @extend_schema(request=AcknowledgeIn, responses=AckOut)
    def post(self, request, pk: int):
        parse_input(AcknowledgeIn, request.data)
        guide = selectors.guide_get_for(actor=request.user, pk=pk)
        ack = services.guide_acknowledge(
            actor=request.user, labeler=labeler_of(request), guide=guide
        )
        return Response(AckOut(ack).data)


class AckFilter(django_filters.FilterSet):
    vendor = django_filters.CharFilter(field_name="labeler__vendor__slug")
    labeler = django_filters.NumberFilter(field_name="labeler_id")

    class Meta:
        model = GuideAcknowledgement
        fields = ["vendor", "labeler"]


class MissingAckFilter(django_filters.FilterSet):
    vendor = django_filters.CharFilter(field_name="vendor__slug")
    status = django_filters.MultipleChoiceFilter(choices=Labeler.Status.choices)

    class Meta:
        model = Labeler
        fields = ["vendor", "status"]


class _GuideRowsApi(generics.ListAPIView):
    """Rows about one guide (the URL's ``pk``: a 404 unless the caller may read the guide),
    scoped by ``rows_for(actor=, guide=)``: ops see everyone, a vendor manager their
    labelers."""

    permission_classes = OPS_OR_VENDOR_MANAGER
    rows_for = None

    def get_queryset(self):
        guide = selectors.guide_get_for(actor=self.request.user, pk=self.kwargs["pk"])
        return type(self).rows_for(actor=self.request.user, guide=guide)


class GuideAcknowledgementListApi(_GuideRowsApi):
    """Who acknowledged which version: ops see everyone, a vendor manager their labelers."""

    serializer_class = AckListOut
    filterset_class = AckFilter
    queryset = GuideAcknowledgement.objects.none()  # for the schema
    rows_for = selectors.guide_acknowledgement_list_for


class GuideMissingAcknowledgementListApi(_GuideRowsApi):
    """Labelers (not offboarded) who have not acknowledged the current major version — they may
    not take the guide's quizzes or work on its projects. Scoped like the acknowledgements."""

    serializer_class = MissingAckOut
    filterset_class = MissingAckFilter
    queryset = Labeler.objects.none()  # for the schema
    rows_for = selectors.guide_unacknowledged_labelers_for


urlpatterns = [
    path("guides/", GuideListApi.as_view(), name="guide-list"),
    path("guides/<id:pk>/", GuideDetailApi.as_view(), name="guide-detail"),
    path("guides/<id:pk>/acknowledge/", GuideAcknowledgeApi.as_view(), name="guide-acknowledge"),
    path(
        "guides/<id:pk>/acknowledgements/",
        GuideAcknowledgementListApi.as_view(),
        name="guide-acknowledgement-list",
    ),
    path(
        "guides/<id:pk>/acknowledgements/missing/",
        GuideMissingAcknowledgementListApi.as_view(),
        name="guide-acknowledgement-missing",
    ),
]
