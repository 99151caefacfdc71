"""Gold API v1, for operations managers only: a gold answer must never reach a labeler, so every
route here is a 403 for anyone who is not ops (401 when not signed in).

Routes (under /api/v1/):

* ``GET, POST gold-sets/`` — list, create;
* ``GET gold-sets/{id}/``;
* ``GET, POST gold-sets/{id}/items/`` — list (filters: status, difficulty, stratum), create one;
* ``POST gold-sets/{id}/import/`` — a multipart ``file`` or the raw body, ``?format=csv|jsonl``
  (else taken from the file name or content type); all or nothing: 400 ``import_invalid`` with
  ``fields.rows`` = ``[{"row", "field", "message"}, ...]``, 413 ``import_too_large``, or 201
  ``{"created", "updated", "unchanged", "control_checks"}`` — ``control_checks`` lists each
  project using the set as its control set, checked again against its real tasks;
* ``GET gold-sets/{id}/export/?format=csv|jsonl`` — streamed (CSV by default).

``?format=`` names the file format on the import and export routes; it is not DRF's renderer
override there (errors are JSON either way). The import takes its file as every import does
(``config.uploads``): a raw body is spooled to a temporary file, a multipart one is held by
Django's upload handlers, and the service reads its rows from the file.
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from config.api import StrictSerializer
from config.downloads import FileExportApi
from config.uploads import (
    FileFormatQuery,
    FileUploadApi,
    file_format,
    file_upload_schema,
)
from qc.control_sets import control_recheck
from qc.models import AnswerType, GoldItem, GoldSet, Guide
from qc.selectors import gold as selectors
from qc.selectors.guides import guide_version_published_by_number
from qc.services import gold as services
from workforce.api import _validated
from workforce.permissions import OPS_ONLY

# -- output -------------------------------------------------------------------------------------


class GoldSetOut(serializers.ModelSerializer):
    guide = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    item_count = serializers.IntegerField(read_only=True)
    active_count = serializers.IntegerField(read_only=True)
    quarantined_count = serializers.IntegerField(read_only=True)
    retired_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = GoldSet
        fields = [
            "id",
            *services.SET_FIELDS,
            "item_count",
            "active_count",
            "quarantined_count",
            "retired_count",
            "created_at",
        ]


class GoldItemOut(serializers.ModelSerializer):
    guide_version = serializers.SerializerMethodField()

    class Meta:
        model = GoldItem
        fields = [
            "id",
            *services.ITEM_FIELDS,
            "stratum",
            "created_at",
            "updated_at",
        ]

    def get_guide_version(self, obj: GoldItem) -> str | None:
        return obj.guide_version.number if obj.guide_version_id else None


class ControlUseOut(serializers.Serializer):
    """A project that draws control tasks from the set, with its control check after the
    import (docs/next-task.md, "Control tasks that look like real ones")."""

    project = serializers.IntegerField(source="project_id")
    slug = serializers.CharField(source="project_slug")
    name = serializers.CharField(source="project_name")
    ok = serializers.BooleanField(
        help_text="No difference from the project's real tasks, or an override accepts them."
    )
    summary = serializers.CharField()
    check = serializers.JSONField(
        allow_null=True, help_text="Keys, types and URL shapes that differ, item counts."
    )
    warnings = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))


class GoldImportResultOut(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    control_checks = ControlUseOut(
        many=True,
        help_text="Each project using this set as its control set, checked again against its "
        "real tasks after the import.",
    )


# -- input --------------------------------------------------------------------------------------


class GoldSetIn(StrictSerializer):
    slug = serializers.SlugField(max_length=64)
    name = serializers.CharField(max_length=200)
    answer_type = serializers.ChoiceField(choices=AnswerType.choices)
    # Not trimmed: the service rejects names with surrounding spaces rather than changing them.
    classes = serializers.ListField(
        child=serializers.CharField(trim_whitespace=False, allow_blank=True, max_length=200),
        max_length=services.MAX_CLASSES,
    )
    iou_threshold = serializers.DecimalField(max_digits=3, decimal_places=2, required=False)
    guide = serializers.SlugRelatedField(
        slug_field="slug", queryset=Guide.objects.all(), required=False, allow_null=True
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


class GoldItemIn(StrictSerializer):
    external_id = serializers.CharField(max_length=128)
    payload = serializers.JSONField(help_text='{"image_url": "...", "metadata": {...}}')
    accepted_answers = serializers.JSONField(help_text="A non-empty list of answers.")
    explanation = serializers.CharField(
        required=False, allow_blank=True, max_length=services.MAX_EXPLANATION_CHARS
    )
    guide_version = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=20, help_text='e.g. "1.2"'
    )
    difficulty = serializers.ChoiceField(choices=GoldItem.Difficulty.choices, required=False)
    status = serializers.ChoiceField(choices=GoldItem.Status.choices, required=False)


class GoldImportFileIn(StrictSerializer):
    file = serializers.FileField()


# -- views --------------------------------------------------------------------------------------


class GoldSetListCreateApi(generics.ListAPIView):
    permission_classes = OPS_ONLY
    serializer_class = GoldSetOut
    queryset = GoldSet.objects.none()  # for the schema

    def get_queryset(self):
        return selectors.gold_set_list_for(actor=self.request.user)

    @extend_schema(request=GoldSetIn, responses={201: GoldSetOut})
    def post(self, request):
        data = _validated(GoldSetIn, request.data)
        gold_set = services.gold_set_create(actor=request.user, **data)
        gold_set = selectors.gold_set_get_for(actor=request.user, pk=gold_set.pk)
        return Response(GoldSetOut(gold_set).data, status=status.HTTP_201_CREATED)


class GoldSetDetailApi(generics.RetrieveAPIView):
    permission_classes = OPS_ONLY
    serializer_class = GoldSetOut
    queryset = GoldSet.objects.none()  # for the schema

    def get_object(self):
        return selectors.gold_set_get_for(actor=self.request.user, pk=self.kwargs["pk"])


class GoldItemFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=GoldItem.Status.choices)
    difficulty = django_filters.MultipleChoiceFilter(choices=GoldItem.Difficulty.choices)
    stratum = django_filters.CharFilter()
    external_id = django_filters.CharFilter()

    class Meta:
        model = GoldItem
        fields = ["status", "difficulty", "stratum", "external_id"]


class GoldItemListCreateApi(generics.ListAPIView):
    permission_classes = OPS_ONLY
    serializer_class = GoldItemOut
    filterset_class = GoldItemFilter
    queryset = GoldItem.objects.none()  # for the schema

    def get_queryset(self):
        gold_set = selectors.gold_set_get_for(actor=self.request.user, pk=self.kwargs["pk"])
        return selectors.gold_item_list_for(actor=self.request.user, gold_set=gold_set)

    @extend_schema(request=GoldItemIn, responses={201: GoldItemOut})
    def post(self, request, pk: int):
        gold_set = selectors.gold_set_get_for(actor=request.user, pk=pk)
        data = _validated(GoldItemIn, request.data)
        number = data.pop("guide_version", None)
        version = None
        if number:
            version = (
                guide_version_published_by_number(guide=gold_set.guide_id, number=number)
                if gold_set.guide_id
                else None
            )
            if version is None:
                raise ValidationError(
                    {"guide_version": [f"No published version {number!r} of the set's guide."]}
                )
        item = services.gold_item_create(
            actor=request.user, gold_set=gold_set, guide_version=version, **data
        )
        item = selectors.gold_item_list_for(actor=request.user, gold_set=gold_set).get(pk=item.pk)
        return Response(GoldItemOut(item).data, status=status.HTTP_201_CREATED)


class GoldImportApi(FileUploadApi):
    permission_classes = OPS_ONLY
    too_large = services.ImportTooLarge

    def max_upload_bytes(self) -> int:
        return services.GOLD_IMPORT_MAX_BYTES

    @file_upload_schema(form=GoldImportFileIn, result=GoldImportResultOut)
    def post(self, request, pk: int):
        gold_set = selectors.gold_set_get_for(actor=request.user, pk=pk)
        f, file_name, _ = self.uploaded_file(request, GoldImportFileIn)
        result = services.gold_import(
            actor=request.user,
            gold_set=gold_set,
            data=f,
            file_format=file_format(request, file_name),
            file_name=file_name,
        )
        uses = control_recheck(actor=request.user, gold_set_id=gold_set.pk)
        body = {
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "control_checks": uses,
        }
        return Response(GoldImportResultOut(body).data, status=status.HTTP_201_CREATED)


class GoldExportApi(FileExportApi):
    # The set's items as <slug>-gold.csv or .jsonl.
    permission_classes = OPS_ONLY
    query_serializer = FileFormatQuery
    file_suffix = "gold"

    def export_object(self, request, pk: int):
        return selectors.gold_set_get_for(actor=request.user, pk=pk)

    def export_rows(self, obj, file_format: str):
        return services.gold_export(gold_set=obj, file_format=file_format)


urlpatterns = [
    path("gold-sets/", GoldSetListCreateApi.as_view(), name="gold-set-list"),
    path("gold-sets/<id:pk>/", GoldSetDetailApi.as_view(), name="gold-set-detail"),
    path("gold-sets/<id:pk>/items/", GoldItemListCreateApi.as_view(), name="gold-item-list"),
    path("gold-sets/<id:pk>/import/", GoldImportApi.as_view(), name="gold-import"),
    path("gold-sets/<id:pk>/export/", GoldExportApi.as_view(), name="gold-export"),
]
