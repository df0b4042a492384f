"""What every API view shares besides the error shape (billing_portal/common/api_errors.py):
page-based pagination and the per-key throttle. Kept apart from the error handler because
DRF imports these while it loads its views."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from billing_portal.common.request import client_ip

if TYPE_CHECKING:
    from rest_framework.views import APIView

MAX_PAGE_SIZE = 100


class ApiPagination(PageNumberPagination):
    """Pages of 25 (`page_size` up to 100); the selectors order every list completely
    (newest first, then by id), so a page never repeats or skips a row."""

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


class ApiKeyRateThrottle(SimpleRateThrottle):
    """API_THROTTLE_RATE requests per API key (per signed-in user for the browser, per
    address otherwise); a refusal is a 429 with Retry-After."""

    scope = "api"

    def get_rate(self) -> str:
        return str(settings.API_THROTTLE_RATE)

    def get_cache_key(self, request: Request, view: APIView) -> str:
        prefix = getattr(request.auth, "prefix", None)
        if prefix is not None:
            ident = f"key:{prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{client_ip(request) or 'unknown'}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
