"""Project-level endpoints that belong to no domain app."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import requires_csrf_token
from django.views.decorators.http import require_GET

from billing_portal.common.health import broker_status, database_status


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 while the database answers; 503 when it does not.

    A broker outage is reported ("degraded") but keeps 200: the portal still serves pages
    and records work, which workers pick up once the broker is back.
    """
    database = database_status()
    broker = broker_status()
    if database["status"] != "ok":
        overall, http_status = "unavailable", 503
    elif broker["status"] != "ok":
        overall, http_status = "degraded", 200
    else:
        overall, http_status = "ok", 200
    return JsonResponse(
        {"status": overall, "database": database, "broker": broker}, status=http_status
    )


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 400 page in the portal's layout. Django's own handler renders it without the
    request, so the layout would lose its name and navigation; the request is safe to use
    here (a disallowed host is only refused when asked for, which the page never does)."""
    return render(request, "400.html", status=400)


API_PREFIX = "/api/"


@requires_csrf_token
def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 page, except under /api/, where an address that names no operation gets
    the API's error shape as JSON (billing_portal/common/api_errors.py), as its clients
    expect of every answer."""
    if request.path.startswith(API_PREFIX):
        body = {"type": "client_error", "code": "not_found", "detail": "Not found.", "errors": {}}
        return JsonResponse(body, status=404)
    return defaults.page_not_found(request, exception)
