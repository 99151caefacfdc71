"""File downloads for the API: one object's rows streamed as a CSV or JSONL attachment.

``?format=`` names the file's format on these routes, not a renderer (the same
``FileFormatNegotiation`` as the uploads in ``config.uploads``), so every error is JSON. What a
row holds and how it is escaped is the exporter's business (``config.exports``).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from config.api import parse_input
from config.uploads import FileFormatNegotiation

FILE_CONTENT_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}


def file_download(rows: Iterable, *, file_format: str, file_name: str) -> StreamingHttpResponse:
    """``rows`` (text chunks) streamed as the attachment ``file_name``, typed for
    ``file_format`` (a key of ``FILE_CONTENT_TYPES``)."""
    content_type = FILE_CONTENT_TYPES[file_format]
    response = StreamingHttpResponse(rows, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response


class FileExportApi(APIView):
    # GET: one object's rows as a streamed file, ?format=csv (the default) or jsonl, named
    # <slug>-<file_suffix>.<format>. A subclass sets permission_classes, query_serializer (its
    # format field) and file_suffix, and implements export_object (the object the caller may
    # export, or a 404, checked before the query) and export_rows. (A comment, not a
    # docstring: the schema would show a docstring as every subclass's operation description.)

    renderer_classes = (JSONRenderer,)
    content_negotiation_class = FileFormatNegotiation
    query_serializer: type[serializers.Serializer]
    file_suffix = ""

    def export_object(self, request, pk: int):
        raise NotImplementedError

    def export_rows(self, obj, file_format: str) -> Iterable:
        raise NotImplementedError

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(FILE_CONTENT_TYPES))],
        responses={(200, media): OpenApiTypes.STR for media in FILE_CONTENT_TYPES.values()},
    )
    def get(self, request, pk: int):
        obj = self.export_object(request, pk)
        file_format = parse_input(self.query_serializer, request.query_params).get("format", "csv")
        return file_download(
            self.export_rows(obj, file_format),
            file_format=file_format,
            file_name=f"{obj.slug}-{self.file_suffix}.{file_format}",
        )
