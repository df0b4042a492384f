"""Staff screens for payments: read-only records, manual payments and recorded refunds.
Recording a payment settles its invoice (billing.payment_record), so the Payment admin is
billing's; it registers payments' model, so its admin URLs (admin/payments/payment/…) and
templates stay (it was payments' until issue 13)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from djmoney.money import Money

from billing import services as billing
from billing_portal.common.admin import (
    LargeTableAdminMixin,
    ReadOnlyAdminMixin,
    autocomplete,
    permission_check,
    values_filter,
)
from billing_portal.common.errors import DomainError
from invoices.models import Invoice
from payments.gateways.registry import CHECKOUT_LABELS
from payments.models import Payment

MANUAL_METHODS = [
    (Payment.Method.BANK_TRANSFER, "Bank transfer"),
    (Payment.Method.CHEQUE, "Cheque"),
    (Payment.Method.CASH, "Cash"),
    (Payment.Method.OTHER, "Other"),
]


GATEWAYS = [*CHECKOUT_LABELS.items(), ("manual", "Recorded by staff"), ("credit", "Account credit")]


class ManualPaymentForm(forms.Form):
    # The search offers unpaid invoices only (InvoiceAdmin.get_search_results).
    invoice = forms.ModelChoiceField(
        queryset=Invoice.objects.filter(status=Invoice.Status.UNPAID).select_related("customer"),
        widget=autocomplete(Payment, "invoice"),
        help_text="Unpaid invoices only: search by number, customer name or email.",
    )
    amount = forms.DecimalField(min_value=Decimal("0.01"), max_digits=14, decimal_places=2)
    received_on = forms.DateField(initial=timezone.localdate)
    method = forms.ChoiceField(choices=MANUAL_METHODS)
    reference = forms.CharField(
        max_length=200, help_text="Bank reference, cheque number or receipt number."
    )


class RefundForm(forms.Form):
    amount = forms.DecimalField(min_value=Decimal("0.01"), max_digits=14, decimal_places=2)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    accept_shortfall = forms.BooleanField(
        required=False,
        label="Refund anyway",
        help_text="The part that cannot be taken back is listed as a refund shortfall.",
    )
    # One per rendered form: a double submission is one refund (used by refunds to credit).
    request_key = forms.CharField(widget=forms.HiddenInput, required=False)


@admin.register(Payment)
class PaymentAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "received_at",
        "invoice",
        "customer",
        "gateway",
        "method",
        "amount",
        "status",
        "reference",
    )
    list_filter = (
        "status",
        values_filter("gateway", "gateway", lambda: GATEWAYS),
        "method",
        ("received_at", admin.DateFieldListFilter),
    )
    search_fields = ("reference", "invoice__number", "customer__name", "customer__user__email")
    list_select_related = ("invoice", "customer")
    change_list_template = "admin/payments/payment/change_list.html"
    change_form_template = "admin/payments/payment/change_form.html"

    has_refund_permission = permission_check("payments.refund_payment")

    def get_urls(self):
        return [
            path(
                "record/",
                self.admin_site.admin_view(self.record_view),
                name="payments_payment_record",
            ),
            path(
                "<int:payment_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="payments_payment_refund",
            ),
            path(
                "<int:payment_id>/refund-to-credit/",
                self.admin_site.admin_view(self.credit_refund_view),
                name="payments_payment_credit_refund",
            ),
            path(
                "<int:payment_id>/refund-via-gateway/",
                self.admin_site.admin_view(self.gateway_refund_view),
                name="payments_payment_gateway_refund",
            ),
            *super().get_urls(),
        ]

    def _context(self, request: HttpRequest, title: str, **extra) -> dict:
        base = self.admin_site.each_context(request)
        return {**base, "title": title, "opts": self.model._meta, **extra}

    def record_view(self, request: HttpRequest) -> HttpResponse:
        """Record a bank transfer, cheque or cash payment; partial payments are allowed."""
        if not request.user.has_perm("payments.add_payment"):
            raise PermissionDenied
        form = ManualPaymentForm(
            request.POST or None, initial={"invoice": request.GET.get("invoice")}
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            invoice = data["invoice"]
            payment = billing.payment_record(
                invoice_id=invoice.pk,
                gateway="manual",
                reference=data["reference"].strip(),
                amount=Money(data["amount"], invoice.currency),
                method=data["method"],
                received_at=timezone.make_aware(
                    timezone.datetime.combine(data["received_on"], timezone.datetime.min.time())
                ),
                actor=request.user,
            )
            if payment.status == Payment.Status.HELD:
                held = f"Held for review: {payment.review_reason}"
                self.message_user(request, held, messages.WARNING)
            else:
                self.message_user(request, f"Payment recorded on {invoice}.", messages.SUCCESS)
            return redirect("admin:payments_payment_change", payment.pk)
        context = self._context(request, "Record a payment", form=form)
        return TemplateResponse(request, "admin/payments/payment/form.html", context)

    def refund_view(self, request: HttpRequest, payment_id: int) -> HttpResponse:
        """Record a refund made outside the portal; issues a credit note on the invoice."""
        return self._refund(
            request,
            payment_id,
            refund=billing.payment_refund_record,
            title="Record a refund of {payment}",
            done="Refund recorded.",
        )

    def gateway_refund_view(self, request: HttpRequest, payment_id: int) -> HttpResponse:
        """Refund through the payment's provider; a credit note is issued on the invoice."""
        return self._refund(
            request,
            payment_id,
            refund=billing.payment_refund_via_gateway,
            title="Refund {payment} through {payment.gateway}",
            done="Refunded; a credit note was issued.",
        )

    def credit_refund_view(self, request: HttpRequest, payment_id: int) -> HttpResponse:
        """Refund to the customer's account credit; a credit note is issued on the invoice."""

        def refund(**kwargs) -> None:
            billing.credit_refund_payment(**kwargs, request_key=request.POST.get("request_key", ""))

        return self._refund(
            request,
            payment_id,
            refund=refund,
            title="Refund {payment} to account credit",
            done="Refunded to account credit.",
        )

    def _refund(self, request, payment_id: int, *, refund, title: str, done: str) -> HttpResponse:
        if not self.has_refund_permission(request):
            raise PermissionDenied
        payment = get_object_or_404(Payment.objects.select_related("invoice"), pk=payment_id)
        form = RefundForm(request.POST or None, initial={"request_key": uuid.uuid4().hex})
        valid = request.method == "POST" and form.is_valid()
        amount = (
            Money(form.cleaned_data["amount"], payment.currency)
            if valid
            else payment.amount - payment.amount_refunded
        )
        preview = billing.purchase_refund_preview(invoice=payment.invoice, amount=amount)
        if valid and preview.needs_confirmation and not form.cleaned_data["accept_shortfall"]:
            form.add_error(
                "accept_shortfall",
                f"{preview.shortfall} cannot be taken back: tick to refund anyway.",
            )
            valid = False
        if valid:
            try:
                refund(
                    payment_id=payment.pk,
                    amount=Money(form.cleaned_data["amount"], payment.currency),
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, done, messages.SUCCESS)
                return redirect("admin:payments_payment_change", payment.pk)
        context = self._context(
            request, title.format(payment=payment), form=form, payment=payment, preview=preview
        )
        return TemplateResponse(request, "admin/payments/payment/form.html", context)
