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
