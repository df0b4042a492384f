"""Client-area self-service: a customer runs an action on their service (a button or a small
form on the service's page) and follows its progress. The page polls the operation's state
with htmx (from django-htmx's static files) and, without JavaScript, the POST redirects to
the service page showing the same state. Actions are provisioning operations
(provisioning.services.actions)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django_ratelimit.core import get_usage

from accounts.mixins import CustomerRequiredMixin
from billing_portal.common.request import RequestMeta
from provisioning.models import ProvisioningOperation, Service
from provisioning.selectors import service_operation_for_customer
from provisioning.services.actions import (
    ActionRefused,
    action_label,
    action_of,
    action_secret_take,
    customer_error_message,
    service_action_request,
)

Op = ProvisioningOperation
FORM_FIELDS = {"csrfmiddlewaretoken", "click_key", "confirm"}
FINAL = (Op.Status.SUCCEEDED, Op.Status.FAILED, Op.Status.CANCELLED, Op.Status.UNCERTAIN)
POLL_SECONDS = 2


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _service_page(service_id: int, operation_id: int | None = None) -> str:
    url = reverse("provisioning:service_detail", args=[service_id])
    return f"{url}?op={operation_id}#action-status" if operation_id else url


def _over_rate(request: HttpRequest, customer_id: int, service_id: int) -> bool:
    usage = get_usage(
        request,
        group="service_action",
        key=lambda group, req: f"{customer_id}:{service_id}",
        rate=settings.SERVICE_ACTION_RATE,
        method="POST",
        increment=True,
    )
    return bool(usage and usage["should_limit"])


class ServiceActionView(CustomerRequiredMixin, View):
    """POST: start an action (`name`) on the customer's service."""

    def post(self, request: HttpRequest, pk: int, name: str) -> HttpResponse:
        if _over_rate(request, self.customer.pk, pk):
            return self._refused(
                request,
                pk,
                "You started many actions on this service in a short time; "
                "wait a minute and try again.",
            )
        params = {k: v for k, v in request.POST.items() if k not in FORM_FIELDS}
        try:
            operation = service_action_request(
                customer=self.customer,
                service_id=pk,
                action=name,
                params=params,
                click_key=request.POST.get("click_key", ""),
                confirmation=request.POST.get("confirm", ""),
                actor=request.user,
                meta=RequestMeta.from_request(request),
            )
        except Service.DoesNotExist as exc:
            raise Http404("No such service.") from exc
        except ActionRefused as error:
            return self._refused(request, pk, error.message)
        if _is_htmx(request):
            return operation_status_response(request, operation)
        return redirect(_service_page(pk, operation.pk))

    def _refused(self, request: HttpRequest, pk: int, message: str) -> HttpResponse:
        if _is_htmx(request):
            return render(request, "provisioning/self_service/_refused.html", {"message": message})
        messages.error(request, message)
        return redirect(_service_page(pk))


def operation_context(operation: Op) -> dict:
    """What the status box shows of an action: its state, its cleaned error, and a secret
    result once (taken as it is first shown to its owner)."""
    spec = action_of(operation)
    final = operation.status in FINAL
    context = {
        "operation": operation,
        "label": action_label(operation),
        "final": final,
        "poll_seconds": POLL_SECONDS,
        "done_message": spec.done_message if spec else "Done.",
        "result": operation.response_summary.get("result", {}) if final else {},
        "error": customer_error_message(operation.last_error) if operation.last_error else "",
        "secret": {},
    }
    if operation.status == Op.Status.SUCCEEDED and operation.secret_result:
        context["secret"] = action_secret_take(
            customer=operation.service.customer, operation_id=operation.pk
        )
    return context


def operation_status_response(request: HttpRequest, operation: Op) -> HttpResponse:
    """The status box while the action runs; once it has ended, htmx is told to load the
    service page showing it (HX-Redirect), so the whole page shows the service's new state
    (and a secret result is taken there, once)."""
    if operation.status in FINAL:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = _service_page(operation.service_id, operation.pk)
        return response
    context = operation_context(operation)
    return render(request, "provisioning/self_service/_operation.html", context)


@method_decorator(never_cache, name="dispatch")
class ServiceOperationView(CustomerRequiredMixin, View):
    """GET: an action's state (the status box, for htmx's poll); without htmx, the service
    page showing it."""

    def get(self, request: HttpRequest, pk: int, operation_id: int) -> HttpResponse:
        try:
            operation = service_operation_for_customer(
                customer=self.customer, service_id=pk, operation_id=operation_id
            )
        except Op.DoesNotExist as exc:
            raise Http404("No such action.") from exc
        if not _is_htmx(request):
            return redirect(_service_page(pk, operation.pk))
        return operation_status_response(request, operation)
