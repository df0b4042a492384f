"""Client-area pages of DNS, billing's as the plan is ordered and paid through billing: the
plan (a catalogue product of the `dns` module, ordered, switched and cancelled through billing
and provisioning like any service), zones with usage against limits, a zone's record editor,
zone deletion with confirmation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from accounts.mixins import CustomerRequiredMixin, NotWhileActingMixin
from billing.services import dns_plans
from billing.services.dns_plans import PlanOffer, PlanQuote
from billing_portal.common.errors import DomainError
from billing_portal.common.forms import FORM_EXPIRED, object_id
from billing_portal.common.request import RequestMeta
from catalogue.models import BillingCycle, Product
from catalogue.selectors import products_of_module
from credits.services import credit_balance
from dnszones import services
from dnszones.delegation import demo_domains_in_use
from dnszones.errors import PriceChanged
from dnszones.forms import PlanConfirmForm
from dnszones.models import Record, Zone
from dnszones.module import NAME as DNS
from dnszones.selectors import (
    dns_allowance_for_customer,
    record_position,
    records_of_zone,
    zone_get_for_customer,
    zones_for_customer,
)
from dnszones.validation import PROXY_ALIAS
from invoices.models import Invoice
from provisioning.models import Service

MONTHLY = BillingCycle.MONTHLY


_offer = dns_plans.dns_plan_offer


def _offers(customer) -> list[PlanOffer]:
    return dns_plans.dns_plan_offers(customer=customer)


def _dns_service(customer) -> Service | None:
    return dns_plans.dns_service_of(customer)


class ZoneListView(CustomerRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        allowance = dns_allowance_for_customer(customer=self.customer)
        service = _dns_service(self.customer)
        context = {
            "allowance": allowance,
            "serving": bool(allowance and allowance.serving),
            "service": service,
            "unpaid": _unpaid_invoice(service),
            "plans": _offers(self.customer),
            "zones": zones_for_customer(customer=self.customer),
            "nameservers": settings.DNS_REQUIRED_NAMESERVERS,
            "demo_domains": demo_domains_in_use(),
        }
        return render(request, "dns/zone_list.html", context)

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action")
        try:
            if action == "cancel":
                service = dns_plans.dns_plan_cancel(customer=self.customer, actor=request.user)
                messages.success(request, f"Your plan ends on {service.ends_on:%Y-%m-%d}.")
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


def _unpaid_invoice(service: Service | None) -> Invoice | None:
    return dns_plans.dns_plan_unpaid_invoice(service)


def _plan_quote(customer, product_id: int) -> PlanQuote:
    """The quote of buying or switching to the plan (billing.services.dns_plans); Http404
    for a product that is not a DNS plan on sale."""
    try:
        return dns_plans.dns_plan_quote(customer=customer, product_id=product_id)
    except Product.DoesNotExist as exc:
        raise Http404("No such plan.") from exc


class PlanConfirmView(NotWhileActingMixin, CustomerRequiredMixin, View):
    """Buying or switching a plan: the charge (or credit), the period it covers and the
    renewal are shown first; only Confirm places the order (or the plan change), whose
    invoice account credit pays at once when it covers it."""

    acting_refused_methods = ("POST",)
    acting_refused_what = "buy or change DNS plans"
    acting_refused_redirect = "dns:zone_list"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            quote = _plan_quote(self.customer, pk)
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
        form = PlanConfirmForm(request.POST)
        if not form.is_valid():
            get_object_or_404(products_of_module(module=DNS), pk=pk)
            messages.error(request, FORM_EXPIRED)
            return redirect("dns:plan_confirm", pk=pk)
        try:
            quote = _plan_quote(self.customer, pk)
            if _shown_amount(form.cleaned_data["amount"]) != quote.amount.amount:
                raise PriceChanged("The price changed since it was shown: check it again below.")
            invoice = self._confirm(quote)
        except PriceChanged as error:  # show the new charge before anything is taken
            messages.error(request, error.message)
            return redirect("dns:plan_confirm", pk=pk)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("dns:zone_list")
        self._tell(request, quote, invoice)
        return redirect("dns:zone_list")

    def _confirm(self, quote: PlanQuote) -> Invoice | None:
        return dns_plans.dns_plan_confirm(
            customer=self.customer,
            quote=quote,
            actor=self.request.user,
            meta=RequestMeta.from_request(self.request),
        )

    def _tell(self, request: HttpRequest, quote: PlanQuote, invoice: Invoice | None) -> None:
        if invoice is None or invoice.status == Invoice.Status.PAID:
            paid = (
                f" Invoice {invoice.number} was paid from your account credit." if invoice else ""
            )
            messages.success(request, f"Your DNS plan is {quote.plan.name}.{paid}")
            return
        messages.warning(
            request,
            f"Invoice {invoice.number} for the {quote.plan.name} plan awaits payment: your "
            "account credit does not cover it. Add credit or pay it another way.",
        )


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


RECORDS_PER_PAGE = 50
SEARCH_MAX = 253  # a record name is at most this long: a longer search matches nothing


@dataclass(frozen=True)
class RecordFilter:
    """What the record list shows: names containing `name`, of `type`, page `page`. Anything
    unreadable in the URL shows every record (and page 1)."""

    name: str = ""
    type: str = ""
    page: str = ""

    @classmethod
    def from_query(cls, query) -> RecordFilter:
        # No record name holds a control character (and PostgreSQL refuses NUL in a query).
        name = "".join(c for c in query.get("q", "") if c.isprintable()).strip()[:SEARCH_MAX]
        rtype = query.get("type", "")
        page = query.get("page", "")
        return cls(
            name=name,
            type=rtype if rtype in Record.Type.values else "",
            page=page if page.isdigit() and len(page) < 10 else "",
        )

    @property
    def filtered(self) -> bool:
        return bool(self.name or self.type)

    def query(self, *, page: int | str | None = None) -> str:
        """The URL query of this filter (and `page`, by default its own)."""
        params = {"q": self.name, "type": self.type, "page": self.page if page is None else page}
        return urlencode({key: value for key, value in params.items() if value})

    def records(self, zone: Zone):
        return records_of_zone(zone=zone, name=self.name, type=self.type)


class ZoneDetailView(_ZoneMixin, View):
    """The record editor: records a page at a time (searchable by name and type), add, edit
    and delete, with validation messages in place. Forms post to the page's own URL, so
    after a change the customer is back on the page they were on (or the one the record
    they added or edited is on now)."""

    def get(self, request: HttpRequest, pk: int, form: dict | None = None, error: str = ""):
        zone = self.zone()
        shown = RecordFilter.from_query(request.GET)
        page = Paginator(shown.records(zone), RECORDS_PER_PAGE).get_page(shown.page or 1)
        total = zone.records.count() if shown.filtered else page.paginator.count
        context = {
            "zone": zone,
            "records": page.object_list,
            "page_obj": page,
            "record_count": total,
            "shown": shown,
            "query_string": RecordFilter(shown.name, shown.type).query(),
            "page_query": shown.query(page=page.number if page.number > 1 else ""),
            "types": Record.Type.values,
            "allowance": dns_allowance_for_customer(customer=self.customer),
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
        record = None
        try:
            if action == "delete":
                services.record_delete(
                    customer=self.customer, record_id=record_id, actor=request.user
                )
                messages.success(request, "The record was deleted.")
            elif action == "edit":
                record = services.record_update(
                    customer=self.customer, record_id=record_id, actor=request.user, **data
                )
                messages.success(request, "The record was saved.")
            else:
                record = services.record_add(
                    customer=self.customer, zone_id=zone.pk, actor=request.user, **data
                )
                messages.success(request, "The record was added.")
        except Record.DoesNotExist as exc:
            raise Http404("No such record.") from exc
        except DomainError as error:
            return self.get(request, pk, form=data, error=error.message)
        query = _page_of(zone, RecordFilter.from_query(request.GET), record)
        url = reverse("dns:zone_detail", args=[zone.pk])
        return redirect(f"{url}?{query}" if query else url)


def _page_of(zone: Zone, shown: RecordFilter, record: Record | None) -> str:
    """The query of the page to go back to: the one `record` is on, in the list shown when
    it is still in it (else in all records); the page shown when there is no record (after a
    delete: a page past the end shows the last)."""
    if record is None:
        return shown.query()
    position = record_position(records=shown.records(zone), record=record)
    if position is None:
        shown = RecordFilter()
        position = record_position(records=shown.records(zone), record=record) or 0
    number = position // RECORDS_PER_PAGE + 1
    return shown.query(page=number if number > 1 else "")


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
