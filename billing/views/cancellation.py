"""Client area: cancelling a service. The page asks when and why, then shows what will
happen (the end day, the refund or none, the invoices cancelled) before the customer
confirms; a pending end-of-period cancellation can be withdrawn from the same page. Works
without JavaScript: every step is a form post answered with a page or a redirect."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from billing import services as billing
from billing.views.provisioning import _ServiceMixin
from billing_portal.common.errors import DomainError
from billing_portal.common.forms import message_form_errors
from billing_portal.common.request import RequestMeta
from provisioning.forms import CancellationForm
from provisioning.models import CancellationRequest, Service
from provisioning.selectors import service_cancellation_open

TEMPLATE = "provisioning/service_cancel.html"


class ServiceCancelView(_ServiceMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = self.get_object()
        context = {
            "service": service,
            "form": CancellationForm(),
            "cancellation": service_cancellation_open(service=service),
            "cancellable": service.status in (Service.Status.ACTIVE, Service.Status.SUSPENDED),
        }
        return render(request, TEMPLATE, context)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = self.get_object()
        form = CancellationForm(request.POST)
        if not form.is_valid():
            message_form_errors(request, form)
            return redirect("provisioning:service_cancel", pk=service.pk)
        data = form.cleaned_data
        try:
            if not data["confirm"]:  # the review step: say what would happen, change nothing
                quote = billing.cancellation_quote(service=service, kind=data["kind"])
                return render(request, TEMPLATE, {"service": service, "quote": quote, "form": form})
            done = billing.service_cancellation_request(
                customer=self.customer,
                service_id=service.pk,
                kind=data["kind"],
                reason=data["reason"],
                reason_text=data["reason_text"],
                actor=request.user,
                meta=RequestMeta.from_request(request),
            )
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("provisioning:service_cancel", pk=service.pk)
        except Service.DoesNotExist as exc:
            raise Http404("No such service.") from exc
        messages.success(request, _done_message(done))
        return redirect("provisioning:service_detail", pk=service.pk)


def _done_message(done: CancellationRequest) -> str:
    if done.kind == CancellationRequest.Kind.END_OF_PERIOD:
        return (
            f"Your service will end on {done.effective_on:%Y-%m-%d} and will not renew. "
            "You can withdraw the cancellation until then."
        )
    refund = f" {done.refund} was added to your account credit." if done.refund else ""
    return f"Your service is cancelled.{refund}"


class ServiceCancelWithdrawView(_ServiceMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = self.get_object()
        try:
            billing.service_cancellation_withdraw(
                customer=self.customer,
                service_id=service.pk,
                actor=request.user,
                meta=RequestMeta.from_request(request),
            )
        except DomainError as error:
            messages.error(request, error.message)
        except Service.DoesNotExist as exc:
            raise Http404("No such service.") from exc
        else:
            messages.success(request, "The cancellation is withdrawn: your service continues.")
        return redirect("provisioning:service_detail", pk=service.pk)
