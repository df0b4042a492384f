"""Client-area invoice pages: list, detail, printable HTML and PDF download. The detail
page offers payment methods and credit (payments, credits), so the pages are billing's (they
were invoices' until issue 13); templates stay under invoices/."""

from __future__ import annotations

import uuid

from django.http import Http404, HttpResponse
from django.views.generic import DetailView, ListView

from accounts.mixins import CustomerRequiredMixin
from credits.services import credit_balance
from invoices.documents import invoice_pdf_filename, invoice_render_html, invoice_render_pdf
from invoices.models import Invoice
from invoices.selectors import (
    CUSTOMER_VISIBLE_STATUSES,
    invoice_get_for_customer,
    invoice_list_for_customer,
)
from payments.selectors import pay_methods_for_invoice, saved_cards_for_invoice


class InvoiceListView(CustomerRequiredMixin, ListView):
    template_name = "invoices/invoice_list.html"
    context_object_name = "invoices"
    paginate_by = 20

    def get_status(self) -> str | None:
        status = self.request.GET.get("status") or None
        return status if status in CUSTOMER_VISIBLE_STATUSES else None

    def get_queryset(self):
        return invoice_list_for_customer(customer=self.customer, status=self.get_status())

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        status = self.get_status()
        context["status"] = status
        context["statuses"] = [
            (value, Invoice.Status(value).label) for value in CUSTOMER_VISIBLE_STATUSES
        ]
        context["query_string"] = f"status={status}" if status else ""
        return context


class CustomerInvoiceMixin(CustomerRequiredMixin):
    def get_invoice(self) -> Invoice:
        try:
            return invoice_get_for_customer(customer=self.customer, invoice_id=self.kwargs["pk"])
        except Invoice.DoesNotExist as exc:
            raise Http404("No such invoice.") from exc


class InvoiceDetailView(CustomerInvoiceMixin, DetailView):
    template_name = "invoices/invoice_detail.html"
    context_object_name = "invoice"

    def get_object(self, queryset=None) -> Invoice:
        return self.get_invoice()

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["pay_methods"] = pay_methods_for_invoice(invoice=self.object)
        context["saved_cards"] = saved_cards_for_invoice(invoice=self.object)
        context["credit_balance"] = _credit_for(self.object)
        # One nonce per rendered page: a double-clicked "use credit" applies it once.
        context["pay_nonce"] = uuid.uuid4().hex
        return context


def _credit_for(invoice: Invoice):
    """The customer's credit in the invoice's currency, when it can pay part of it."""
    if invoice.status != Invoice.Status.UNPAID or invoice.kind == Invoice.Kind.CREDIT_PURCHASE:
        return None
    balance = credit_balance(customer=invoice.customer, currency=str(invoice.currency))
    return balance if balance.amount > 0 else None


class InvoicePrintView(CustomerInvoiceMixin, DetailView):
    def get(self, request, *args, **kwargs) -> HttpResponse:
        return HttpResponse(invoice_render_html(self.get_invoice()))


class InvoicePdfView(CustomerInvoiceMixin, DetailView):
    def get(self, request, *args, **kwargs) -> HttpResponse:
        invoice = self.get_invoice()
        response = HttpResponse(invoice_render_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice_pdf_filename(invoice)}"'
        return response
