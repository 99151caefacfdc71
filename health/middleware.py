"""Database-down answers for views outside DRF (the admin, the pages)."""

from __future__ import annotations

import logging

from health.api import DATABASE_DOWN_ERRORS, database_unavailable

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    """A view that raises ``OperationalError`` or ``InterfaceError`` (the database is down, was
    restarted under a pooled connection, or timed out) answers 503 with ``Retry-After`` instead
    of a 500. DRF views answer the same through ``config.api.exception_handler``; errors raised
    outside views (a middleware saving the session) reach ``health.api.server_error``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_DOWN_ERRORS):
            logger.warning("database unavailable on %s: %s", request.path, exception)
            return database_unavailable(request)
        return None
