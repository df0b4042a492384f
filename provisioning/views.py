"""Client-area pages of the provisioning app."""

from django.views.generic import TemplateView

from accounts.mixins import CustomerRequiredMixin


class ServiceListView(CustomerRequiredMixin, TemplateView):
    template_name = "provisioning/service_list.html"
