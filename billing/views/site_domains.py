"""Client area: a WordPress site's custom domain set up through the customer's own DNS zone
here, in one click (billing.services.site_domains). Answers like any action
(billing.views.self_service): the status box with htmx, else the service page showing it."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from billing.services.site_domains import site_domain_add_via_zone
from billing.views.self_service import (
    ServiceActionView,
    _is_htmx,
    _over_rate,
    _service_page,
    operation_status_response,
)
from billing_portal.common.request import RequestMeta
from dnszones.errors import DNSError
from provisioning.models import Service
from provisioning.services.actions import ActionRefused


class SiteDomainViaZoneView(ServiceActionView):
    """POST (domain, click_key): point the domain at the site in its zone here and add it;
    refusals are answered as the actions' are."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:  # type: ignore[override]
        if _over_rate(request, self.customer.pk, pk):
            return self._refused(
                request,
                pk,
                "You started many actions on this service in a short time; "
                "wait a minute and try again.",
            )
        try:
            operation = site_domain_add_via_zone(
                customer=self.customer,
                service_id=pk,
                domain=request.POST.get("domain", ""),
                click_key=request.POST.get("click_key", ""),
                actor=request.user,
                meta=RequestMeta.from_request(request),
            )
        except Service.DoesNotExist as exc:
            raise Http404("No such service.") from exc
        except (ActionRefused, DNSError) as error:
            return self._refused(request, pk, error.message)
        if _is_htmx(request):
            return operation_status_response(request, operation)
        return redirect(_service_page(pk, operation.pk))
