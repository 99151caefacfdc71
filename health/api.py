"""The health routes and the answers given while the database is down.

``GET /healthz`` is liveness, what a load balancer reads: 200 while this process and its
database answer, 503 (with ``Retry-After``) only when the database does not. The broker and the
workers are not part of it: with the broker down, submits still work (consensus waits for the
sweep), so taking every app server out of rotation would turn a partial outage into a full one.

``GET /healthz/ready`` is readiness and detail, for monitoring and deploy gates: the database,
the broker and its queue depth, the Celery workers seen recently, and the age of the oldest
work waiting after a submit (consensus, control grading). 200 when all are fine, 503 otherwise,
with every check in the body either way. Both answer within 100 ms whatever is down
(health.selectors).
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.api import error_body, json_server_error
from health import selectors

# What a client is told to wait before retrying while the database is unavailable.
RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = "database_unavailable"
DATABASE_UNAVAILABLE_DETAIL = "The database is unavailable; try again in a few seconds."
# Errors that mean the database cannot serve the request now (down, restarting, connection
# lost, a statement or lock timeout), as opposed to a bug in a query.
DATABASE_DOWN_ERRORS = (OperationalError, InterfaceError)

_UNAVAILABLE_PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Service unavailable</title>"
    "</head><body><h1>Service unavailable</h1><p>The database is unavailable. Please try again "
    "in a few seconds.</p></body></html>"
)


@never_cache
@require_GET
def liveness(request) -> JsonResponse:
    """200 ``{"status": "ok", "checks": {"database": …}}``; 503 with ``Retry-After`` when the
    database does not answer. One query, no authentication, no session."""
    database = selectors.database_check()
    if database["ok"]:
        return JsonResponse({"status": "ok", "checks": {"database": database}})
    response = JsonResponse({"status": "unavailable", "checks": {"database": database}}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@never_cache
@require_GET
def readiness(request) -> JsonResponse:
    """200 ``{"status": "ready", "checks": {…}}`` when every check passes, else 503
    ``{"status": "not_ready", …}`` naming the failing ones in ``failing``."""
    ready, checks = selectors.readiness()
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    if not ready:
        body["failing"] = sorted(name for name, check in checks.items() if not check["ok"])
    return JsonResponse(body, status=200 if ready else 503)


def database_unavailable(request) -> HttpResponse:
    """503 with ``Retry-After``: the API's error shape under /api/ (code
    ``database_unavailable``), a plain page elsewhere (the admin). Renders nothing that could
    need the database."""
    if request.path.startswith("/api/"):
        response = JsonResponse(
            error_body(DATABASE_UNAVAILABLE_DETAIL, DATABASE_UNAVAILABLE), status=503
        )
    else:
        response = HttpResponse(_UNAVAILABLE_PAGE, status=503, content_type="text/html")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request) -> HttpResponse:
    """The handler500: a database that went away is a 503 (``database_unavailable``), anything
    else the API's or Django's 500. Django calls it while handling the exception, so the
    exception is still at hand."""
    if isinstance(sys.exc_info()[1], DATABASE_DOWN_ERRORS):
        return database_unavailable(request)
    return json_server_error(request)
