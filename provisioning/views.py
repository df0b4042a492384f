"""Client-area pages of the provisioning app."""

from django.views.generic import ListView

from accounts.mixins import CustomerRequiredMixin
from provisioning.selectors import service_list_for_customer


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
