"""Client-area pages of the credits app: balances, transactions (with CSV), paying with
credit."""

from __future__ import annotations

import csv
import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views import View
from django.views.generic import ListView

from accounts.mixins import CustomerRequiredMixin
from billing_portal.common.request import RequestMeta
from credits import services
from credits.errors import CreditsError
from credits.models import CreditEntry
from credits.selectors import credit_accounts_for_customer, credit_entries_for_customer
from invoices.models import Invoice


class _EntriesMixin(CustomerRequiredMixin):
    def kind(self) -> str | None:
        kind = self.request.GET.get("kind") or None
        return kind if kind in CreditEntry.Kind.values else None

    def get_queryset(self):
        return credit_entries_for_customer(customer=self.customer, kind=self.kind())


class BillingOverviewView(_EntriesMixin, ListView):
    template_name = "credits/overview.html"
    context_object_name = "entries"
    paginate_by = 20

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        accounts = list(credit_accounts_for_customer(customer=self.customer))
        preferred = self.customer.preferred_currency
        context["balance"] = next(
            (a.balance for a in accounts if a.currency == preferred),
            services.credit_balance(customer=self.customer, currency=preferred),
        )
        context["other_balances"] = [a.balance for a in accounts if a.currency != preferred]
        context["kind"] = self.kind()
        context["kinds"] = CreditEntry.Kind.choices
        context["query_string"] = f"kind={self.kind()}" if self.kind() else ""
        return context


class TransactionsCsvView(_EntriesMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="credit-transactions.csv"'
        writer = csv.writer(response)
        writer.writerow(["date (UTC)", "kind", "description", "amount", "currency",
                         "balance after", "reference"])  # fmt: skip
        for entry in self.get_queryset().iterator():
            writer.writerow([
                entry.created_at.strftime("%Y-%m-%d %H:%M:%S"), entry.get_kind_display(),
                entry.description, entry.amount.amount, entry.currency,
                entry.balance_after.amount, entry.payment_reference,
            ])  # fmt: skip
        return response


class PayInvoiceWithCreditView(CustomerRequiredMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not Invoice.objects.filter(pk=pk, customer=self.customer).exists():
            raise Http404("No such invoice.")
        # The form's nonce makes a double submission one payment.
        nonce = request.POST.get("nonce") or uuid.uuid4().hex
        try:
            entry = services.credit_pay_invoice(
                customer=self.customer,
                invoice_id=pk,
                idempotency_key=f"invoice:{pk}:apply:{nonce}",
                actor=request.user,
                meta=RequestMeta.from_request(request),
            )
        except CreditsError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{-entry.amount} of account credit was applied.")
        return redirect("invoices:invoice_detail", pk=pk)
