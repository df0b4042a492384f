"""Client area: a customer turns automatic backups of their service on or off, where the
product allows it (provisioning.services.backups). A plain form: without JavaScript it
redirects to the service page with a message; with htmx it swaps the section in place."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from accounts.mixins import CustomerRequiredMixin
from billing_portal.common.request import RequestMeta
from provisioning.models import Service
from provisioning.selectors import auto_backups_for_service, service_get_for_customer
from provisioning.services.backups import AutoBackupsRefused, service_auto_backups_set

CHOICES = {"on": True, "off": False}


class ServiceAutoBackupsView(CustomerRequiredMixin, View):
    """POST `enabled=on|off`: automatic backups of the customer's service."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        choice = request.POST.get("enabled", "")
        try:
            if choice not in CHOICES:
                raise AutoBackupsRefused("Choose whether automatic backups are on or off.")
            service_auto_backups_set(
                customer=self.customer,
                service_id=pk,
                enabled=CHOICES[choice],
                actor=request.user,
                meta=RequestMeta.from_request(request),
            )
        except Service.DoesNotExist as exc:
            raise Http404("No such service.") from exc
        except AutoBackupsRefused as error:
            return self._answer(request, pk, error.message, ok=False)
        done = "Automatic backups are on." if CHOICES[choice] else "Automatic backups are off."
        return self._answer(request, pk, done, ok=True)

    def _answer(self, request: HttpRequest, pk: int, message: str, *, ok: bool) -> HttpResponse:
        if request.headers.get("HX-Request") != "true":
            (messages.success if ok else messages.error)(request, message)
            return redirect(reverse("provisioning:service_detail", args=[pk]))
        try:
            service = service_get_for_customer(customer=self.customer, service_id=pk)
        except Service.DoesNotExist as exc:
            raise Http404("No such service.") from exc
        context = {
            "service": service,
            "auto_backups": auto_backups_for_service(service=service),
            "auto_backups_message": message,
            "auto_backups_ok": ok,
        }
        return render(request, "provisioning/self_service/_auto_backups.html", context)
