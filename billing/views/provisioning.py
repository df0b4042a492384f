"""Client-area service pages: the services list, a service's page (status, plan, next due
date, location, credentials), the panel login link and plan changes. Plan changes and card
subscriptions are billing's and payments' flows, so the pages are billing's (they were
provisioning's until issue 13); templates stay under provisioning/."""

from urllib.parse import urlsplit

from csp.decorators import csp_update
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import DetailView, ListView

from accounts.mixins import CustomerRequiredMixin, NotWhileActingMixin
from billing import services as billing
from billing.services.site_domains import site_zone_names
from billing_portal.common.errors import DomainError
from billing_portal.common.forms import message_form_errors
from invoices.selectors import service_unpaid_invoices
from provisioning.errors import NoServerCapacity, PanelError, PlanNotAvailable
from provisioning.forms import PlanChangeForm
from provisioning.models import ProvisioningOperation, Service
from provisioning.selectors import (
    service_get_for_customer,
    service_list_for_customer,
    service_operation_for_customer,
    service_suspension_reason,
    site_plan_for,
)
from provisioning.services import (
    plan_change_quote,
    plan_change_targets,
    service_login_url,
    service_option_quantities,
)
from provisioning.services.actions import service_page_context, service_recent_actions_shown


class ServiceListView(CustomerRequiredMixin, ListView):
    template_name = "provisioning/service_list.html"
    context_object_name = "services"
    paginate_by = 20

    def status(self) -> str | None:
        """The dashboard links here by status; anything else lists every service."""
        status = self.request.GET.get("status") or None
        return status if status in Service.Status.values else None

    def get_queryset(self):
        return service_list_for_customer(customer=self.customer, status=self.status())

    def get_context_data(self, **kwargs) -> dict:
        from payments.gateways import registry
        from payments.gateways.base import Subscriptions

        context = super().get_context_data(**kwargs)
        status = self.status()
        context["status_label"] = Service.Status(status).label if status else ""
        context["query_string"] = f"status={status}" if status else ""
        context["paypal_enabled"] = registry.gateway_with(Subscriptions) is not None
        for service in context["services"]:  # from the prefetched rows: no extra queries
            service.paypal_subscription = next(
                (s for s in service.gateway_subscriptions.all() if s.status == "active"), None
            )
        return context


class _ServiceMixin(CustomerRequiredMixin):
    def get_object(self, queryset=None):
        try:
            return service_get_for_customer(customer=self.customer, service_id=self.kwargs["pk"])
        except Service.DoesNotExist as exc:  # another customer's, or no such service
            raise Http404("No such service.") from exc


# While a service is on its way its page asks for its status (static/js/service_status.js)
# and reloads when it changes; active, failed and every other status are final for the page.
SETTLING_STATUSES = (Service.Status.PENDING, Service.Status.PROVISIONING)
STATUS_POLL_SECONDS = 3


class ServiceDetailView(_ServiceMixin, DetailView):
    template_name = "provisioning/service_detail.html"
    context_object_name = "service"

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        service = self.object
        context["refreshes"] = service.status in SETTLING_STATUSES
        context["poll_seconds"] = STATUS_POLL_SECONDS
        secrets = service.secrets if service.status == "active" else {}
        # ("support_key", ...) -> ("Support key", ...), for display only
        context["credentials"] = [
            (name, name.replace("_", " ").capitalize(), value) for name, value in secrets.items()
        ]
        context["site_plan"] = site_plan_for(service=service)
        context.update(service_page_context(service))
        if str(context.get("self_service_template", "")).endswith("/wordpress.html"):
            # its custom domains can be set up through these zones in one click
            context["site_dns_zones"] = site_zone_names(customer=self.customer)
        if service.status == Service.Status.SUSPENDED:  # why, and the invoice to pay
            context["suspension_reason"] = service_suspension_reason(service=service)
            context["unpaid_invoices"] = service_unpaid_invoices(
                customer=self.customer, service_id=service.pk
            )
        context["recent_actions"] = service_recent_actions_shown(service=service)
        context["watched"] = self._watched_operation(service)
        return context

    def _watched_operation(self, service: Service) -> dict | None:
        """The action the customer just started (?op=), shown in the status box; the page
        polls it with htmx, or a reload shows its new state."""
        from billing.views.self_service import operation_context

        raw = self.request.GET.get("op", "")
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):  # a bigint at most
            return None
        try:
            operation = service_operation_for_customer(
                customer=self.customer, service_id=service.pk, operation_id=int(raw)
            )
        except ProvisioningOperation.DoesNotExist:
            return None
        return operation_context(operation)

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        # "Open control panel" posts to service_login, which redirects to the panel's
        # sign-on link; browsers check that redirect against this page's form-action.
        allow_panel = csp_update({"form-action": _panel_origins(self.object)})
        return allow_panel(lambda: response)()


def _panel_origins(service: Service) -> list[str]:
    """Where a panel's sign-on links land: the panel's own host (the server's API address,
    as DirectAdmin's and VirtFusion's one-time links are) or the panel URL recorded for the
    service (Pterodactyl's)."""
    urls = (service.server.base_url if service.server else "", service.panel_url)
    parts = [urlsplit(url) for url in urls if url]
    return sorted({f"{p.scheme}://{p.netloc}" for p in parts if p.scheme in ("http", "https")})


class SandboxPanelView(_ServiceMixin, DetailView):
    """The sandbox's control panel (the embedded default has no real one): what a panel
    would show of the account, for the service's owner; 404 for a service on a real panel."""

    template_name = "provisioning/sandbox_panel.html"
    context_object_name = "service"

    def get_object(self, queryset=None):
        service = super().get_object(queryset)
        if service.server is None or service.server.module != "sandbox":
            raise Http404("This service is not on the sandbox.")
        return service

    def get_context_data(self, **kwargs) -> dict:
        from provisioning.panels.registry import MODULES

        context = super().get_context_data(**kwargs)
        imitated = MODULES.get(self.object.product.module_settings.get("stands_in_for", ""))
        context["stands_in_for"] = imitated.label if imitated else ""
        return context


@method_decorator(never_cache, name="dispatch")
class ServiceStatusView(_ServiceMixin, View):
    """The service's status for its open page to follow; `final` tells it to stop asking."""

    def get(self, request: HttpRequest, pk: int) -> JsonResponse:
        service = self.get_object()
        return JsonResponse(
            {
                "status": service.status,
                "label": service.get_status_display(),
                "final": service.status not in SETTLING_STATUSES,
            }
        )


class ServiceLoginView(_ServiceMixin, View):
    """Single sign-on where the panel offers it, else its login page; fetched on click so
    one-time links are fresh."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = self.get_object()
        try:
            url = service_login_url(service=service)
        except PanelError as error:
            messages.error(request, f"The control panel cannot be reached right now: {error}")
            return redirect("provisioning:service_detail", pk=service.pk)
        if not url:
            messages.error(request, "This service has no control panel to log in to.")
            return redirect("provisioning:service_detail", pk=service.pk)
        return redirect(url)


class ServicePlanChangeView(NotWhileActingMixin, _ServiceMixin, View):
    """Other plans with their prorated price for the rest of the period; choosing one
    upgrades (pay the invoice) or downgrades (credited, applied at once)."""

    acting_refused_methods = ("POST",)
    acting_refused_what = "change plans"
    acting_refused_redirect = "provisioning:service_list"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = self.get_object()
        quotes, unavailable, problem = [], [], ""
        try:
            for target in plan_change_targets(service=service):
                try:
                    quotes.append(plan_change_quote(service=service, to_product=target))
                except (NoServerCapacity, PlanNotAvailable) as error:  # this plan, not the rest
                    unavailable.append((target, error.message))
        except DomainError as error:
            problem = error.message
        current = service_option_quantities(service)
        add_ons = [(option, current.get(option.pk, 0)) for option in service.product.options.all()]
        context = {
            "service": service,
            "quotes": quotes,
            "unavailable": unavailable,
            "problem": problem,
            "add_ons": add_ons,
        }
        return render(request, "provisioning/service_change.html", context)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = self.get_object()
        form = PlanChangeForm(request.POST, service=service)
        if not form.is_valid():
            message_form_errors(request, form)
            return redirect("provisioning:service_change", pk=service.pk)
        try:
            change = billing.plan_change_request(
                customer=self.customer,
                service_id=service.pk,
                to_product_id=form.cleaned_data["product"].pk,
                actor=request.user,
                option_quantities=form.option_quantities(),
            )
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("provisioning:service_change", pk=service.pk)
        except Service.DoesNotExist as exc:
            raise Http404("No such service.") from exc
        if change.invoice_id:
            messages.success(request, "Pay this invoice to upgrade; the new plan starts then.")
            return redirect("invoices:invoice_detail", pk=change.invoice_id)
        credited = -change.prorated_difference
        note = f" {credited} was added to your account credit." if credited.amount > 0 else ""
        messages.success(
            request,
            f"Your service now has the {change.to_product.name} plan "
            f"and the add-ons you chose.{note}",
        )
        return redirect("provisioning:service_detail", pk=service.pk)
