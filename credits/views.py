"""Client-area pages of the credits app."""

from django.views.generic import TemplateView

from accounts.mixins import CustomerRequiredMixin


class BillingOverviewView(CustomerRequiredMixin, TemplateView):
    template_name = "credits/overview.html"
