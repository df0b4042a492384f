"""Project-wide middleware."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import patch_cache_control

from billing_portal.common.context import (
    request_id_new,
    request_id_reset,
    request_id_set,
    request_id_valid,
)
from billing_portal.common.db import is_transient_conflict

logger = logging.getLogger(__name__)
request_logger = logging.getLogger("billing_portal.request")

REQUEST_ID_RESPONSE_HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Gives each request an id (see common/context.py): the trusted proxy's X-Request-ID
    when there is one and it is a short token, else a new one. It is on every log line of
    the request and of the tasks it queues, in the response's X-Request-ID header, and on
    the one line logged per request (method, URL pattern rather than the path, which can
    carry tokens, status and duration)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = self._incoming(request) or request_id_new()
        token = request_id_set(request.request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_RESPONSE_HEADER] = request.request_id
            match = request.resolver_match
            request_logger.info(
                "%s %s %s",
                request.method,
                match.route if match else "-",
                response.status_code,
                extra={
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000),
                },
            )
            return response
        finally:
            request_id_reset(token)

    @staticmethod
    def _incoming(request: HttpRequest) -> str | None:
        # Only a proxy we trust sets the header; a client talking to us directly could put
        # anything there.
        if not settings.TRUSTED_PROXY_COUNT:
            return None
        value = request.headers.get(REQUEST_ID_RESPONSE_HEADER)
        return value if request_id_valid(value) else None


class DatabaseConflictMiddleware:
    """A request whose transaction the database aborted for a deadlock or serialisation
    failure, even after the service ran it again, answers with a page that says so (503,
    try again) instead of a server error: nothing of that request was written."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_transient_conflict(exception):
            return None
        logger.warning("%s %s: %s", request.method, request.path, exception)
        response = TemplateResponse(request, "503.html", status=503)
        response["Retry-After"] = "2"
        return response.render()


class PrivatePagesMiddleware:
    """Every response to a signed-in user (client area, admin, API) is `Cache-Control:
    private, no-store`: invoices, credentials and balances must never be kept by a shared
    cache or in the browser's history cache. Static files are served by WhiteNoise before
    this runs, so they keep their long-lived caching."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
