"""Client-area pages of the DNS app: the plan, zones with usage against limits, a zone's
record editor, zone deletion with confirmation."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from accounts.mixins import CustomerRequiredMixin
from billing_portal.common.errors import DomainError
from billing_portal.common.forms import FORM_EXPIRED, object_id
from credits.services import credit_balance
from dnszones import services
from dnszones.delegation import demo_domains_in_use
from dnszones.errors import PriceChanged
from dnszones.forms import PlanConfirmForm
from dnszones.models import DnsPlan, Record, Zone
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
            "demo_domains": demo_domains_in_use(),
        }
        return render(request, "dns/zone_list.html", context)

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action")
        try:
            if action == "cancel":
                sub = services.dns_subscription_cancel(customer=self.customer, actor=request.user)
                messages.success(request, f"Your plan ends on {sub.period_end:%Y-%m-%d}.")
            elif action == "zone":
                zone = services.zone_create(
                    customer=self.customer,
                    name=request.POST.get("name", ""),
                    apex_address=request.POST.get("apex", ""),
                    actor=request.user,
                )
                messages.success(request, f"{zone.name} is created.")
                return redirect("dns:zone_detail", pk=zone.pk)
        except DomainError as error:
            messages.error(request, error.message)
        return redirect("dns:zone_list")


class PlanConfirmView(CustomerRequiredMixin, View):
    """Buying or switching a plan: the charge (or credit), the period it covers and the
    renewal are shown first; only Confirm takes the money, once per rendered form."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            quote = services.dns_plan_quote(customer=self.customer, plan_id=pk)
        except DnsPlan.DoesNotExist as exc:  # no such plan, or no longer sold
            raise Http404("No such plan.") from exc
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("dns:zone_list")
        balance = credit_balance(customer=self.customer, currency=str(quote.amount.currency))
        context = {
            "quote": quote,
            "balance": balance,
            "after": balance - quote.amount,
            "request_key": uuid.uuid4().hex,
        }
        return render(request, "dns/plan_confirm.html", context)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        get_object_or_404(dns_plans_for_sale(), pk=pk)
        form = PlanConfirmForm(request.POST)
        if not form.is_valid():
            messages.error(request, FORM_EXPIRED)
            return redirect("dns:plan_confirm", pk=pk)
        try:
            sub = services.dns_plan_buy(
                customer=self.customer,
                plan_id=pk,
                actor=request.user,
                request_key=form.cleaned_data["request_key"] or uuid.uuid4().hex,
                expected_amount=_shown_amount(form.cleaned_data["amount"]),
            )
        except DnsPlan.DoesNotExist as exc:  # withdrawn a moment ago
            raise Http404("No such plan.") from exc
        except PriceChanged as error:  # show the new charge before anything is taken
            messages.error(request, error.message)
            return redirect("dns:plan_confirm", pk=pk)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("dns:zone_list")
        messages.success(
            request,
            f"Your DNS plan is {sub.plan.name}. The charge is listed "
            "with its receipt under Billing & credits.",
        )
        return redirect("dns:zone_list")


def _shown_amount(amount: str) -> Decimal:
    """The amount the confirmation page showed; anything unreadable is a changed price."""
    try:
        shown = Decimal(amount)
    except InvalidOperation:
        shown = None
    if shown is None or not shown.is_finite():
        raise PriceChanged("The price changed since it was shown: check it again below.")
    return shown


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
            "zone": zone,
            "records": records_of_zone(zone=zone),
            "types": Record.Type.values,
            "subscription": subscription,
            "proxy_alias": PROXY_ALIAS,
            "proxy_ip": settings.DNS_PROXY_IP,
            "form": form or {"ttl": settings.DNS_DEFAULT_TTL},
            "error": error,
            "editing": object_id(request.GET.get("edit", "")),
        }
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
                services.record_delete(
                    customer=self.customer, record_id=record_id, actor=request.user
                )
                messages.success(request, "The record was deleted.")
            elif action == "edit":
                services.record_update(
                    customer=self.customer, record_id=record_id, actor=request.user, **data
                )
                messages.success(request, "The record was saved.")
            else:
                services.record_add(
                    customer=self.customer, zone_id=zone.pk, actor=request.user, **data
                )
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
                customer=self.customer,
                zone_id=zone.pk,
                confirm=request.POST.get("confirm", ""),
                actor=request.user,
            )
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("dns:zone_delete", pk=zone.pk)
        messages.success(request, f"{zone.name} and its records are deleted.")
        return redirect("dns:zone_list")
