"""Project-wide middleware."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import patch_cache_control

from billing_portal.common.db import is_transient_conflict

logger = logging.getLogger(__name__)


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
