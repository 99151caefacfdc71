"""Request parsers that enforce ``DATA_UPLOAD_MAX_MEMORY_SIZE``.

A module of its own because DRF reads ``DEFAULT_PARSER_CLASSES`` while ``rest_framework.views``
is imported, so the parsers must not live in a module that imports DRF's views.
"""

from __future__ import annotations

import io

from django.conf import settings
from rest_framework import exceptions, parsers, status


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than the server accepts."
    default_code = "payload_too_large"


class _LimitedBodyMixin:
    """Enforce ``DATA_UPLOAD_MAX_MEMORY_SIZE`` on bodies DRF reads itself.

    Django checks the limit only in ``request.body`` and its own form parsing; DRF's JSON and
    form parsers read the stream directly, so without this any size would be parsed.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and stream is not None:
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise PayloadTooLarge()
            stream = io.BytesIO(body)
        return super().parse(stream, media_type, parser_context)


class JSONParser(_LimitedBodyMixin, parsers.JSONParser):
    pass


class FormParser(_LimitedBodyMixin, parsers.FormParser):
    pass


# Multipart is left to Django's parser, which enforces the limit on fields itself (raising
# RequestDataTooBig, which config.api.exception_handler renders as 413).
PARSER_CLASSES = (JSONParser, FormParser, parsers.MultiPartParser)
