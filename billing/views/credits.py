"""Client-area credit pages: balances, buying credit and VPS tokens, transactions (with
CSV), paying with credit. They span credits, invoices, payments and billing's purchases, so
they are billing's (they were credits' until issue 13); templates stay under credits/."""

from __future__ import annotations

import csv
import uuid

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import ListView
from djmoney.money import Money

from accounts.mixins import CustomerRequiredMixin, NotWhileActingMixin
from accounts.models import Customer
from billing import services as billing
from billing.selectors import token_purchases_for_customer
from billing_portal.common.forms import message_form_errors
from billing_portal.common.request import RequestMeta
from credits.errors import CreditsError
from credits.forms import PayWithCreditForm
from credits.models import CreditEntry
from credits.selectors import (
    credit_balances_for_customer,
    credit_debit_get_for_customer,
    credit_entries_for_customer,
)
from invoices.models import Invoice
from invoices.selectors import invoice_ids_by_number_for_customer
from payments.errors import PaymentsError
from payments.gateways.registry import CHECKOUT_LABELS, checkout_gateways_enabled
from payments.selectors import payment_list_for_customer
from payments.services import checkout_begin
from provisioning.services.tokens import token_balance_get, token_currency


class _EntriesMixin(CustomerRequiredMixin):
    def kind(self) -> str | None:
        kind = self.request.GET.get("kind") or None
        return kind if kind in CreditEntry.Kind.values else None

    def get_queryset(self):
        return credit_entries_for_customer(customer=self.customer, kind=self.kind())


class BillingOverviewView(_EntriesMixin, ListView):
    """Balances, purchase forms and two tabs: the credit ledger, and all payments."""

    template_name = "credits/overview.html"
    paginate_by = 20

    def tab(self) -> str:
        return "payments" if self.request.GET.get("tab") == "payments" else "credit"

    def get_queryset(self):
        if self.tab() == "payments":
            return payment_list_for_customer(customer=self.customer)
        return super().get_queryset()

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["tab"] = self.tab()
        if self.tab() == "credit":
            context["entries"] = _with_documents(self.customer, context["object_list"])
        else:
            context["payments"] = context["object_list"]
        context.update(self._purchase_context())
        context["balance"], context["other_balances"] = credit_balances_for_customer(
            customer=self.customer
        )
        context["kind"] = self.kind()
        context["kinds"] = CreditEntry.Kind.choices
        query = {"tab=payments"} if self.tab() == "payments" else set()
        if self.kind() and self.tab() == "credit":
            query = {f"kind={self.kind()}"}
        context["query_string"] = "&".join(query)
        return context

    def _purchase_context(self) -> dict:
        return {
            "credit_currency": self.customer.preferred_currency,
            "gateways": [(name, CHECKOUT_LABELS[name]) for name in checkout_gateways_enabled()],
            "presets": settings.CREDITS_PURCHASE_PRESETS,
            "purchase_min": settings.CREDITS_PURCHASE_MIN,
            "purchase_max": settings.CREDITS_PURCHASE_MAX,
            "token_balance": token_balance_get(customer=self.customer),
            "token_currency": token_currency(),
            "tokens_per_unit": settings.VIRTFUSION_TOKENS_PER_UNIT,
            "token_purchases": token_purchases_for_customer(customer=self.customer)[:5],
        }


def _with_documents(customer: Customer, entries) -> list[CreditEntry]:
    """Each debit gets the document the customer can open for it (`document_url`, with its
    `document_label`): the invoice it paid where there is one, else its receipt; one query."""
    entries = list(entries)
    paid = [
        e.payment_reference
        for e in entries
        if e.kind == CreditEntry.Kind.INVOICE_PAYMENT and e.payment_reference
    ]
    invoice_ids = invoice_ids_by_number_for_customer(customer=customer, numbers=paid)
    for entry in entries:
        invoice_id = invoice_ids.get(entry.payment_reference)
        if entry.kind == CreditEntry.Kind.INVOICE_PAYMENT and invoice_id:
            entry.document_url = reverse("invoices:invoice_detail", args=[invoice_id])
            entry.document_label = f"Invoice {entry.payment_reference}"
        elif entry.amount.amount < 0:
            entry.document_url = reverse("credits:receipt", args=[entry.pk])
            entry.document_label = "Receipt"
    return entries


class ReceiptView(CustomerRequiredMixin, View):
    """A printable receipt for a debit without an invoice, made from the ledger entry (which
    never changes): seller, customer, date, description, amount and the balance after."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            entry = credit_debit_get_for_customer(customer=self.customer, entry_id=pk)
        except CreditEntry.DoesNotExist as exc:
            raise Http404("No such receipt.") from exc
        context = {
            "entry": entry,
            "paid": -entry.amount,
            "customer": self.customer,
            "seller": settings.SELLER_DETAILS,
        }
        return render(request, "credits/receipt.html", context)


class TransactionsCsvView(_EntriesMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="credit-transactions.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "date (UTC)",
                "kind",
                "description",
                "amount",
                "currency",
                "balance after",
                "reference",
            ]
        )
        for entry in self.get_queryset().iterator():
            writer.writerow(
                [
                    entry.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    entry.get_kind_display(),
                    entry.description,
                    entry.amount.amount,
                    entry.currency,
                    entry.balance_after.amount,
                    entry.payment_reference,
                ]
            )
        return response


class _PurchaseView(NotWhileActingMixin, CustomerRequiredMixin, View):
    """Validate the amount, issue the purchase invoice and send the customer to the chosen
    gateway; what was bought is added when the payment is recorded."""

    acting_refused_what = "buy credit or tokens"
    acting_refused_redirect = "credits:overview"

    def currency(self) -> str:
        raise NotImplementedError

    def start(self, *, amount: Money) -> Invoice:
        raise NotImplementedError

    def post(self, request: HttpRequest) -> HttpResponse:
        gateway = request.POST.get("gateway", "")
        if gateway not in checkout_gateways_enabled():
            messages.error(request, "Choose a payment method.")
            return redirect("credits:overview")
        try:
            raw = request.POST.get("preset") or request.POST.get("amount", "")
            if not raw.strip():
                raise CreditsError("Enter the amount to buy.")
            amount = billing.purchase_amount_parse(raw, currency=self.currency())
            invoice = self.start(amount=amount)
        except CreditsError as error:
            messages.error(request, error.message)
            return redirect("credits:overview")
        try:
            url = checkout_begin(
                invoice=invoice, gateway_name=gateway, base_url=request.build_absolute_uri("/")
            )
        except PaymentsError as error:
            messages.error(request, error.message)
            return redirect("invoices:invoice_detail", pk=invoice.pk)
        return redirect(url)


class BuyCreditView(_PurchaseView):
    def currency(self) -> str:
        return self.customer.preferred_currency

    def start(self, *, amount: Money) -> Invoice:
        return billing.credit_purchase_start(
            customer=self.customer, amount=amount, actor=self.request.user
        )


class BuyTokensView(_PurchaseView):
    def currency(self) -> str:
        return token_currency()

    def start(self, *, amount: Money) -> Invoice:
        return billing.token_purchase_start(
            customer=self.customer, amount=amount, actor=self.request.user
        )


class PayInvoiceWithCreditView(NotWhileActingMixin, CustomerRequiredMixin, View):
    acting_refused_what = "pay invoices"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not Invoice.objects.filter(pk=pk, customer=self.customer).exists():
            raise Http404("No such invoice.")
        form = PayWithCreditForm(request.POST)
        if not form.is_valid():
            message_form_errors(request, form)
            return redirect("invoices:invoice_detail", pk=pk)
        # The form's nonce makes a double submission one payment.
        nonce = form.cleaned_data["nonce"] or uuid.uuid4().hex
        try:
            entry = billing.credit_pay_invoice(
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
