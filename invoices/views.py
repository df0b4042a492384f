"""Client-area pages of the invoices app."""

from django.views.generic import TemplateView

from accounts.mixins import CustomerRequiredMixin


class InvoiceListView(CustomerRequiredMixin, TemplateView):
    template_name = "invoices/invoice_list.html"
