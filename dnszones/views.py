"""Client-area pages of the DNS app: the plan, zones with usage against limits, a zone's
record editor, zone deletion with confirmation."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from accounts.mixins import CustomerRequiredMixin
from billing_portal.common.errors import DomainError
from billing_portal.common.forms import message_form_errors, object_id
from dnszones import services
from dnszones.forms import PlanBuyForm
from dnszones.models import Record, Zone
from dnszones.selectors import (
    dns_plans_for_sale,
    dns_subscription_for_customer,
    records_of_zone,
    zone_get_for_customer,
    zones_for_customer,
)
from dnszones.validation import PROXY_ALIAS


class ZoneListView(CustomerRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        subscription = dns_subscription_for_customer(customer=self.customer)
        context = {
            "subscription": subscription,
            "plans": dns_plans_for_sale(),
            "zones": zones_for_customer(customer=self.customer),
            "nameservers": settings.DNS_REQUIRED_NAMESERVERS,
            "request_key": uuid.uuid4().hex,
        }
        return render(request, "dns/zone_list.html", context)

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action")
        try:
            if action == "buy":
                form = PlanBuyForm(request.POST)
                if not form.is_valid():
                    message_form_errors(request, form)
                    return redirect("dns:zone_list")
                sub = services.dns_plan_buy(
                    customer=self.customer, plan_id=form.cleaned_data["plan"].pk,
                    request_key=form.cleaned_data["request_key"] or uuid.uuid4().hex,
                    actor=request.user,
                )  # fmt: skip
                messages.success(request, f"Your DNS plan is {sub.plan.name}.")
            elif action == "cancel":
                sub = services.dns_subscription_cancel(customer=self.customer, actor=request.user)
                messages.success(request, f"Your plan ends on {sub.period_end:%Y-%m-%d}.")
            elif action == "zone":
                zone = services.zone_create(
                    customer=self.customer, name=request.POST.get("name", ""),
                    apex_address=request.POST.get("apex", ""), actor=request.user,
                )  # fmt: skip
                messages.success(request, f"{zone.name} is created.")
                return redirect("dns:zone_detail", pk=zone.pk)
        except DomainError as error:
            messages.error(request, error.message)
        return redirect("dns:zone_list")


class _ZoneMixin(CustomerRequiredMixin):
    def zone(self) -> Zone:
        try:
            return zone_get_for_customer(customer=self.customer, zone_id=self.kwargs["pk"])
        except Zone.DoesNotExist as exc:
            raise Http404("No such zone.") from exc


class ZoneDetailView(_ZoneMixin, View):
    """The record editor: add, edit and delete, with validation messages in place."""

    def get(self, request: HttpRequest, pk: int, form: dict | None = None, error: str = ""):
        zone = self.zone()
        subscription = dns_subscription_for_customer(customer=self.customer)
        context = {
            "zone": zone, "records": records_of_zone(zone=zone), "types": Record.Type.values,
            "subscription": subscription, "proxy_alias": PROXY_ALIAS,
            "proxy_ip": settings.DNS_PROXY_IP, "form": form or {"ttl": settings.DNS_DEFAULT_TTL},
            "error": error, "editing": object_id(request.GET.get("edit", "")),
        }  # fmt: skip
        return render(request, "dns/zone_detail.html", context, status=400 if error else 200)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        zone = self.zone()
        data = {k: request.POST.get(k, "") for k in ("name", "type", "ttl", "content")}
        action = request.POST.get("action", "add")
        if action not in ("add", "edit", "delete"):  # a form from elsewhere: do nothing
            return self.get(request, pk, form=data, error="Choose to add, edit or delete.")
        record_id = object_id(request.POST.get("record", ""))
        if action in ("delete", "edit") and record_id is None:
            raise Http404("No such record.")
        try:
            if action == "delete":
                services.record_delete(customer=self.customer, record_id=record_id,
                                       actor=request.user)  # fmt: skip
                messages.success(request, "The record was deleted.")
            elif action == "edit":
                services.record_update(customer=self.customer, record_id=record_id,
                                       actor=request.user, **data)  # fmt: skip
                messages.success(request, "The record was saved.")
            else:
                services.record_add(customer=self.customer, zone_id=zone.pk, actor=request.user,
                                    **data)  # fmt: skip
                messages.success(request, "The record was added.")
        except Record.DoesNotExist as exc:
            raise Http404("No such record.") from exc
        except DomainError as error:
            return self.get(request, pk, form=data, error=error.message)
        return redirect("dns:zone_detail", pk=zone.pk)


class ZoneDeleteView(_ZoneMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return render(request, "dns/zone_delete.html", {"zone": self.zone()})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        zone = self.zone()
        try:
            services.zone_delete(
                customer=self.customer, zone_id=zone.pk,
                confirm=request.POST.get("confirm", ""), actor=request.user,
            )  # fmt: skip
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("dns:zone_delete", pk=zone.pk)
        messages.success(request, f"{zone.name} and its records are deleted.")
        return redirect("dns:zone_list")
