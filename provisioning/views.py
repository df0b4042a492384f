"""Client-area pages of the provisioning app: the services list, a service's page (status,
plan, next due date, location, credentials), and the panel login link."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import DetailView, ListView

from accounts.mixins import CustomerRequiredMixin
from billing_portal.common.errors import DomainError
from billing_portal.common.forms import message_form_errors
from provisioning.errors import PanelError
from provisioning.forms import PlanChangeForm
from provisioning.models import Service
from provisioning.selectors import (
    service_get_for_customer,
    service_list_for_customer,
    site_plan_for,
)
from provisioning.services import (
    plan_change_quote,
    plan_change_request,
    plan_change_targets,
    service_login_url,
    service_option_quantities,
)


class ServiceListView(CustomerRequiredMixin, ListView):
    template_name = "provisioning/service_list.html"
    context_object_name = "services"
    paginate_by = 20

    def get_queryset(self):
        return service_list_for_customer(customer=self.customer)

    def get_context_data(self, **kwargs) -> dict:
        from payments.gateways.registry import checkout_gateway

        context = super().get_context_data(**kwargs)
        context["paypal_enabled"] = checkout_gateway("paypal") is not None
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


class ServiceDetailView(_ServiceMixin, DetailView):
    template_name = "provisioning/service_detail.html"
    context_object_name = "service"

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        service = self.object
        secrets = service.secrets if service.status == "active" else {}
        # ("support_key", ...) -> ("Support key", ...), for display only
        context["credentials"] = [
            (name, name.replace("_", " ").capitalize(), value) for name, value in secrets.items()
        ]
        context["site_plan"] = site_plan_for(service=service)
        return context


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


class ServicePlanChangeView(_ServiceMixin, View):
    """Other plans with their prorated price for the rest of the period; choosing one
    upgrades (pay the invoice) or downgrades (credited, applied at once)."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = self.get_object()
        quotes, problem = [], ""
        try:
            quotes = [plan_change_quote(service=service, to_product=target)
                      for target in plan_change_targets(service=service)]  # fmt: skip
        except DomainError as error:
            problem = error.message
        current = service_option_quantities(service)
        add_ons = [(option, current.get(option.pk, 0))
                   for option in service.product.options.all()]  # fmt: skip
        context = {"service": service, "quotes": quotes, "problem": problem, "add_ons": add_ons}
        return render(request, "provisioning/service_change.html", context)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = self.get_object()
        form = PlanChangeForm(request.POST, service=service)
        if not form.is_valid():
            message_form_errors(request, form)
            return redirect("provisioning:service_change", pk=service.pk)
        try:
            change = plan_change_request(
                customer=self.customer, service_id=service.pk,
                to_product_id=form.cleaned_data["product"].pk, actor=request.user,
                option_quantities=form.option_quantities(),
            )  # fmt: skip
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
        messages.success(request, f"Your service now has the {change.to_product.name} plan "
                                  f"and the add-ons you chose.{note}")  # fmt: skip
        return redirect("provisioning:service_detail", pk=service.pk)
