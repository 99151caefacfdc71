"""Request parsers that enforce ``DATA_UPLOAD_MAX_MEMORY_SIZE`` and, for JSON, a nesting limit.

A module of its own because DRF reads ``DEFAULT_PARSER_CLASSES`` while ``rest_framework.views``
is imported, so the parsers must not live in a module that imports DRF's views. Routes that take
a file (the imports) use ``config.uploads.RawFileParser`` instead: the body is spooled to a
temporary file up to the route's own limit rather than read into memory.
"""

from __future__ import annotations

import io
import json
from typing import Any

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


# Deepest nesting of arrays and objects a JSON body may have. The deepest legitimate body is a
# task import (``{"tasks": [{"payload": {"metadata": {…}}}]}``) or a box answer
# (``{"boxes": [{"label": …, "x": …}]}``): well under ten levels. 64 leaves room for payload
# metadata of any sane shape while staying far below Python's recursion limit, which the JSON
# decoder, the serializers, ``json.dumps`` and the database adapter all walk against.
JSON_MAX_DEPTH = 64


class JSONTooDeep(exceptions.ParseError):
    default_detail = f"The JSON body is nested too deeply (at most {JSON_MAX_DEPTH} levels)."
    default_code = "parse_error"


def json_depth_exceeds(value: Any, limit: int = JSON_MAX_DEPTH) -> bool:
    """Whether ``value`` (parsed JSON) nests arrays and objects more than ``limit`` deep.
    Iterative, so it cannot itself run out of stack."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def json_loads_limited(text: str | bytes) -> Any:
    """``json.loads`` with ``JSON_MAX_DEPTH``, for JSON that arrives inside an uploaded file
    (a JSONL line, a CSV cell): too deep a document raises ``ValueError`` like any other bad
    JSON, never ``RecursionError``."""
    try:
        value = json.loads(text)
    except RecursionError:
        value = None
        too_deep = True
    else:
        too_deep = json_depth_exceeds(value)
    if too_deep:
        raise ValueError(f"nested more than {JSON_MAX_DEPTH} levels deep")
    return value


class JSONParser(_LimitedBodyMixin, parsers.JSONParser):
    """DRF's JSON parser with the size limit and ``JSON_MAX_DEPTH``: a body nested deeper is a
    400 ``parse_error`` — before it reaches a serializer — instead of a ``RecursionError``."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise JSONTooDeep() from None
        if json_depth_exceeds(data):
            raise JSONTooDeep()
        return data


class FormParser(_LimitedBodyMixin, parsers.FormParser):
    pass


# Multipart is left to Django's parser, which enforces the limit on fields itself (raising
# RequestDataTooBig, which config.api.exception_handler renders as 413).
PARSER_CLASSES = (JSONParser, FormParser, parsers.MultiPartParser)
